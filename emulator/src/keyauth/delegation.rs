//! User delegation keys and user delegation SAS
//! (learn.microsoft.com/rest/api/storageservices/get-user-delegation-key and
//! create-user-delegation-sas).
//!
//! A key is derived, not stored: its value is the HMAC-SHA256, under the account key, of the
//! account and the key's signed fields (`skoid`, `sktid`, `skt`, `ske`, `skv`, `skdutid`). So
//! the same request gets the same key, as on the service, and a SAS carries all a verifier
//! needs to recompute the key it was signed with.
//!
//! The string to sign of a user delegation SAS grows with the signed version (`sv`):
//! `saoid`, `suoid` and `scid` from 2020-02-10, `ses` from 2020-12-06, `skdutid` and
//! `sduoid` from 2025-07-05, and the signed request headers and query parameters (`srh`,
//! `srq`) from 2026-04-06.

/// The first version whose string to sign has `saoid`, `suoid` and `scid`.
const WITH_AGENT: &str = "2020-02-10";
/// The first version whose string to sign has `ses`.
const WITH_ENCRYPTION_SCOPE: &str = "2020-12-06";
/// The first version whose string to sign has `skdutid` and `sduoid`.
const WITH_DELEGATED_USER: &str = "2025-07-05";
/// The first version whose string to sign has the signed request headers and parameters.
const WITH_SIGNED_REQUEST: &str = "2026-04-06";

/// The signed fields of a user delegation key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyFields<'a> {
    /// The storage account the key is for.
    pub account: &'a str,
    /// `SignedOid`: the object ID of the principal that asked for it.
    pub oid: &'a str,
    /// `SignedTid`: that principal's tenant.
    pub tid: &'a str,
    /// `SignedStart`, as the answer shows it.
    pub start: &'a str,
    /// `SignedExpiry`, as the answer shows it.
    pub expiry: &'a str,
    /// `SignedVersion`.
    pub version: &'a str,
    /// `SignedDelegatedUserTid` (empty when not asked for).
    pub delegated_tid: &'a str,
}

impl KeyFields<'_> {
    /// The key's value (base64), derived from the account key and its fields.
    pub(crate) fn value(&self) -> String {
        let text = [
            "user-delegation-key",
            self.account,
            self.oid,
            self.tid,
            self.start,
            self.expiry,
            self.version,
            self.delegated_tid,
        ]
        .join("\n");
        super::sign(&text)
    }
}

/// The string to sign of a user delegation SAS: `get` reads the SAS's parameters,
/// `resource` is the canonical resource (`/blob/{account}/{container}[/{path}]`), and
/// `signed_headers` / `signed_query` the `name:value` pairs of the request's headers and
/// query parameters that `srh` and `srq` name.
pub(crate) fn string_to_sign<'a>(
    get: &dyn Fn(&str) -> &'a str,
    resource: &str,
    signed_headers: &[(String, String)],
    signed_query: &[(String, String)],
) -> String {
    let version = get("sv");
    let mut fields: Vec<String> = ["sp", "st", "se"]
        .iter()
        .map(|n| get(n).to_string())
        .collect();
    fields.push(resource.to_string());
    for name in ["skoid", "sktid", "skt", "ske", "sks", "skv"] {
        fields.push(get(name).to_string());
    }
    if version >= WITH_AGENT {
        for name in ["saoid", "suoid", "scid"] {
            fields.push(get(name).to_string());
        }
    }
    if version >= WITH_DELEGATED_USER {
        fields.push(get("skdutid").to_string());
        fields.push(get("sduoid").to_string());
    }
    for name in ["sip", "spr", "sv", "sr", "snapshot"] {
        fields.push(get(name).to_string());
    }
    if version >= WITH_ENCRYPTION_SCOPE {
        fields.push(get("ses").to_string());
    }
    if version >= WITH_SIGNED_REQUEST {
        // Headers: one `name:value` line each; parameters: each on a line of its own after
        // a line break.
        let headers: String = signed_headers
            .iter()
            .map(|(n, v)| format!("{n}:{v}\n"))
            .collect();
        let query: String = signed_query
            .iter()
            .map(|(n, v)| format!("\n{n}:{v}"))
            .collect();
        fields.push(headers);
        fields.push(query);
    }
    for name in ["rscc", "rscd", "rsce", "rscl", "rsct"] {
        fields.push(get(name).to_string());
    }
    fields.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyauth::{sign_with, signed_with};

    fn fields(start: &str) -> KeyFields<'_> {
        KeyFields {
            account: "acct",
            oid: "o",
            tid: "t",
            start,
            expiry: "2030-01-01T00:00:00Z",
            version: "2026-10-06",
            delegated_tid: "",
        }
    }

    #[test]
    fn a_key_is_the_same_for_the_same_fields_only() {
        let a = fields("2029-01-01T00:00:00Z");
        assert_eq!(a.value(), a.clone().value());
        assert_ne!(a.value(), fields("2029-01-01T00:00:01Z").value());
        assert_ne!(
            a.value(),
            KeyFields {
                account: "other",
                ..a.clone()
            }
            .value()
        );
        let sig = sign_with(&a.value(), "text");
        assert!(signed_with(&a.value(), "text", &sig));
        assert!(!signed_with(&a.value(), "text2", &sig));
        assert!(!signed_with("not base64!", "text", &sig));
    }

    #[test]
    fn the_string_to_sign_follows_the_version() {
        let old = |n: &str| match n {
            "sv" => "2019-02-02",
            "sp" => "r",
            "skoid" => "o",
            "saoid" => "agent",
            _ => "",
        };
        let sts = string_to_sign(&old, "/blob/a/c", &[], &[]);
        // sp st se res skoid sktid skt ske sks skv sip spr sv sr snapshot rscc..rsct
        assert_eq!(
            sts,
            "r\n\n\n/blob/a/c\no\n\n\n\n\n\n\n\n2019-02-02\n\n\n\n\n\n\n"
        );
        assert!(!sts.contains("agent"), "saoid is signed from 2020-02-10 on");
        let new = |n: &str| match n {
            "sv" => "2026-10-06",
            "saoid" => "agent",
            "skdutid" => "dt",
            _ => "",
        };
        let sts = string_to_sign(
            &new,
            "/blob/a/c",
            &[("h1".into(), "v1".into()), ("h2".into(), "v2".into())],
            &[("q".into(), "x".into())],
        );
        assert!(sts.contains("\nagent\n\n\ndt\n\n"), "{sts:?}");
        assert!(sts.ends_with("h1:v1\nh2:v2\n\n\nq:x\n\n\n\n\n"), "{sts:?}");
    }
}
