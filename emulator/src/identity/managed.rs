//! The managed identity endpoints of the emulated Azure resource: IMDS's
//! (`GET /metadata/identity/oauth2/token`, header `Metadata: true`, api-version 2018-02-01)
//! and App Service's (`GET /msi/token`, header `X-IDENTITY-HEADER`, api-version
//! 2019-08-01), with their answers (`expires_in` and `expires_on` as strings) and errors.
//! Served on the login listener (loopback): nothing ever reaches 169.254.169.254.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::{IdentityState, issue, json_response};
use crate::config::well_known;
use crate::timefmt;

fn error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
        &[],
    )
}

/// IMDS: `Metadata: true` is required.
pub(super) async fn imds(
    State(state): State<Arc<IdentityState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required metadata header not specified",
        );
    }
    answer(&state, &query)
}

/// App Service: `X-IDENTITY-HEADER` must be the resource's `IDENTITY_HEADER`.
pub(super) async fn app_service(
    State(state): State<Arc<IdentityState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        != Some(well_known::IDENTITY_HEADER)
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "The X-IDENTITY-HEADER header is missing or wrong",
        );
    }
    answer(&state, &query)
}

fn answer(state: &IdentityState, query: &HashMap<String, String>) -> Response {
    if query.get("api-version").is_none_or(|v| v.is_empty()) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        );
    }
    let Some(resource) = query.get("resource").filter(|r| !r.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    };
    let client_id = query.get("client_id").map(String::as_str);
    let Some(app) = state.directory.managed_identity(client_id) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Identity not found",
        );
    };
    let lifetime = state.token_lifetime.get();
    let now = timefmt::unix_secs(SystemTime::now());
    let secs = lifetime.as_secs().saturating_sub(1);
    let body = json!({
        "access_token": issue(&app.tenant_id, &app.client_id, resource, lifetime),
        "client_id": app.client_id,
        "expires_in": secs.to_string(),
        "expires_on": (now + secs).to_string(),
        "ext_expires_in": secs.to_string(),
        "not_before": now.to_string(),
        "resource": resource,
        "token_type": "Bearer",
    });
    json_response(StatusCode::OK, &body, &[])
}
