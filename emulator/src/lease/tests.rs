use super::*;

const ID: &str = "4cf4e284-f6a8-4540-b53e-c3469af032dc";
const OTHER: &str = "00000000-1111-2222-3333-444444444444";
const T: u64 = 1_700_000_000 * NANOS;

fn code(result: Result<impl std::fmt::Debug, ServiceError>) -> &'static str {
    result.unwrap_err().code
}

#[test]
fn a_fixed_lease_expires_and_can_be_renewed_by_its_holder() {
    let mut slot = None;
    acquire(&mut slot, Some(ID.into()), Some(15), T).unwrap();
    assert_eq!(state(slot.as_ref(), T + 14 * NANOS), State::Leased);
    assert_eq!(describe(slot.as_ref(), T).duration, Some("fixed"), "leased");
    let later = T + 15 * NANOS;
    assert_eq!(state(slot.as_ref(), later), State::Expired);
    assert_eq!(describe(slot.as_ref(), later).status, "unlocked");
    renew(&mut slot, ID, later).unwrap();
    assert_eq!(state(slot.as_ref(), later + 14 * NANOS), State::Leased);
    assert_eq!(
        code(renew(&mut slot, OTHER, later)),
        "LeaseIdMismatchWithLeaseOperation"
    );
}

#[test]
fn only_the_holder_acquires_again_and_an_expired_lease_is_free() {
    let mut slot = None;
    acquire(&mut slot, Some(ID.into()), None, T).unwrap();
    assert_eq!(describe(slot.as_ref(), T).duration, Some("infinite"));
    assert_eq!(
        code(acquire(&mut slot, Some(OTHER.into()), None, T)),
        "LeaseAlreadyPresent"
    );
    acquire(&mut slot, Some(ID.to_uppercase()), Some(30), T).unwrap();
    let after = T + 31 * NANOS;
    acquire(&mut slot, Some(OTHER.into()), Some(15), after).unwrap();
    assert_eq!(slot.as_ref().unwrap().id, OTHER);
}

#[test]
fn writes_must_name_the_active_lease() {
    let mut slot = None;
    assert!(check(slot.as_ref(), None, true, T).is_ok());
    assert_eq!(
        code(check(slot.as_ref(), Some(ID), true, T)),
        "LeaseNotPresent"
    );
    acquire(&mut slot, Some(ID.into()), Some(15), T).unwrap();
    assert_eq!(code(check(slot.as_ref(), None, true, T)), "LeaseIdMissing");
    assert!(check(slot.as_ref(), None, false, T).is_ok(), "reads pass");
    assert_eq!(
        code(check(slot.as_ref(), Some(OTHER), false, T)),
        "LeaseIdMismatch"
    );
    assert!(check(slot.as_ref(), Some(ID), true, T).is_ok());
    let expired = T + 20 * NANOS;
    assert!(check(slot.as_ref(), None, true, expired).is_ok());
    assert_eq!(
        code(check(slot.as_ref(), Some(ID), true, expired)),
        "LeaseLost"
    );
}

#[test]
fn break_change_and_release() {
    let mut slot = None;
    assert_eq!(
        code(break_lease(&mut slot, None, T)),
        "LeaseNotPresentWithLeaseOperation"
    );
    acquire(&mut slot, Some(ID.into()), Some(60), T).unwrap();
    change(&mut slot, ID, OTHER.into(), T).unwrap();
    change(&mut slot, ID, OTHER.into(), T).unwrap();
    assert_eq!(slot.as_ref().unwrap().id, OTHER);
    assert_eq!(break_lease(&mut slot, Some(10), T).unwrap(), 10);
    assert_eq!(state(slot.as_ref(), T + 5 * NANOS), State::Breaking);
    assert_eq!(
        code(acquire(&mut slot, Some(ID.into()), None, T)),
        "LeaseIsBreakingAndCannotBeAcquired"
    );
    assert_eq!(
        code(change(&mut slot, OTHER, ID.into(), T)),
        "LeaseIsBreakingAndCannotBeChanged"
    );
    assert_eq!(
        code(renew(&mut slot, OTHER, T)),
        "LeaseIsBrokenAndCannotBeRenewed"
    );
    assert_eq!(state(slot.as_ref(), T + 10 * NANOS), State::Broken);
    assert_eq!(
        code(release(&mut slot, ID)),
        "LeaseIdMismatchWithLeaseOperation"
    );
    release(&mut slot, OTHER).unwrap();
    assert_eq!(state(slot.as_ref(), T), State::Available);
}

#[test]
fn append_and_flush_actions() {
    let mut slot = None;
    let acquire = WriteLease {
        action: Some(WriteAction::Acquire),
        proposed: Some(ID.into()),
        duration: Some(30),
        ..WriteLease::default()
    };
    assert_eq!(acquire.begin(&mut slot, T).unwrap().as_deref(), Some(ID));
    acquire.finish(&mut slot);
    assert_eq!(describe(slot.as_ref(), T).duration, Some("fixed"));
    let unnamed = WriteLease::default();
    assert_eq!(code(unnamed.begin(&mut slot, T)), "LeaseIdMissing");
    let renew = WriteLease {
        action: Some(WriteAction::AutoRenew),
        id: Some(ID.into()),
        ..WriteLease::default()
    };
    let later = T + 40 * NANOS;
    assert_eq!(state(slot.as_ref(), later), State::Expired);
    renew.begin(&mut slot, later).unwrap();
    assert_eq!(state(slot.as_ref(), later), State::Leased);
    let release = WriteLease {
        action: Some(WriteAction::Release),
        id: Some(ID.into()),
        ..WriteLease::default()
    };
    let flush = release.for_flush(release.begin(&mut slot, later).unwrap());
    assert_eq!(flush.action, Some(WriteAction::Release));
    flush.begin(&mut slot, later).unwrap();
    flush.finish(&mut slot);
    assert_eq!(state(slot.as_ref(), later), State::Available);
    let both = WriteLease {
        action: Some(WriteAction::AcquireRelease),
        proposed: Some(OTHER.into()),
        ..WriteLease::default()
    };
    both.begin(&mut slot, later).unwrap();
    assert_eq!(state(slot.as_ref(), later), State::Leased);
    both.finish(&mut slot);
    assert_eq!(state(slot.as_ref(), later), State::Available);
}

#[test]
fn header_values() {
    assert_eq!(parse_duration("-1").unwrap(), None);
    assert_eq!(parse_duration("15").unwrap(), Some(15));
    for bad in ["14", "61", "0", "x"] {
        assert_eq!(code(parse_duration(bad)), "InvalidHeaderValue", "{bad}");
    }
    assert_eq!(parse_id(ID).unwrap(), ID);
    assert_eq!(code(parse_id("bad_id")), "InvalidHeaderValue");
}
