//! Authorization of DFS and Blob requests: bearer tokens here, with the service's 401
//! answers; SharedKey signatures and SAS tokens in `crate::keyauth`.
//!
//! A token must verify with the emulator's key, come from a registered tenant
//! (`iss` `https://sts.windows.net/{tenant}/`), be for `https://storage.azure.com` (with or
//! without a trailing slash) and be within its lifetime. No clock skew is allowed, so a token
//! issued with a zero lifetime is expired at once (the real service allows five minutes).

use std::time::SystemTime;

use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use serde_json::Value;

use super::{DfsState, header_str};
use crate::caller::Caller;
use crate::errors::ServiceError;
use crate::identity::STORAGE_RESOURCE;
use crate::keyauth::sas::Bearer;
use crate::{jwt, timefmt};

const FAILED: &str = "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.";

fn challenge(state: &DfsState, tenant: Option<&str>) -> String {
    format!(
        "Bearer authorization_uri={}/{}/oauth2/authorize resource_id={STORAGE_RESOURCE}",
        state.authority_url,
        tenant.unwrap_or(&state.default_tenant)
    )
}

fn invalid(state: &DfsState, tenant: Option<&str>, detail: &str) -> ServiceError {
    ServiceError::new(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationInfo",
        format!("{FAILED} AuthenticationErrorDetail: {detail}"),
    )
    .with_header(header::WWW_AUTHENTICATE, challenge(state, tenant))
}

/// Checks the request's credential and tells whom the request acts as: a SharedKey signature
/// or a SAS (`crate::keyauth`), or a bearer token and that the app's role allows `method` (a
/// read-only role allows only GET and HEAD). A bearer token with a SAS beside it is checked,
/// and then the SAS (a user delegation SAS for a delegated user needs both).
pub(crate) fn authorize(
    state: &DfsState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Caller, ServiceError> {
    if let Some(verdict) = crate::keyauth::authorize(method, uri, headers, &state.directory) {
        return verdict;
    }
    let (tenant, oid) = authorize_bearer(state, method, headers)?;
    if crate::keyauth::has_sas(uri) {
        let bearer = Bearer {
            tenant: &tenant,
            oid: &oid,
        };
        return crate::keyauth::authorize_sas_with_bearer(
            method,
            uri,
            headers,
            &state.directory,
            bearer,
        );
    }
    Ok(Caller::Token { tenant, oid })
}

/// Checks the request's bearer token and the app's role; returns the token's tenant and
/// object ID.
fn authorize_bearer(
    state: &DfsState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(String, String), ServiceError> {
    let Some(authorization) = header_str(headers, "authorization").map(str::trim) else {
        return Err(ServiceError::new(
            StatusCode::UNAUTHORIZED,
            "NoAuthenticationInformation",
            FAILED,
        )
        .with_header(header::WWW_AUTHENTICATE, challenge(state, None)));
    };
    let Some(token) = authorization
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
    else {
        return Err(ServiceError::new(
            StatusCode::FORBIDDEN,
            "AuthenticationFailed",
            "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature. The emulator accepts bearer tokens from its Entra ID endpoint, SharedKey signatures and SAS tokens.",
        ));
    };
    let claims = jwt::verify(token).map_err(|e| match e {
        jwt::JwtError::Malformed => invalid(state, None, "Bearer token is malformed."),
        _ => invalid(state, None, "Signature validation failed."),
    })?;
    let tenant = claims
        .get("tid")
        .and_then(Value::as_str)
        .map(str::to_string);
    let issuer_ok = tenant.as_deref().is_some_and(|t| {
        state.directory.tenant(t) == Some(t)
            && claims.get("iss").and_then(Value::as_str)
                == Some(format!("https://sts.windows.net/{t}/").as_str())
    });
    if !issuer_ok {
        return Err(invalid(
            state,
            None,
            "Issuer validation failed. Issuer did not match.",
        ));
    }
    let tenant = tenant.expect("checked above");
    let audience = claims
        .get("aud")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if audience.trim_end_matches('/') != STORAGE_RESOURCE {
        return Err(invalid(
            state,
            Some(&tenant),
            "Audience validation failed. Audience did not match.",
        ));
    }
    let now = timefmt::unix_secs(SystemTime::now());
    let time = |name: &str| claims.get(name).and_then(Value::as_u64);
    match (time("nbf"), time("exp")) {
        (_, None) => Err(invalid(
            state,
            Some(&tenant),
            "Lifetime validation failed. The token is missing an Expiration Time.",
        )),
        (_, Some(exp)) if now >= exp => Err(invalid(
            state,
            Some(&tenant),
            "Lifetime validation failed. The token is expired.",
        )),
        (Some(nbf), _) if now < nbf => Err(invalid(
            state,
            Some(&tenant),
            "Lifetime validation failed. The token is not yet valid.",
        )),
        _ => {
            // Authenticated; now the app's role (RBAC) on the data.
            let app_id = claims
                .get("appid")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match state.directory.app(&tenant, app_id) {
                Some(app)
                    if !app.data_access
                        || (app.read_only && !matches!(*method, Method::GET | Method::HEAD)) =>
                {
                    Err(ServiceError::new(
                        StatusCode::FORBIDDEN,
                        "AuthorizationPermissionMismatch",
                        "This request is not authorized to perform this operation using this permission.",
                    ))
                }
                _ => {
                    let oid = claims
                        .get("oid")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    Ok((tenant, oid))
                }
            }
        }
    }
}
