//! Get User Delegation Key (`POST /{account}?restype=service&comp=userdelegationkey`): a key
//! for the token's principal to sign user delegation SAS with, for the `KeyInfo` window
//! asked for (`Start`, optional, and `Expiry`, at most seven days from now), and for the
//! delegated user's tenant when `DelegatedUserTid` is given. Only a bearer token may ask for
//! one. The key is derived from its fields (`crate::keyauth::delegation`), so the same
//! request gets the same key.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::tags::{child_text, invalid_xml};
use super::xml::Xml;
use super::xml_response;
use crate::caller::Caller;
use crate::dfs::{DEFAULT_VERSION, header_str};
use crate::errors::ServiceError;
use crate::keyauth::delegation::KeyFields;
use crate::keyauth::sas::parse_utc;
use crate::timefmt;

/// The longest a key lives, counted from now.
const MAX_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// `400 InvalidXmlNodeValue`: a `KeyInfo` time that is malformed or out of range.
fn invalid_node() -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "InvalidXmlNodeValue",
        "The value for one of the XML nodes is not in the correct format.",
    )
}

/// `403 AuthenticationFailed`: a key asked for with a credential other than a bearer token.
fn bearer_only() -> ServiceError {
    ServiceError::new(
        StatusCode::FORBIDDEN,
        "AuthenticationFailed",
        "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature. AuthenticationErrorDetail: Only the Bearer authentication scheme (an Entra ID token) can get a user delegation key.",
    )
}

/// The asked-for window and delegated user tenant of a `KeyInfo` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyInfo {
    /// `Start` (now when absent), as the answer shows it.
    pub start: String,
    /// `Expiry`, as the answer shows it.
    pub expiry: String,
    /// `DelegatedUserTid` (empty when absent).
    pub delegated_tid: String,
}

/// Parses and checks a `KeyInfo` document at `now`.
pub(crate) fn parse(body: &str, now: SystemTime) -> Result<KeyInfo, ServiceError> {
    let doc = roxmltree::Document::parse(body).map_err(|_| invalid_xml())?;
    let root = doc.root_element();
    if !root.has_tag_name("KeyInfo") {
        return Err(invalid_xml());
    }
    let time = |name: &str| -> Result<Option<SystemTime>, ServiceError> {
        match child_text(root, name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => parse_utc(text).map(Some).ok_or_else(invalid_node),
        }
    };
    let start = time("Start")?.unwrap_or(now);
    let expiry = time("Expiry")?.ok_or_else(|| {
        ServiceError::new(
            StatusCode::BAD_REQUEST,
            "MissingRequiredXmlNode",
            "An XML node that is required for this request is missing.",
        )
    })?;
    if expiry <= start || expiry <= now || expiry > now + MAX_LIFETIME {
        return Err(invalid_node());
    }
    Ok(KeyInfo {
        start: timefmt::iso8601_secs(start),
        expiry: timefmt::iso8601_secs(expiry),
        delegated_tid: child_text(root, "DelegatedUserTid")
            .map(str::trim)
            .unwrap_or_default()
            .to_string(),
    })
}

/// Answers Get User Delegation Key for `caller` on `account`.
pub(crate) fn get_user_delegation_key(
    caller: &Caller,
    headers: &HeaderMap,
    body: &str,
    account: &str,
) -> Result<Response, ServiceError> {
    let Caller::Token { tenant, oid } = caller else {
        return Err(bearer_only());
    };
    let info = parse(body, SystemTime::now())?;
    let version = header_str(headers, "x-ms-version").unwrap_or(DEFAULT_VERSION);
    let fields = KeyFields {
        account,
        oid,
        tid: tenant,
        start: &info.start,
        expiry: &info.expiry,
        version,
        delegated_tid: &info.delegated_tid,
    };
    let mut doc = Xml::new();
    doc.open("UserDelegationKey")
        .leaf("SignedOid", oid)
        .leaf("SignedTid", tenant)
        .leaf("SignedStart", &info.start)
        .leaf("SignedExpiry", &info.expiry)
        .leaf("SignedService", "b")
        .leaf("SignedVersion", version);
    if !info.delegated_tid.is_empty() {
        doc.leaf("SignedDelegatedUserTid", &info.delegated_tid);
    }
    doc.leaf("Value", &fields.value())
        .close("UserDelegationKey");
    Ok(xml_response(doc.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        parse_utc(text).unwrap()
    }

    #[test]
    fn key_info_is_read_and_checked() {
        let now = at("2026-12-03T07:00:00Z");
        let info = parse(
            "<KeyInfo><Start>2026-12-03T07:00:00Z</Start><Expiry>2026-12-03T08:00:00.0000000Z</Expiry></KeyInfo>",
            now,
        )
        .unwrap();
        assert_eq!(info.start, "2026-12-03T07:00:00Z");
        assert_eq!(info.expiry, "2026-12-03T08:00:00Z");
        assert_eq!(info.delegated_tid, "");
        let info = parse(
            "<KeyInfo><Expiry>2026-12-04T07:00:00Z</Expiry><DelegatedUserTid>t2</DelegatedUserTid></KeyInfo>",
            now,
        )
        .unwrap();
        assert_eq!(
            (info.start.as_str(), info.delegated_tid.as_str()),
            ("2026-12-03T07:00:00Z", "t2")
        );
        let too_long = "<KeyInfo><Expiry>2026-12-11T07:00:00Z</Expiry></KeyInfo>";
        assert_eq!(
            parse(too_long, now).unwrap_err().code,
            "InvalidXmlNodeValue"
        );
        let missing = "<KeyInfo><Start>2026-12-03T07:00:00Z</Start></KeyInfo>";
        assert_eq!(
            parse(missing, now).unwrap_err().code,
            "MissingRequiredXmlNode"
        );
        assert_eq!(
            parse("<Other/>", now).unwrap_err().code,
            "InvalidXmlDocument"
        );
    }

    #[test]
    fn only_a_token_gets_a_key() {
        let body = format!(
            "<KeyInfo><Expiry>{}</Expiry></KeyInfo>",
            timefmt::iso8601_secs(SystemTime::now() + Duration::from_secs(3600))
        );
        let e = get_user_delegation_key(&Caller::AccountKey, &HeaderMap::new(), &body, "a")
            .unwrap_err();
        assert_eq!(e.code, "AuthenticationFailed");
        let token = Caller::Token {
            tenant: "t".into(),
            oid: "o".into(),
        };
        let response = get_user_delegation_key(&token, &HeaderMap::new(), &body, "a").unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
