//! Requests authorized with the account key, verified as the service does: SharedKey
//! signatures ([`shared_key`]) and shared access signatures, account and service SAS
//! ([`sas`]), and user delegation SAS signed with a user delegation key ([`delegation`]),
//! which an Entra ID token gets from Get User Delegation Key. Every account of the emulator
//! has the published key [`crate::config::well_known::ACCOUNT_KEY`] (Azurite's
//! `devstoreaccount1` key).

pub(crate) mod delegation;
#[cfg(test)]
mod delegation_tests;
pub(crate) mod sas;
pub(crate) mod shared_key;

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha2::Sha256;

use crate::caller::Caller;
use crate::config::well_known;
use crate::errors::ServiceError;
use crate::identity::Directory;

/// The service's first sentence of an `AuthenticationFailed` answer.
const FAILED: &str = "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.";

/// `403 AuthenticationFailed`, with the service's detail.
fn authentication_failed(detail: &str) -> ServiceError {
    ServiceError::new(
        StatusCode::FORBIDDEN,
        "AuthenticationFailed",
        format!("{FAILED} AuthenticationErrorDetail: {detail}"),
    )
}

/// The base64 HMAC-SHA256 of `text` under the emulator's account key.
pub(crate) fn sign(text: &str) -> String {
    sign_with(well_known::ACCOUNT_KEY, text)
}

/// Whether `signature` (base64) is the signature of `text`, compared in constant time.
fn signed(text: &str, signature: &str) -> bool {
    signed_with(well_known::ACCOUNT_KEY, text, signature)
}

/// The base64 HMAC-SHA256 of `text` under the key `key` (base64).
pub(crate) fn sign_with(key: &str, text: &str) -> String {
    let key = BASE64.decode(key).expect("base64 key");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key");
    mac.update(text.as_bytes());
    BASE64.encode(mac.finalize().into_bytes())
}

/// Whether `signature` (base64) is the HMAC-SHA256 of `text` under the key `key` (base64),
/// compared in constant time.
pub(crate) fn signed_with(key: &str, text: &str, signature: &str) -> bool {
    let (Ok(key), Ok(given)) = (BASE64.decode(key), BASE64.decode(signature)) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key");
    mac.update(text.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// The query's parameters, names and values percent-decoded (a `+` stays a `+`).
fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The account a path-style URL names (its first segment).
fn account_of(uri: &Uri) -> &str {
    uri.path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
}

/// How a key-based request is authorized, if it is one: `Authorization: SharedKey …`, or a
/// SAS (`sig` in the query) without an `Authorization` header. `directory` knows the apps
/// that user delegation keys are for.
pub(crate) fn authorize(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    directory: &Directory,
) -> Option<Result<Caller, ServiceError>> {
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(value) => {
            let credential = value.trim().strip_prefix("SharedKey ")?;
            Some(
                shared_key::verify(method, uri, headers, credential.trim())
                    .map(|()| Caller::AccountKey),
            )
        }
        None => has_sas(uri)
            .then(|| sas::verify(method, uri, headers, &query_pairs(uri), directory, None)),
    }
}

/// Whether the request's query carries a SAS (`sig`).
pub(crate) fn has_sas(uri: &Uri) -> bool {
    query_pairs(uri).iter().any(|(n, _)| n == "sig")
}

/// Verifies the SAS of a request that also carries a bearer token (`bearer`, already
/// verified): a user delegation SAS for a delegated user (`sduoid`) is used this way.
pub(crate) fn authorize_sas_with_bearer(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    directory: &Directory,
    bearer: sas::Bearer<'_>,
) -> Result<Caller, ServiceError> {
    sas::verify(
        method,
        uri,
        headers,
        &query_pairs(uri),
        directory,
        Some(bearer),
    )
}
