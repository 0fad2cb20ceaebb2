//! Tests of user delegation SAS verification (`sas::verify` with `skoid`): signatures under
//! the derived key, the key's lifetime and app, the signed principal, the delegated user's
//! token and the signed request headers and parameters.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderValue, Method, Uri};

use super::delegation::{KeyFields, string_to_sign};
use super::query_pairs;
use super::sas::{Bearer, verify};
use super::sign_with;
use crate::caller::{Agent, Caller};
use crate::config::EntraApp;
use crate::errors::ServiceError;
use crate::identity::{Directory, object_id};
use crate::timefmt::iso8601_secs;

const TENANT: &str = "t-1";
const CLIENT: &str = "c-1";
const VERSION: &str = "2026-10-06";

fn directory(read_only: bool) -> Directory {
    Directory::new(vec![EntraApp {
        tenant_id: TENANT.into(),
        tenant_domain: None,
        client_id: CLIENT.into(),
        client_secret: "s".into(),
        data_access: true,
        read_only,
        federated: Vec::new(),
        certificates: Vec::new(),
        managed_identity: false,
    }])
}

fn hours(h: i64) -> String {
    let now = SystemTime::now();
    let d = Duration::from_secs(h.unsigned_abs() * 3600);
    iso8601_secs(if h >= 0 { now + d } else { now - d })
}

/// A user delegation SAS for `resource` with `extra` parameters (`name`, `value`), signed
/// for a key that starts at `key_start` hours from now.
fn sas(resource: &str, sr: &str, sp: &str, extra: &[(&str, &str)], key_start: i64) -> String {
    let oid = object_id(TENANT, CLIENT);
    let (skt, ske, se) = (hours(key_start), hours(key_start + 2), hours(1));
    let mut params: Vec<(&str, String)> = vec![
        ("sv", VERSION.into()),
        ("sr", sr.into()),
        ("sp", sp.into()),
        ("se", se),
        ("skoid", oid.clone()),
        ("sktid", TENANT.into()),
        ("skt", skt.clone()),
        ("ske", ske.clone()),
        ("sks", "b".into()),
        ("skv", VERSION.into()),
    ];
    params.extend(extra.iter().map(|(n, v)| (*n, v.to_string())));
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let key = KeyFields {
        account: "acct",
        oid: &oid,
        tid: TENANT,
        start: &skt,
        expiry: &ske,
        version: VERSION,
        delegated_tid: get("skdutid"),
    };
    let headers: Vec<(String, String)> = get("srh")
        .split(',')
        .filter(|n| !n.is_empty())
        .map(|n| (n.to_string(), format!("{n}-value")))
        .collect();
    let query: Vec<(String, String)> = get("srq")
        .split(',')
        .filter(|n| !n.is_empty())
        .map(|n| (n.to_string(), format!("{n}-value")))
        .collect();
    let sig = sign_with(
        &key.value(),
        &string_to_sign(&get, resource, &headers, &query),
    );
    let mut query: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
    query.push(format!(
        "sig={}",
        sig.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    ));
    query.join("&")
}

fn check(
    method: Method,
    uri: &str,
    headers: &HeaderMap,
    read_only: bool,
    bearer: Option<Bearer<'_>>,
) -> Result<Caller, ServiceError> {
    let uri: Uri = uri.parse().unwrap();
    let pairs = query_pairs(&uri);
    verify(
        &method,
        &uri,
        headers,
        &pairs,
        &directory(read_only),
        bearer,
    )
}

#[test]
fn a_user_delegation_sas_verifies_with_its_derived_key() {
    let token = sas("/blob/acct/fs/dir/a.csv", "b", "r", &[], -1);
    let uri = format!("/acct/fs/dir/a.csv?{token}");
    let caller = check(Method::GET, &uri, &HeaderMap::new(), false, None).unwrap();
    assert_eq!(caller, Caller::Delegated(None));
    // Another blob: the signature does not cover it.
    let other = format!("/acct/fs/dir/b.csv?{token}");
    let e = check(Method::GET, &other, &HeaderMap::new(), false, None).unwrap_err();
    assert_eq!(e.code, "AuthenticationFailed");
    // The permission it signs, no other.
    let e = check(Method::DELETE, &uri, &HeaderMap::new(), false, None).unwrap_err();
    assert_eq!(e.code, "AuthorizationPermissionMismatch");
    // A tampered key field changes the key.
    let tampered = uri.replace("sktid=t-1", "sktid=t-2");
    let e = check(Method::GET, &tampered, &HeaderMap::new(), false, None).unwrap_err();
    assert_eq!(e.code, "AuthenticationFailed");
}

#[test]
fn the_key_must_be_valid_and_its_app_allowed() {
    let future = sas("/blob/acct/fs", "c", "rl", &[], 1);
    let e = check(
        Method::GET,
        &format!("/acct/fs/a?{future}"),
        &HeaderMap::new(),
        false,
        None,
    )
    .unwrap_err();
    assert_eq!(e.code, "AuthenticationFailed");
    assert!(e.message.contains("user delegation key"), "{}", e.message);
    let token = sas("/blob/acct/fs", "c", "rwl", &[], -1);
    let uri = format!("/acct/fs/a?{token}");
    assert!(check(Method::GET, &uri, &HeaderMap::new(), true, None).is_ok());
    let e = check(Method::PUT, &uri, &HeaderMap::new(), true, None).unwrap_err();
    assert_eq!(
        e.code, "AuthorizationPermissionMismatch",
        "a read-only app's key"
    );
    assert!(check(Method::PUT, &uri, &HeaderMap::new(), false, None).is_ok());
}

#[test]
fn a_signed_principal_is_who_the_request_acts_as() {
    let token = sas(
        "/blob/acct/fs/d",
        "d",
        "racwdlmeop",
        &[("sdd", "1"), ("suoid", "u-1")],
        -1,
    );
    let uri = format!("/acct/fs/d/x?action=setAccessControl&{token}");
    let caller = check(Method::PATCH, &uri, &HeaderMap::new(), false, None).unwrap();
    assert_eq!(
        caller,
        Caller::Delegated(Some(Agent {
            oid: "u-1".into(),
            checked: true
        }))
    );
    let token = sas("/blob/acct/fs", "c", "r", &[("saoid", "a-1")], -1);
    let caller = check(
        Method::GET,
        &format!("/acct/fs/x?{token}"),
        &HeaderMap::new(),
        false,
        None,
    )
    .unwrap();
    assert_eq!(caller.agent(), Some("a-1"));
    assert_eq!(caller.checked_principal(), None);
}

#[test]
fn a_delegated_user_needs_its_own_token() {
    let token = sas(
        "/blob/acct/fs",
        "c",
        "rl",
        &[("skdutid", "t-9"), ("sduoid", "user-9")],
        -1,
    );
    let uri = format!("/acct/fs/x?{token}");
    let e = check(Method::GET, &uri, &HeaderMap::new(), false, None).unwrap_err();
    assert_eq!(e.code, "AuthenticationFailed");
    let someone = Bearer {
        tenant: "t-9",
        oid: "user-8",
    };
    assert!(check(Method::GET, &uri, &HeaderMap::new(), false, Some(someone)).is_err());
    let user = Bearer {
        tenant: "t-9",
        oid: "user-9",
    };
    assert!(check(Method::GET, &uri, &HeaderMap::new(), false, Some(user)).is_ok());
}

#[test]
fn signed_request_headers_and_parameters_must_be_sent() {
    let token = sas(
        "/blob/acct/fs/a",
        "b",
        "r",
        &[("srh", "h1"), ("srq", "q1")],
        -1,
    );
    let mut headers = HeaderMap::new();
    headers.insert("h1", HeaderValue::from_static("h1-value"));
    let uri = format!("/acct/fs/a?{token}&q1=q1-value");
    assert!(check(Method::GET, &uri, &headers, false, None).is_ok());
    let wrong = format!("/acct/fs/a?{token}&q1=other");
    assert!(check(Method::GET, &wrong, &headers, false, None).is_err());
    assert!(check(Method::GET, &uri, &HeaderMap::new(), false, None).is_err());
}
