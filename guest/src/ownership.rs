//! The ownership rule: the writeback's owner must own or co-own the input dataset.
//!
//! The writeback's owner is the identity the source acts as (`requester`, the Domo user behind
//! the API credentials); a job may name an `owner` only to assert it. When the source reports
//! no requester, the job's `owner` stands in. When the source knows neither owner nor
//! co-owners (a local file without metadata), the rule does not apply.

use crate::model::{DatasetInfo, Job, Ownership, Principal, SourceKind};

/// Decides the ownership rule for `job` on the dataset `info` describes; the error is the
/// message of an `ownership` job error.
pub fn decide(job: &Job, info: &DatasetInfo) -> Result<Ownership, String> {
    let what = match job.dataset.kind {
        SourceKind::Domo => "DataSet",
        SourceKind::LocalFile => "dataset",
    };
    let dataset = if info.name.is_empty() {
        format!("{what} {}", job.dataset.id)
    } else {
        format!("{what} {} ({})", job.dataset.id, info.name)
    };
    if let (Some(asserted), Some(requester)) = (&job.owner, &info.requester)
        && *asserted != requester.id
    {
        return Err(format!(
            "the job names owner {asserted}, but the source acts as user {}: a job may name \
             only the owner its source credentials belong to. Remove `owner` from the job, or \
             use the credentials of user {asserted}.",
            requester.describe()
        ));
    }
    if info.owner.is_none() && info.co_owners.is_empty() {
        return Ok(Ownership::NotApplicable(format!(
            "the source knows no owner or co-owner of {dataset}, so the ownership rule does \
             not apply"
        )));
    }
    let owners = owners_text(info);
    let Some(writeback_owner) = info.requester.clone().or_else(|| {
        job.owner.as_ref().map(|id| Principal {
            id: id.clone(),
            name: String::new(),
        })
    }) else {
        return Err(format!(
            "the source does not say which user it acts as, so the job must name `owner`: \
             an owner or co-owner of {dataset} ({owners})."
        ));
    };
    // Prefer the dataset's record of the principal (it carries the name), else the owner's.
    let named = |p: &Principal| Principal {
        id: p.id.clone(),
        name: if p.name.is_empty() {
            writeback_owner.name.clone()
        } else {
            p.name.clone()
        },
    };
    if let Some(owner) = info.owner.as_ref().filter(|o| o.id == writeback_owner.id) {
        return Ok(Ownership::Owner(named(owner)));
    }
    if let Some(co) = info.co_owners.iter().find(|c| c.id == writeback_owner.id) {
        return Ok(Ownership::CoOwner(named(co)));
    }
    Err(format!(
        "user {} is neither owner nor co-owner of {dataset}: {owners}. The writeback's owner \
         must own or co-own the input {what}.",
        writeback_owner.describe()
    ))
}

/// `its owner is 27 (Dana Domo), co-owners: none`.
fn owners_text(info: &DatasetInfo) -> String {
    let owner = match &info.owner {
        Some(o) => format!("its owner is {}", o.describe()),
        None => "it has no owner".to_owned(),
    };
    let co = if info.co_owners.is_empty() {
        "none".to_owned()
    } else {
        info.co_owners
            .iter()
            .map(Principal::describe)
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("{owner}, co-owners: {co}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample_job;

    fn p(id: &str, name: &str) -> Principal {
        Principal {
            id: id.into(),
            name: name.into(),
        }
    }

    fn info(
        owner: Option<Principal>,
        co: Vec<Principal>,
        requester: Option<Principal>,
    ) -> DatasetInfo {
        DatasetInfo {
            id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".into(),
            name: "Sales".into(),
            owner,
            co_owners: co,
            requester,
            ..DatasetInfo::default()
        }
    }

    const ID: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

    #[test]
    fn rule() {
        let dana = || Some(p("27", "Dana Domo"));
        let sam = || p("31", "Sam");
        let lee = || p("40", "Lee");
        let mismatch = |asserted: &str| {
            format!(
                "the job names owner {asserted}, but the source acts as user 31 (Sam): a job \
                 may name only the owner its source credentials belong to. Remove `owner` from \
                 the job, or use the credentials of user {asserted}."
            )
        };
        type P = Option<Principal>;
        // (job.owner, owner, co-owners, requester, expected)
        type Case<'a> = (
            Option<&'a str>,
            P,
            Vec<Principal>,
            P,
            Result<Ownership, String>,
        );
        let cases: Vec<Case> = vec![
            (
                None,
                dana(),
                vec![],
                dana(),
                Ok(Ownership::Owner(dana().unwrap())),
            ),
            (
                Some("27"),
                dana(),
                vec![],
                Some(p("27", "")),
                Ok(Ownership::Owner(dana().unwrap())),
            ),
            (
                None,
                dana(),
                vec![lee(), sam()],
                Some(sam()),
                Ok(Ownership::CoOwner(sam())),
            ),
            // No requester: the job's owner stands in, and takes its name from the dataset.
            (
                Some("31"),
                dana(),
                vec![sam()],
                None,
                Ok(Ownership::CoOwner(sam())),
            ),
            (
                None,
                dana(),
                vec![],
                Some(sam()),
                Err(format!(
                    "user 31 (Sam) is neither owner nor co-owner of DataSet {ID} (Sales): its \
                     owner is 27 (Dana Domo), co-owners: none. The writeback's owner must own \
                     or co-own the input DataSet."
                )),
            ),
            (Some("27"), dana(), vec![], Some(sam()), Err(mismatch("27"))),
            (
                None,
                None,
                vec![lee()],
                None,
                Err(format!(
                    "the source does not say which user it acts as, so the job must name \
                     `owner`: an owner or co-owner of DataSet {ID} (Sales) (it has no owner, \
                     co-owners: 40 (Lee))."
                )),
            ),
            (
                None,
                None,
                vec![],
                None,
                Ok(Ownership::NotApplicable(format!(
                    "the source knows no owner or co-owner of DataSet {ID} (Sales), so the \
                     ownership rule does not apply"
                ))),
            ),
            // A mismatch is an error even where the rule would not apply.
            (Some("1"), None, vec![], Some(sam()), Err(mismatch("1"))),
        ];
        for (i, (asserted, owner, co, requester, want)) in cases.into_iter().enumerate() {
            let mut job = sample_job();
            job.owner = asserted.map(str::to_owned);
            assert_eq!(decide(&job, &info(owner, co, requester)), want, "case {i}");
        }
    }
}
