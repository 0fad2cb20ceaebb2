//! Client assertions from a federated identity (workload identity federation): a JWT whose
//! issuer and subject match a federated credential registered for the app, for audience
//! `api://AzureADTokenExchange`, within its lifetime. The emulator cannot fetch the issuer's
//! signing keys (the issuer is a cluster's OIDC endpoint), so it checks the claims only, and
//! answers as Entra ID does (`AADSTS50027`, `AADSTS700024`, `AADSTS70021`).

use std::time::SystemTime;

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::Value;

use super::AadError;
use crate::config::EntraApp;
use crate::timefmt;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const AUDIENCE: &str = "api://AzureADTokenExchange";

fn invalid(code: u32, description: String) -> AadError {
    AadError::new(StatusCode::BAD_REQUEST, "invalid_client", code, description)
}

/// Fails unless `assertion_type` is the JWT bearer assertion type.
pub(super) fn check_type(assertion_type: Option<&String>) -> Result<(), AadError> {
    if assertion_type.map(String::as_str) != Some(ASSERTION_TYPE) {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50027,
            format!("client_assertion_type must be '{ASSERTION_TYPE}'."),
        ));
    }
    Ok(())
}

/// Checks `assertion` (of `assertion_type`) against `app`'s federated credentials.
pub(super) fn check(
    app: &EntraApp,
    assertion_type: Option<&String>,
    assertion: &str,
) -> Result<(), AadError> {
    check_type(assertion_type)?;
    let claims = assertion
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
        .ok_or_else(|| invalid(50027, "JWT token is invalid or malformed.".into()))?;
    let text = |name: &str| claims[name].as_str().unwrap_or_default().to_string();
    let (issuer, subject) = (text("iss"), text("sub"));
    let audiences: Vec<String> = match &claims["aud"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(list) => list
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let now = timefmt::unix_secs(SystemTime::now());
    let exp = claims["exp"].as_u64().unwrap_or(0);
    if now >= exp {
        return Err(invalid(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {now}, expiry time of assertion {exp}."
            ),
        ));
    }
    let registered = app
        .federated
        .iter()
        .any(|(i, s)| *i == issuer && *s == subject);
    if !registered || !audiences.iter().any(|a| a == AUDIENCE) {
        return Err(invalid(
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{}'.",
                audiences.join(",")
            ),
        ));
    }
    Ok(())
}
