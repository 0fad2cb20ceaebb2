//! The Microsoft Entra ID v2 endpoints: client-credentials token issue, OpenID configuration
//! and instance discovery, with the service's error bodies (`AADSTSnnnn`).
//!
//! Storage tokens are v1-style JWTs (`iss` `https://sts.windows.net/{tenant}/`, `aud` the scope's
//! resource) signed with the emulator's HS256 key; the DFS endpoint verifies them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use md5::{Digest, Md5};
use serde_json::{Value, json};

use crate::config::EntraApp;
use crate::{jwt, timefmt};

mod certificate;
mod federated;
mod managed;

/// The resource whose tokens the DFS endpoint accepts.
pub(crate) const STORAGE_RESOURCE: &str = "https://storage.azure.com";

/// The registered tenants and apps.
#[derive(Debug, Clone)]
pub(crate) struct Directory {
    apps: Vec<EntraApp>,
}

impl Directory {
    /// A directory of the given app registrations.
    pub(crate) fn new(apps: Vec<EntraApp>) -> Self {
        Self { apps }
    }

    /// The tenant GUID named by a GUID or a domain (case-insensitive).
    pub(crate) fn tenant(&self, id_or_domain: &str) -> Option<&str> {
        self.apps
            .iter()
            .find(|a| {
                a.tenant_id.eq_ignore_ascii_case(id_or_domain)
                    || a.tenant_domain
                        .as_deref()
                        .is_some_and(|d| d.eq_ignore_ascii_case(id_or_domain))
            })
            .map(|a| a.tenant_id.as_str())
    }

    /// The app that is the emulated resource's managed identity: the one with `client_id`,
    /// or the first one when none is named (the system-assigned identity).
    pub(crate) fn managed_identity(&self, client_id: Option<&str>) -> Option<&EntraApp> {
        self.apps.iter().find(|a| {
            a.managed_identity && client_id.is_none_or(|id| a.client_id.eq_ignore_ascii_case(id))
        })
    }

    /// The app of a tenant whose service principal has the object ID `oid`.
    pub(crate) fn principal(&self, tenant: &str, oid: &str) -> Option<&EntraApp> {
        self.apps
            .iter()
            .find(|a| a.tenant_id == tenant && object_id(tenant, &a.client_id) == oid)
    }

    /// An app of a tenant.
    pub(crate) fn app(&self, tenant: &str, client_id: &str) -> Option<&EntraApp> {
        self.apps
            .iter()
            .find(|a| a.tenant_id == tenant && a.client_id.eq_ignore_ascii_case(client_id))
    }
}

/// State of the login listener.
#[derive(Debug)]
pub(crate) struct IdentityState {
    /// Registered tenants and apps.
    pub directory: Arc<Directory>,
    /// `http://127.0.0.1:PORT` of this listener.
    pub authority_url: String,
    /// Lifetime of issued tokens (changeable at run time through the admin listener).
    pub token_lifetime: crate::faults::TokenLifetime,
}

/// Routes of the login listener.
pub(crate) fn router(state: Arc<IdentityState>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(keys))
        .route("/common/discovery/instance", get(instance_discovery))
        .route("/metadata/identity/oauth2/token", get(managed::imds))
        .route("/msi/token", get(managed::app_service))
        .with_state(state)
}

/// An `AADSTS` error answer.
#[derive(Debug)]
struct AadError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    description: String,
}

impl AadError {
    fn new(status: StatusCode, error: &'static str, code: u32, description: String) -> Self {
        Self {
            status,
            error,
            code,
            description,
        }
    }

    fn missing(parameter: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{parameter}'."),
        )
    }

    fn tenant_not_found(tenant: &str, error: &'static str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            error,
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    }

    fn render(self, authority: &str, headers: &HeaderMap) -> Response {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let timestamp = timefmt::entra_timestamp(SystemTime::now());
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.description
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("{authority}/error?code={}", self.code),
        });
        json_response(self.status, &body, &[("x-ms-request-id", trace_id)])
    }
}

fn json_response(status: StatusCode, body: &Value, extra: &[(&'static str, String)]) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response();
    for (name, value) in extra {
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(*name, value);
        }
    }
    response
}

/// Client credentials from the form or from HTTP Basic (`client_secret_basic`).
fn client_credentials(
    form: &HashMap<String, String>,
    headers: &HeaderMap,
) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(u, p)| (u.to_string(), p.to_string()))
        });
    let non_empty = |k: &str| form.get(k).filter(|v| !v.is_empty()).cloned();
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (non_empty("client_id"), non_empty("client_secret")),
    }
}

/// The resource of a client-credentials scope (`https://storage.azure.com/.default`).
fn scope_resource(scope: &str) -> Result<String, AadError> {
    let resources: Vec<&str> = scope
        .split_whitespace()
        .filter(|s| !matches!(*s, "openid" | "profile" | "offline_access" | "email"))
        .collect();
    let invalid_1002012 = |s: &str| {
        AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {s} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
    };
    match resources.as_slice() {
        [one] => match one.strip_suffix("/.default") {
            Some(resource) if !resource.is_empty() => Ok(resource.to_string()),
            Some(_) => Err(AadError::new(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                70011,
                format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
                ),
            )),
            None => Err(invalid_1002012(one)),
        },
        [] => Err(invalid_1002012(scope)),
        _ => Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        )),
    }
}

/// A stable object ID for an app's service principal.
pub(crate) fn object_id(tenant: &str, client_id: &str) -> String {
    let digest = Md5::digest(format!("{tenant}/{client_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest);
    uuid::Builder::from_md5_bytes(bytes).into_uuid().to_string()
}

/// Issues a v1 access token for `resource`.
fn issue(tenant: &str, client_id: &str, resource: &str, lifetime: Duration) -> String {
    let now = timefmt::unix_secs(SystemTime::now());
    let oid = object_id(tenant, client_id);
    let issuer = format!("https://sts.windows.net/{tenant}/");
    jwt::sign(&json!({
        "aud": resource,
        "iss": issuer,
        "iat": now.saturating_sub(300),
        "nbf": now.saturating_sub(300),
        "exp": now + lifetime.as_secs(),
        "aio": "emulator",
        "appid": client_id,
        "appidacr": "1",
        "idp": issuer,
        "oid": oid,
        "rh": "emulator",
        "sub": oid,
        "tid": tenant,
        "uti": uuid::Uuid::new_v4().simple().to_string(),
        "ver": "1.0",
    }))
}

async fn token(
    State(state): State<Arc<IdentityState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match grant(&state, &tenant, &headers, &body) {
        Ok(response) => response,
        Err(e) => e.render(&state.authority_url, &headers),
    }
}

fn grant(
    state: &IdentityState,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, AadError> {
    let tenant_id = state
        .directory
        .tenant(tenant)
        .ok_or_else(|| AadError::tenant_not_found(tenant, "invalid_request"))?
        .to_string();
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    match form.get("grant_type").map(String::as_str) {
        None | Some("") => return Err(AadError::missing("grant_type")),
        Some("client_credentials") => {}
        Some(other) => {
            return Err(AadError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{other}'."),
            ));
        }
    }
    let (client_id, client_secret) = client_credentials(&form, headers);
    let client_id = client_id.ok_or_else(|| AadError::missing("client_id"))?;
    let scope = form
        .get("scope")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| AadError::missing("scope"))?;
    let resource = scope_resource(scope)?;
    let directory_name = tenant;
    let app = state.directory.app(&tenant_id, &client_id).ok_or_else(|| {
        AadError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{directory_name}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    })?;
    if let Some(assertion) = form.get("client_assertion") {
        if certificate::is_certificate_assertion(app, assertion) {
            federated::check_type(form.get("client_assertion_type"))?;
            let endpoint = |t: &str| format!("{}/{t}/oauth2/v2.0/token", state.authority_url);
            certificate::check(app, &[endpoint(tenant), endpoint(&tenant_id)], assertion)?;
            return Ok(issued(state, &tenant_id, &app.client_id, &resource));
        }
        federated::check(app, form.get("client_assertion_type"), assertion)?;
        return Ok(issued(state, &tenant_id, &app.client_id, &resource));
    }
    let secret = client_secret.ok_or_else(|| {
        AadError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".to_string(),
        )
    })?;
    if secret != app.client_secret {
        return Err(AadError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.client_id
            ),
        ));
    }
    Ok(issued(state, &tenant_id, &app.client_id, &resource))
}

/// The v2 token endpoint's answer with a fresh token of `client_id` for `resource`.
fn issued(state: &IdentityState, tenant: &str, client_id: &str, resource: &str) -> Response {
    let lifetime = state.token_lifetime.get();
    let expires_in = lifetime.as_secs().saturating_sub(1);
    let body = json!({
        "token_type": "Bearer",
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": issue(tenant, client_id, resource, lifetime),
    });
    json_response(StatusCode::OK, &body, &[])
}

async fn openid_configuration(
    State(state): State<Arc<IdentityState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(tid) = state.directory.tenant(&tenant) else {
        return AadError::tenant_not_found(&tenant, "invalid_tenant")
            .render(&state.authority_url, &headers);
    };
    let base = format!("{}/{tid}", state.authority_url);
    let body = json!({
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["HS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/v2.0"),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "tenant_region_scope": null,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    });
    json_response(StatusCode::OK, &body, &[])
}

async fn keys() -> Response {
    // HS256 keys are symmetric and not published.
    json_response(StatusCode::OK, &json!({"keys": []}), &[])
}

/// MSAL's instance discovery (`GET /common/discovery/instance?api-version=1.1&
/// authorization_endpoint=…`): every authority on this host is known, and its tenant discovery
/// endpoint is the OpenID configuration of the tenant named in `authorization_endpoint`.
///
/// MSAL only calls this when told to use this host's endpoint (MSAL Python's
/// `instance_discovery="https://127.0.0.1:PORT/common/discovery/instance"`). By default it asks
/// `login.microsoftonline.com` about any other authority, so clients of the emulator turn
/// instance discovery off (`azure-identity`: `disable_instance_discovery=True`).
async fn instance_discovery(
    State(state): State<Arc<IdentityState>>,
    RawQuery(query): RawQuery,
) -> Response {
    let host = state
        .authority_url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_string();
    let tenant = discovery_tenant(query.as_deref()).unwrap_or_else(|| "common".to_string());
    let body = json!({
        "tenant_discovery_endpoint": format!(
            "{}/{tenant}/v2.0/.well-known/openid-configuration",
            state.authority_url
        ),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    });
    json_response(StatusCode::OK, &body, &[])
}

/// The tenant (first path segment) of the `authorization_endpoint` query parameter.
fn discovery_tenant(query: Option<&str>) -> Option<String> {
    let endpoint = form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name == "authorization_endpoint")?
        .1;
    let path = endpoint
        .split_once("://")
        .map_or(&*endpoint, |(_, rest)| rest);
    let tenant = path.split('/').nth(1)?;
    (!tenant.is_empty()).then(|| tenant.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        assert_eq!(
            scope_resource("https://storage.azure.com/.default").unwrap(),
            STORAGE_RESOURCE
        );
        assert_eq!(
            scope_resource("https://example.com/.default openid").unwrap(),
            "https://example.com"
        );
        assert_eq!(scope_resource("User.Read").err().unwrap().code, 1002012);
        assert_eq!(scope_resource("/.default").err().unwrap().code, 70011);
        assert_eq!(
            scope_resource("a/.default b/.default").err().unwrap().code,
            70011
        );
    }

    #[test]
    fn discovery_names_the_authorization_endpoints_tenant() {
        let query = "api-version=1.1&authorization_endpoint=https%3A%2F%2F127.0.0.1%3A8443%2Ft-1%2Foauth2%2Fv2.0%2Fauthorize";
        assert_eq!(discovery_tenant(Some(query)).as_deref(), Some("t-1"));
        assert_eq!(discovery_tenant(Some("api-version=1.1")), None);
        assert_eq!(discovery_tenant(None), None);
    }

    #[test]
    fn tokens_carry_v1_claims() {
        let token = issue("t1", "c1", STORAGE_RESOURCE, Duration::from_secs(60));
        let claims = jwt::verify(&token).unwrap();
        assert_eq!(claims["iss"], "https://sts.windows.net/t1/");
        assert_eq!(claims["aud"], STORAGE_RESOURCE);
        assert_eq!(claims["appid"], "c1");
        assert_eq!(claims["ver"], "1.0");
        assert_eq!(claims["oid"], object_id("t1", "c1"));
    }

    #[test]
    fn tenants_by_id_or_domain() {
        let directory = Directory::new(vec![EntraApp {
            tenant_id: "T-1".into(),
            tenant_domain: Some("contoso.onmicrosoft.com".into()),
            client_id: "c".into(),
            client_secret: "s".into(),
            data_access: true,
            read_only: false,
            federated: Vec::new(),
            certificates: Vec::new(),
            managed_identity: false,
        }]);
        assert_eq!(directory.tenant("t-1"), Some("T-1"));
        assert_eq!(directory.tenant("CONTOSO.onmicrosoft.com"), Some("T-1"));
        assert_eq!(directory.tenant("other"), None);
    }
}
