//! The Domo API: OAuth client-credentials tokens, DataSet metadata and CSV export on the public
//! API, and DataSet permissions on the instance API (developer token).
//!
//! The datasets folder and its metadata format are described on
//! [`crate::EmulatorConfig::datasets_dir`].

mod datasets;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::config::{DomoClient, DomoDeveloperToken, DomoUser};
use crate::{jwt, timefmt};

/// Scopes a Domo client may ask for.
const SCOPES: &[&str] = &["data", "user", "audit", "dashboard", "account", "workflow"];

/// State of the Domo listener.
#[derive(Debug)]
pub(crate) struct DomoState {
    /// Registered API clients.
    pub clients: Vec<DomoClient>,
    /// Registered developer tokens.
    pub developer_tokens: Vec<DomoDeveloperToken>,
    /// The datasets folder.
    pub datasets_dir: Option<PathBuf>,
    /// Lifetime of issued tokens (changeable at run time through the admin listener).
    pub token_lifetime: crate::faults::TokenLifetime,
    /// Owner of datasets whose metadata names none.
    pub default_owner: DomoUser,
    /// Cached row counts: CSV path → (modified, length, rows).
    pub row_counts: Mutex<HashMap<PathBuf, (SystemTime, u64, u64)>>,
}

/// Routes of the Domo listener.
pub(crate) fn router(state: Arc<DomoState>) -> Router {
    Router::new()
        .route("/oauth/token", get(token).post(token))
        .route("/v1/datasets", get(datasets::list))
        .route("/v1/datasets/{id}", get(datasets::describe))
        .route("/v1/datasets/{id}/data", get(datasets::export))
        .route(
            "/api/data/v3/datasources/{id}/permissions",
            get(datasets::permissions),
        )
        .with_state(state)
}

/// An error answer of the Domo API (boxed: responses are large).
#[derive(Debug)]
pub(crate) struct DomoError(Box<Response>);

impl From<Response> for DomoError {
    fn from(response: Response) -> Self {
        Self(Box::new(response))
    }
}

impl IntoResponse for DomoError {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// Domo's error body `{status, statusReason, path, message, toe}`.
pub(crate) fn error(status: StatusCode, path: &str, message: &str) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    let toe = format!("{}-{}-{}", &id[..10], &id[10..15], &id[15..20]);
    let body = json!({
        "status": status.as_u16(),
        "statusReason": status.canonical_reason().unwrap_or_default(),
        "path": path,
        "message": message,
        "toe": toe,
    });
    json_response(status, &body)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

/// An OAuth error `{error, error_description}`.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// `GET|POST /oauth/token?grant_type=client_credentials&scope=data` with HTTP Basic.
async fn token(
    State(state): State<Arc<DomoState>>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let mut params = query;
    if request.method() == Method::POST {
        let body = axum::body::to_bytes(request.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        for (k, v) in form_urlencoded::parse(&body).into_owned() {
            params.entry(k).or_insert(v);
        }
    }
    let Some((client_id, secret)) = basic_credentials(&headers) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Full authentication is required to access this resource",
        );
    };
    let Some(client) = state
        .clients
        .iter()
        .find(|c| c.client_id == client_id && c.client_secret == secret)
    else {
        return oauth_error(StatusCode::UNAUTHORIZED, "unauthorized", "Bad credentials");
    };
    match params.get("grant_type").map(String::as_str) {
        None | Some("") => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing grant type",
            );
        }
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("Unsupported grant type: {other}"),
            );
        }
    }
    let scopes: Vec<&str> = match params.get("scope") {
        Some(s) if !s.trim().is_empty() => s.split([' ', ',']).filter(|s| !s.is_empty()).collect(),
        _ => vec!["data"],
    };
    if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(s)) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("Invalid scope: {bad}"),
        );
    }
    let now = timefmt::unix_secs(SystemTime::now());
    let lifetime = state.token_lifetime.get();
    let jti = uuid::Uuid::new_v4().to_string();
    let scope = scopes.join(" ");
    let access_token = jwt::sign(&json!({
        "typ": "domo",
        "scope": scopes,
        "customer": "emulator",
        "role": "Admin",
        "userId": client.user.id,
        "userName": client.user.name,
        "client_id": client.client_id,
        "iat": now,
        "exp": now + lifetime.as_secs(),
        "jti": jti,
    }));
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": lifetime.as_secs().saturating_sub(1),
            "scope": scope,
            "customer": "emulator",
            "role": "Admin",
            "userId": client.user.id,
            "jti": jti,
        }),
    )
}

/// Checks a public-API bearer token with the `data` scope.
pub(crate) fn authorize(headers: &HeaderMap, path: &str) -> Result<(), DomoError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_string());
    let Some(token) = token else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            path,
            "Full authentication is required to access this resource",
        )
        .into());
    };
    let invalid = |description: String| {
        let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", &description);
        let challenge = format!(
            "Bearer realm=\"oauth2-resource\", error=\"invalid_token\", error_description=\"{description}\""
        );
        if let Ok(value) = challenge.parse() {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    };
    let claims = match jwt::verify(&token) {
        Ok(claims) if claims.get("typ").and_then(Value::as_str) == Some("domo") => claims,
        _ => return Err(invalid("Cannot convert access token to JSON".to_string()).into()),
    };
    let now = timefmt::unix_secs(SystemTime::now());
    if claims
        .get("exp")
        .and_then(Value::as_u64)
        .is_none_or(|exp| now >= exp)
    {
        return Err(invalid(format!("Access token expired: {token}")).into());
    }
    let has_data = claims
        .get("scope")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v == "data"));
    if !has_data {
        return Err(error(
            StatusCode::FORBIDDEN,
            path,
            "Insufficient scope for this resource",
        )
        .into());
    }
    Ok(())
}

/// The user of a valid developer token.
pub(crate) fn developer(state: &DomoState, headers: &HeaderMap) -> Option<DomoUser> {
    let token = headers.get("x-domo-developer-token")?.to_str().ok()?.trim();
    state
        .developer_tokens
        .iter()
        .find(|t| t.token == token)
        .map(|t| t.user.clone())
}
