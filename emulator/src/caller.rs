//! Who an authorized request acts as: what the credential checks of `crate::dfs::auth` and
//! `crate::keyauth` establish, and what the POSIX permission checks of the hierarchical
//! namespace (`crate::store::posix`) go by.
//!
//! As on ADLS Gen2, the account key (SharedKey, account and service SAS) and a token of an
//! app with a data role act as the superuser, for whom permission bits and ACLs are not
//! checked. A user delegation SAS acts with its key's app's role too, unless it names a
//! principal: `saoid` (authorized by the key's owner: that principal owns what it creates,
//! with no further check) or `suoid` (not authorized by the key's owner: every operation is
//! also checked against the paths' owners, groups, permission bits and ACLs for it).

/// The principal a user delegation SAS names (`saoid` or `suoid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Agent {
    /// Its Entra object ID.
    pub oid: String,
    /// Whether POSIX permission checks apply to it (`suoid`), or not (`saoid`).
    pub checked: bool,
}

/// The identity a request was authorized as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// The account key: a SharedKey signature, an account SAS or a service SAS.
    AccountKey,
    /// A bearer token (of an app whose role allows the request).
    Token {
        /// The token's tenant (`tid`).
        tenant: String,
        /// The token's principal (`oid`).
        oid: String,
    },
    /// A user delegation SAS, acting for the principal it names, if any.
    Delegated(Option<Agent>),
}

impl Caller {
    /// The object ID whose POSIX permissions every operation is checked against (`suoid`);
    /// `None` for the superuser.
    pub(crate) fn checked_principal(&self) -> Option<&str> {
        match self {
            Caller::Delegated(Some(agent)) if agent.checked => Some(&agent.oid),
            _ => None,
        }
    }

    /// The principal that owns the paths this request creates (`saoid` or `suoid`); `None`
    /// when they get the default owner.
    pub(crate) fn agent(&self) -> Option<&str> {
        match self {
            Caller::Delegated(Some(agent)) => Some(&agent.oid),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unauthorized_agent_is_checked() {
        let checked = Caller::Delegated(Some(Agent {
            oid: "o1".into(),
            checked: true,
        }));
        assert_eq!(checked.checked_principal(), Some("o1"));
        assert_eq!(checked.agent(), Some("o1"));
        let trusted = Caller::Delegated(Some(Agent {
            oid: "o2".into(),
            checked: false,
        }));
        assert_eq!(trusted.checked_principal(), None);
        assert_eq!(trusted.agent(), Some("o2"));
        assert_eq!(Caller::AccountKey.checked_principal(), None);
        assert_eq!(Caller::Delegated(None).agent(), None);
    }
}
