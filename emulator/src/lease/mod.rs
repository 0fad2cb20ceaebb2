//! Leases on files and directories, one state machine shared by the Blob API's Lease Blob
//! (`comp=lease`) and the DFS API's lease headers on create, append and flush.
//!
//! A lease is stored with its path ([`crate::store::model::PathMeta::lease`]) as its ID, its
//! duration and the instants it ends or its break ends; its state (`available`, `leased`,
//! `expired`, `breaking`, `broken`) is derived from those at the time asked, so nothing runs in
//! the background. Every function takes `now` (nanoseconds since the Unix epoch) so the rules
//! are tested without waiting.

use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::dfs::header_str;
use crate::errors::ServiceError;

const NANOS: u64 = 1_000_000_000;

/// The current time as leases count it.
pub(crate) fn now() -> u64 {
    crate::timefmt::to_nanos(std::time::SystemTime::now())
}

/// The lease on a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lease {
    /// The lease ID (a GUID).
    pub id: String,
    /// Seconds a fixed lease lasts from its acquire or renew; `None`: infinite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    /// When a fixed lease ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// When the break period of a broken lease ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<u64>,
}

/// A lease to take on a new path (`x-ms-proposed-lease-id` and `x-ms-lease-duration` at
/// create).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewLease {
    /// The lease ID asked for (`None`: a new one).
    pub proposed: Option<String>,
    /// Seconds (`None`: infinite).
    pub duration: Option<u64>,
}

/// The state of a lease as the service reports it (`x-ms-lease-state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// No lease.
    Available,
    /// Held.
    Leased,
    /// A fixed lease whose duration passed.
    Expired,
    /// Broken, still in its break period: writes still need the ID.
    Breaking,
    /// Broken and over.
    Broken,
}

impl State {
    /// The state's name in headers and listings.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Available => "available",
            State::Leased => "leased",
            State::Expired => "expired",
            State::Breaking => "breaking",
            State::Broken => "broken",
        }
    }

    /// Whether the lease holds writes (`x-ms-lease-status: locked`).
    pub(crate) fn is_active(self) -> bool {
        matches!(self, State::Leased | State::Breaking)
    }
}

/// The state of the lease in `slot` at `now`.
pub(crate) fn state(slot: Option<&Lease>, now: u64) -> State {
    match slot {
        None => State::Available,
        Some(lease) => match lease.broken_at {
            Some(end) if now < end => State::Breaking,
            Some(_) => State::Broken,
            None if lease.expires.is_some_and(|end| now >= end) => State::Expired,
            None => State::Leased,
        },
    }
}

/// `x-ms-lease-status`, `x-ms-lease-state` and (while leased) `x-ms-lease-duration` of a path.
pub(crate) fn describe(slot: Option<&Lease>, now: u64) -> LeaseView {
    let state = state(slot, now);
    LeaseView {
        status: if state.is_active() {
            "locked"
        } else {
            "unlocked"
        },
        state: state.as_str(),
        duration: match (state, slot) {
            (State::Leased, Some(lease)) if lease.duration.is_none() => Some("infinite"),
            (State::Leased, Some(_)) => Some("fixed"),
            _ => None,
        },
    }
}

/// How a path's lease shows in properties and listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LeaseView {
    /// `locked` or `unlocked`.
    pub status: &'static str,
    /// `available`, `leased`, `expired`, `breaking` or `broken`.
    pub state: &'static str,
    /// `infinite` or `fixed` while leased.
    pub duration: Option<&'static str>,
}

fn error(status: StatusCode, code: &'static str, message: &str) -> ServiceError {
    ServiceError::new(status, code, message)
}

fn already_present() -> ServiceError {
    error(
        StatusCode::CONFLICT,
        "LeaseAlreadyPresent",
        "There is already a lease present.",
    )
}

fn not_present_with_lease_operation() -> ServiceError {
    error(
        StatusCode::CONFLICT,
        "LeaseNotPresentWithLeaseOperation",
        "There is currently no lease on the resource.",
    )
}

fn mismatch_with_lease_operation() -> ServiceError {
    error(
        StatusCode::CONFLICT,
        "LeaseIdMismatchWithLeaseOperation",
        "The lease ID specified did not match the lease ID for the resource with the specified lease operation.",
    )
}

fn breaking_cannot_be_acquired() -> ServiceError {
    error(
        StatusCode::CONFLICT,
        "LeaseIsBreakingAndCannotBeAcquired",
        "The lease ID matched, but the lease is currently in breaking state and cannot be acquired until it is broken.",
    )
}

fn broken_cannot_be_renewed() -> ServiceError {
    error(
        StatusCode::CONFLICT,
        "LeaseIsBrokenAndCannotBeRenewed",
        "The lease ID matched, but the lease has been broken explicitly and cannot be renewed.",
    )
}

fn breaking_cannot_be_changed() -> ServiceError {
    error(
        StatusCode::CONFLICT,
        "LeaseIsBreakingAndCannotBeChanged",
        "The lease ID matched, but the lease is currently in breaking state and cannot be changed.",
    )
}

/// `LeaseIdMissing` (412): the path is leased and the request named no lease.
pub(crate) fn id_missing() -> ServiceError {
    error(
        StatusCode::PRECONDITION_FAILED,
        "LeaseIdMissing",
        "There is currently a lease on the resource and no lease ID was specified in the request.",
    )
}

/// `LeaseIdMismatch` (412): the request named another lease than the path's.
pub(crate) fn id_mismatch() -> ServiceError {
    error(
        StatusCode::PRECONDITION_FAILED,
        "LeaseIdMismatch",
        "The lease ID specified did not match the lease ID for the resource.",
    )
}

/// `LeaseNotPresent` (412): the request named a lease and the path has none.
pub(crate) fn not_present() -> ServiceError {
    error(
        StatusCode::PRECONDITION_FAILED,
        "LeaseNotPresent",
        "There is currently no lease on the resource.",
    )
}

/// `LeaseLost` (412): the request named the path's lease, which has expired or was broken.
pub(crate) fn lost() -> ServiceError {
    error(
        StatusCode::PRECONDITION_FAILED,
        "LeaseLost",
        "A lease ID was specified, but the lease for the resource has expired.",
    )
}

/// Checks the `x-ms-lease-id` a request names (`given`) against the path's lease: a write
/// must name the active lease; any request that names a lease must name the active one.
pub(crate) fn check(
    slot: Option<&Lease>,
    given: Option<&str>,
    write: bool,
    now: u64,
) -> Result<(), ServiceError> {
    let state = state(slot, now);
    match (slot, given) {
        (Some(lease), Some(id)) if state.is_active() => {
            if same_id(&lease.id, id) {
                Ok(())
            } else {
                Err(id_mismatch())
            }
        }
        (Some(_), None) if state.is_active() && write => Err(id_missing()),
        (Some(lease), Some(id)) if same_id(&lease.id, id) => Err(lost()),
        (_, Some(_)) => Err(not_present()),
        _ => Ok(()),
    }
}

/// Lease IDs are GUIDs: compared without regard to case.
fn same_id(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// A lease duration as `x-ms-lease-duration` gives it: `-1` (infinite, `None`) or 15 to 60
/// seconds; `InvalidHeaderValue` otherwise.
pub(crate) fn parse_duration(raw: &str) -> Result<Option<u64>, ServiceError> {
    match raw.trim().parse::<i64>() {
        Ok(-1) => Ok(None),
        Ok(secs @ 15..=60) => Ok(Some(secs as u64)),
        _ => Err(ServiceError::invalid_header_value()),
    }
}

/// A proposed lease ID: a GUID; `InvalidHeaderValue` otherwise.
pub(crate) fn parse_id(raw: &str) -> Result<String, ServiceError> {
    uuid::Uuid::parse_str(raw.trim())
        .map(|_| raw.trim().to_string())
        .map_err(|_| ServiceError::invalid_header_value())
}

/// `x-ms-lease-duration` of a request, required.
pub(crate) fn duration_header(headers: &HeaderMap) -> Result<Option<u64>, ServiceError> {
    let raw = header_str(headers, "x-ms-lease-duration")
        .ok_or_else(ServiceError::missing_required_header)?;
    parse_duration(raw)
}

/// `x-ms-proposed-lease-id` of a request, when given.
pub(crate) fn proposed_header(headers: &HeaderMap) -> Result<Option<String>, ServiceError> {
    header_str(headers, "x-ms-proposed-lease-id")
        .map(parse_id)
        .transpose()
}

/// Acquires a lease with `proposed` (or a new) ID; the holder of a lease may acquire it again
/// (with a new duration). Returns the lease ID.
pub(crate) fn acquire(
    slot: &mut Option<Lease>,
    proposed: Option<String>,
    duration: Option<u64>,
    now: u64,
) -> Result<String, ServiceError> {
    let id = proposed.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    match (state(slot.as_ref(), now), slot.as_ref()) {
        (State::Breaking, _) => return Err(breaking_cannot_be_acquired()),
        (State::Leased, Some(held)) if !same_id(&held.id, &id) => return Err(already_present()),
        _ => {}
    }
    *slot = Some(Lease {
        id: id.clone(),
        duration,
        expires: duration.map(|secs| now + secs * NANOS),
        broken_at: None,
    });
    Ok(id)
}

/// The held lease named `id`, for renew, change and release.
fn held<'a>(slot: &'a mut Option<Lease>, id: &str) -> Result<&'a mut Lease, ServiceError> {
    match slot {
        None => Err(not_present_with_lease_operation()),
        Some(lease) if !same_id(&lease.id, id) => Err(mismatch_with_lease_operation()),
        Some(lease) => Ok(lease),
    }
}

/// Renews the lease `id` (also once expired, as long as no other lease was taken since): its
/// duration starts again.
pub(crate) fn renew(slot: &mut Option<Lease>, id: &str, now: u64) -> Result<(), ServiceError> {
    let current = state(slot.as_ref(), now);
    let lease = held(slot, id)?;
    if matches!(current, State::Breaking | State::Broken) {
        return Err(broken_cannot_be_renewed());
    }
    lease.expires = lease.duration.map(|secs| now + secs * NANOS);
    Ok(())
}

/// Changes the ID of the active lease `id` to `proposed` (also when it already is `proposed`).
pub(crate) fn change(
    slot: &mut Option<Lease>,
    id: &str,
    proposed: String,
    now: u64,
) -> Result<(), ServiceError> {
    match state(slot.as_ref(), now) {
        State::Leased => {}
        State::Breaking => return Err(breaking_cannot_be_changed()),
        _ => return Err(not_present_with_lease_operation()),
    }
    let lease = slot.as_mut().expect("leased");
    if !same_id(&lease.id, id) && !same_id(&lease.id, &proposed) {
        return Err(mismatch_with_lease_operation());
    }
    lease.id = proposed;
    Ok(())
}

/// Releases the lease `id`: the path is available at once.
pub(crate) fn release(slot: &mut Option<Lease>, id: &str) -> Result<(), ServiceError> {
    held(slot, id)?;
    *slot = None;
    Ok(())
}

/// Breaks the lease: it stays active for `period` seconds (`None`: the rest of a fixed lease,
/// at once for an infinite one), never longer than a fixed lease has left. Returns the seconds
/// until it is broken (`x-ms-lease-time`).
pub(crate) fn break_lease(
    slot: &mut Option<Lease>,
    period: Option<u64>,
    now: u64,
) -> Result<u64, ServiceError> {
    let current = state(slot.as_ref(), now);
    let Some(lease) = slot.as_mut() else {
        return Err(not_present_with_lease_operation());
    };
    let end = match current {
        State::Available => return Err(not_present_with_lease_operation()),
        State::Expired | State::Broken => now,
        State::Leased | State::Breaking => {
            let left = lease.expires.map(|end| end.saturating_sub(now));
            let asked = period.map(|secs| secs * NANOS);
            let wait = match (asked, left) {
                (Some(asked), Some(left)) => asked.min(left),
                (Some(asked), None) => asked,
                (None, Some(left)) => left,
                (None, None) => 0,
            };
            let end = now + wait;
            lease.broken_at.map_or(end, |earlier| earlier.min(end))
        }
    };
    lease.broken_at = Some(end);
    Ok((end - now).div_ceil(NANOS))
}

/// `x-ms-lease-break-period`: 0 to 60 seconds.
pub(crate) fn break_period_header(headers: &HeaderMap) -> Result<Option<u64>, ServiceError> {
    header_str(headers, "x-ms-lease-break-period")
        .map(|raw| match raw.trim().parse::<u64>() {
            Ok(secs) if secs <= 60 => Ok(secs),
            _ => Err(ServiceError::invalid_header_value()),
        })
        .transpose()
}

/// `x-ms-lease-action` of an append or a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteAction {
    /// Take a lease (`x-ms-proposed-lease-id`, `x-ms-lease-duration`) for the write.
    Acquire,
    /// Renew the lease the write names.
    AutoRenew,
    /// Release the lease the write names once the data is flushed.
    Release,
    /// Take a lease for the write and release it once the data is flushed.
    AcquireRelease,
}

/// What an append or a flush does with the path's lease.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WriteLease {
    /// `x-ms-lease-action`.
    pub action: Option<WriteAction>,
    /// `x-ms-lease-id`: the lease the write is made under.
    pub id: Option<String>,
    /// `x-ms-proposed-lease-id` of an acquire.
    pub proposed: Option<String>,
    /// `x-ms-lease-duration` of an acquire.
    pub duration: Option<u64>,
}

impl WriteLease {
    /// Reads the lease headers of an append or a flush; `InvalidHeaderValue` for an unknown
    /// action, a bad duration or proposed ID.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Self, ServiceError> {
        let action = match header_str(headers, "x-ms-lease-action").map(str::trim) {
            None => None,
            Some("acquire") => Some(WriteAction::Acquire),
            Some("auto-renew") => Some(WriteAction::AutoRenew),
            Some("release") => Some(WriteAction::Release),
            Some("acquire-release") => Some(WriteAction::AcquireRelease),
            Some(_) => return Err(ServiceError::invalid_header_value()),
        };
        let acquires = matches!(
            action,
            Some(WriteAction::Acquire | WriteAction::AcquireRelease)
        );
        let duration = match header_str(headers, "x-ms-lease-duration") {
            Some(raw) => parse_duration(raw)?,
            None if acquires => return Err(ServiceError::missing_required_header()),
            None => None,
        };
        Ok(Self {
            action,
            id: header_str(headers, "x-ms-lease-id")
                .filter(|id| !id.trim().is_empty())
                .map(|id| id.trim().to_string()),
            proposed: proposed_header(headers)?,
            duration,
        })
    }

    /// Applies the lease rules before the write: checks the lease it names, or acquires or
    /// renews one. Returns the ID of the lease the write is made under, if any.
    pub(crate) fn begin(
        &self,
        slot: &mut Option<Lease>,
        now: u64,
    ) -> Result<Option<String>, ServiceError> {
        match self.action {
            None => check(slot.as_ref(), self.id.as_deref(), true, now).map(|()| self.id.clone()),
            Some(WriteAction::Acquire | WriteAction::AcquireRelease) => {
                acquire(slot, self.proposed.clone(), self.duration, now).map(Some)
            }
            Some(WriteAction::AutoRenew) => {
                let id = self.id.as_deref().ok_or_else(id_missing)?;
                renew(slot, id, now)?;
                Ok(Some(id.to_string()))
            }
            Some(WriteAction::Release) => {
                let id = self.id.as_deref().ok_or_else(id_missing)?;
                check(slot.as_ref(), Some(id), true, now)?;
                Ok(Some(id.to_string()))
            }
        }
    }

    /// Applies the lease rules once the data is flushed: releases the lease when asked.
    pub(crate) fn finish(&self, slot: &mut Option<Lease>) {
        if matches!(
            self.action,
            Some(WriteAction::Release | WriteAction::AcquireRelease)
        ) {
            *slot = None;
        }
    }

    /// The lease part of the flush that ends an append with `flush=true`, once the append
    /// began under `held`: the flush is made under that lease and releases it when asked.
    pub(crate) fn for_flush(&self, held: Option<String>) -> Self {
        let releases = matches!(
            self.action,
            Some(WriteAction::Release | WriteAction::AcquireRelease)
        );
        Self {
            action: releases.then_some(WriteAction::Release),
            id: held,
            proposed: None,
            duration: None,
        }
    }
}

#[cfg(test)]
mod tests;
