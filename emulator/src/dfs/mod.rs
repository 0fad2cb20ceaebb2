//! The ADLS Gen2 DFS endpoint with path-style URLs: `/{account}/{filesystem}/{path…}`.
//!
//! Every request is authorized first (see [`auth`]), then routed by URL depth, method and the
//! `resource`/`action` query parameters. Every answer carries `x-ms-request-id`, `x-ms-version`
//! (echoed, or the emulator's default), `Date` and `Server`. An unknown account answers 404
//! `ResourceNotFound` (the real service has no DNS name for it; path-style URLs need an answer).
//!
//! The Blob endpoint of the same accounts shares this listener, as a path-style URL gives both
//! APIs the same address: requests that carry Blob markers (see [`crate::blob::is_blob_request`])
//! go to [`crate::blob`], the rest are DFS requests.

mod access;
pub(crate) mod auth;
pub(crate) mod data;
mod filesystem;
pub(crate) mod guard;
pub(crate) mod path;
mod rename;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;

use crate::errors::ServiceError;
use crate::identity::Directory;
use crate::store::Store;
use crate::store::model::{ContentHeaders, PathMeta};
use crate::timefmt;

/// The service version answered when a request names none.
pub(crate) const DEFAULT_VERSION: &str = "2023-11-03";

/// State of the DFS listener.
#[derive(Debug)]
pub(crate) struct DfsState {
    /// The file store.
    pub store: Arc<Store>,
    /// Registered tenants (token issuers).
    pub directory: Arc<Directory>,
    /// The emulator's authority URL, for `WWW-Authenticate`.
    pub authority_url: String,
    /// The tenant named in challenges when the request's is unknown.
    pub default_tenant: String,
    /// `http` or `https`: how clients reach this listener (for URLs in Blob listings).
    pub scheme: &'static str,
    /// Blob service properties of each account.
    pub service_properties: crate::blob::ServiceProperties,
}

/// Routes of the DFS listener: one handler that dispatches like the service.
pub(crate) fn router(state: Arc<DfsState>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

async fn handle(State(state): State<Arc<DfsState>>, request: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let head = request.method() == Method::HEAD;
    let version = request.headers().get("x-ms-version").cloned();
    let client_request_id = request.headers().get("x-ms-client-request-id").cloned();
    let query = Query::parse(request.uri().query());
    let flat =
        Target::parse(request.uri().path()).is_ok_and(|t| !state.store.is_hierarchical(&t.account));
    let blob = if flat {
        !crate::blob::has_dfs_markers(request.method(), &query, request.headers())
    } else {
        crate::blob::is_blob_request(request.method(), &query, request.headers())
    };
    let mut response = if blob {
        match crate::blob::dispatch(&state, request).await {
            Ok(response) => response,
            Err(error) => crate::blob::error_response(error, &request_id, head),
        }
    } else {
        match dispatch(&state, request).await {
            Ok(response) => response,
            Err(error) => error.into_response(&request_id, head),
        }
    };
    let headers = response.headers_mut();
    headers.insert("x-ms-request-id", header_value(&request_id));
    headers.insert(
        "x-ms-version",
        version.unwrap_or(HeaderValue::from_static(DEFAULT_VERSION)),
    );
    if let Some(id) = client_request_id {
        headers.insert("x-ms-client-request-id", id);
    }
    headers.insert(
        header::DATE,
        header_value(&timefmt::rfc1123(SystemTime::now())),
    );
    headers.insert(
        header::SERVER,
        HeaderValue::from_static(if blob {
            "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0"
        } else {
            "Windows-Azure-HDFS/1.0 Microsoft-HTTPAPI/2.0"
        }),
    );
    response
}

async fn dispatch(state: &DfsState, mut request: Request) -> Result<Response, ServiceError> {
    let caller = auth::authorize(state, request.method(), request.uri(), request.headers())?;
    let mut target = Target::parse(request.uri().path())?;
    let query = Query::parse(request.uri().query());
    if !state.store.has_account(&target.account)
        && let Some((account, source)) = rename::account_from_source(state, &request, &target)
    {
        target = target.under_account(account);
        request.headers_mut().insert("x-ms-rename-source", source);
    }
    if !state.store.has_account(&target.account) {
        return Err(ServiceError::resource_not_found());
    }
    if !state.store.is_hierarchical(&target.account) {
        // Without a hierarchical namespace the DFS endpoint serves the account and its file
        // systems, never paths, access control or renames.
        let filesystem_level = target.path.is_none()
            && !access::is_root_request(request.method(), &query)
            && query.get("action").is_none();
        if !filesystem_level {
            return Err(hierarchical_namespace_not_enabled(
                target.filesystem.as_deref(),
            ));
        }
    }
    let need = guard::dfs_need(
        request.method(),
        &query,
        request.headers(),
        target.path.as_deref(),
    );
    guard::check(state, &caller, &target, (request.headers(), &query), need)?;
    act_as_agent(&caller, &mut request, &query);
    match (&target.filesystem, &target.path) {
        (None, _) => filesystem::account(state, request.method(), &query, &target.account),
        // The root directory `/` of a file system: its access control and status.
        (Some(fs), None) if access::is_root_request(request.method(), &query) => access::root(
            state,
            request.method(),
            request.headers(),
            &query,
            &target.account,
            fs,
        ),
        (Some(fs), None) => filesystem::filesystem(
            state,
            request.method(),
            request.headers(),
            &query,
            &target.account,
            fs,
        ),
        (Some(fs), Some(path)) => {
            let at = At {
                account: &target.account,
                fs,
                path,
            };
            match (request.method().clone(), query.get("action")) {
                (Method::PUT, _) => path::put(state, request.headers(), &query, at),
                (Method::PATCH, Some("append")) => data::append(state, request, &query, at).await,
                (Method::PATCH, Some("flush")) => data::flush(state, request, &query, at).await,
                (Method::PATCH, Some("setAccessControlRecursive")) => {
                    let principal = caller.checked_principal();
                    access::set_access_control_recursive(
                        state,
                        request.headers(),
                        &query,
                        at,
                        principal,
                    )
                }
                (Method::PATCH, _) => path::patch(state, request.headers(), &query, at),
                (Method::GET, _) => data::read(state, request.headers(), at).await,
                (Method::HEAD, _) => path::head(state, request.headers(), &query, at),
                (Method::DELETE, _) => path::delete(state, request.headers(), &query, at),
                _ => Err(ServiceError::unsupported_http_verb()),
            }
        }
    }
}

/// A create made for a user delegation SAS's principal (`saoid`, `suoid`) gives it the new
/// path, unless the request names an owner: the request carries it as `x-ms-owner`.
fn act_as_agent(caller: &crate::caller::Caller, request: &mut Request, query: &Query) {
    let creates = *request.method() == Method::PUT
        && matches!(query.get("resource"), Some("file" | "directory"))
        && !request.headers().contains_key("x-ms-rename-source")
        && !request.headers().contains_key("x-ms-owner");
    if let Some(agent) = caller.agent().filter(|_| creates) {
        request
            .headers_mut()
            .insert("x-ms-owner", header_value(agent));
    }
}

/// `HierarchicalNamespaceNotEnabled` (400): a path operation on the DFS endpoint of an
/// account without a hierarchical namespace.
fn hierarchical_namespace_not_enabled(filesystem: Option<&str>) -> ServiceError {
    ServiceError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "HierarchicalNamespaceNotEnabled",
        format!(
            "This operation is only supported on a hierarchical namespace account. Filesystem: {}",
            filesystem.unwrap_or_default()
        ),
    )
}

/// A path inside a file system.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At<'a> {
    pub account: &'a str,
    pub fs: &'a str,
    pub path: &'a str,
}

/// The parsed request URL path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub account: String,
    pub filesystem: Option<String>,
    pub path: Option<String>,
}

fn decode(raw: &str) -> Result<String, ServiceError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ServiceError::invalid_uri())
}

/// Normalizes a decoded path: drops empty segments; `.` and `..` are invalid.
pub(crate) fn normalize_path(decoded: &str) -> Result<Option<String>, ServiceError> {
    let segments: Vec<&str> = decoded.split('/').filter(|s| !s.is_empty()).collect();
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Err(ServiceError::invalid_uri());
    }
    Ok((!segments.is_empty()).then(|| segments.join("/")))
}

impl Target {
    /// The same request path read as one below `account`: what was parsed as the account is
    /// the file system, and the rest is the path.
    pub(crate) fn under_account(self, account: String) -> Self {
        let path = match (self.filesystem, self.path) {
            (None, _) => None,
            (Some(first), None) => Some(first),
            (Some(first), Some(rest)) => Some(format!("{first}/{rest}")),
        };
        Self {
            account,
            filesystem: Some(self.account),
            path,
        }
    }

    /// Parses `/{account}[/{filesystem}[/{path…}]]`, percent-decoded and normalized.
    pub(crate) fn parse(raw: &str) -> Result<Self, ServiceError> {
        let mut parts = raw.trim_start_matches('/').splitn(3, '/');
        let account = decode(parts.next().unwrap_or_default())?;
        if account.is_empty() {
            return Err(ServiceError::invalid_uri());
        }
        let filesystem = match parts.next().map(decode).transpose()? {
            Some(fs) if !fs.is_empty() => Some(fs),
            _ => None,
        };
        let path = match (&filesystem, parts.next()) {
            (Some(_), Some(rest)) => normalize_path(&decode(rest)?)?,
            _ => None,
        };
        Ok(Self {
            account,
            filesystem,
            path,
        })
    }
}

/// Query parameters, names compared case-insensitively.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    /// Parses a raw query string.
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(raw.unwrap_or_default().as_bytes());
        Self(
            pairs
                .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
                .collect(),
        )
    }

    /// A parameter's value.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// A `true`/`false` parameter; `InvalidQueryParameterValue` otherwise.
    pub(crate) fn flag(&self, name: &str) -> Result<Option<bool>, ServiceError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(ServiceError::invalid_query_parameter_value()),
        }
    }

    /// A non-negative integer parameter.
    pub(crate) fn number(&self, name: &str) -> Result<Option<u64>, ServiceError> {
        self.get(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| ServiceError::invalid_query_parameter_value())
            })
            .transpose()
    }

    /// A required non-negative integer parameter.
    pub(crate) fn required_number(&self, name: &str) -> Result<u64, ServiceError> {
        self.number(name)?
            .ok_or_else(ServiceError::missing_required_query_parameter)
    }
}

/// A header's value as text.
pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A header value from text, empty when the text is not valid header text.
pub(crate) fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A response with no body (`Content-Length: 0`).
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    response
}

/// Sets a response header, skipping values that are not valid header text.
pub(crate) fn set(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// Sets `ETag` and `Last-Modified`.
pub(crate) fn set_version(response: &mut Response, etag: &str, last_modified: SystemTime) {
    set(response, "etag", &format!("\"{etag}\""));
    set(response, "last-modified", &timefmt::rfc1123(last_modified));
}

/// Validated `x-ms-properties` (`name=base64,name=base64`).
pub(crate) fn properties(headers: &HeaderMap) -> Result<Option<String>, ServiceError> {
    let Some(raw) = headers.get("x-ms-properties") else {
        return Ok(None);
    };
    let raw = raw
        .to_str()
        .map_err(|_| ServiceError::invalid_header_value())?;
    if raw.trim().is_empty() {
        return Ok(None);
    }
    for pair in raw.split(',') {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(ServiceError::invalid_header_value)?;
        let valid_name = !name.trim().is_empty()
            && name
                .trim()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_name {
            return Err(ServiceError::new(
                StatusCode::BAD_REQUEST,
                "InvalidPropertyName",
                "The property name contains invalid characters.",
            ));
        }
        STANDARD
            .decode(value.trim())
            .map_err(|_| ServiceError::invalid_header_value())?;
    }
    Ok(Some(raw.to_string()))
}

/// `x-ms-content-*` and `x-ms-cache-control` request headers.
pub(crate) fn content_headers(headers: &HeaderMap) -> Result<ContentHeaders, ServiceError> {
    let get = |name: &str| header_str(headers, name).map(str::to_string);
    let content_md5 = match get("x-ms-content-md5") {
        None => None,
        Some(md5) => match STANDARD.decode(md5.trim()) {
            Ok(bytes) if bytes.len() == 16 => Some(md5.trim().to_string()),
            _ => return Err(ServiceError::invalid_header_value()),
        },
    };
    Ok(ContentHeaders {
        content_type: get("x-ms-content-type"),
        content_encoding: get("x-ms-content-encoding"),
        content_language: get("x-ms-content-language"),
        content_disposition: get("x-ms-content-disposition"),
        cache_control: get("x-ms-cache-control"),
        content_md5,
    })
}

/// Owner, group and permissions (`x-ms-owner`, `x-ms-group`, `x-ms-permissions`) of a path.
pub(crate) fn access(meta: &PathMeta) -> (String, String, String) {
    let access = meta.access();
    (
        access.owner.clone(),
        access.group.clone(),
        access.permissions(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("/acct/fs/dir%20a/b%2Fc.csv/").unwrap();
        assert_eq!(t.account, "acct");
        assert_eq!(t.filesystem.as_deref(), Some("fs"));
        assert_eq!(t.path.as_deref(), Some("dir a/b/c.csv"));
        let t = Target::parse("/acct/fs").unwrap();
        assert_eq!((t.filesystem.as_deref(), t.path), (Some("fs"), None));
        let t = Target::parse("/acct").unwrap();
        assert_eq!(t.filesystem, None);
        assert!(Target::parse("/").is_err());
        assert!(Target::parse("/acct/fs/a/../b").is_err());
    }

    #[test]
    fn query_values() {
        let q = Query::parse(Some(
            "action=flush&Position=10&close=TRUE&retainUncommittedData=x",
        ));
        assert_eq!(q.get("action"), Some("flush"));
        assert_eq!(q.required_number("position").unwrap(), 10);
        assert_eq!(q.flag("close").unwrap(), Some(true));
        assert!(q.flag("retainUncommittedData").is_err());
        assert_eq!(
            q.required_number("missing").unwrap_err().code,
            "MissingRequiredQueryParameter"
        );
    }

    #[test]
    fn property_validation() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-ms-properties",
            HeaderValue::from_static("n1=djE=,n2=djI="),
        );
        assert_eq!(properties(&h).unwrap().as_deref(), Some("n1=djE=,n2=djI="));
        h.insert(
            "x-ms-properties",
            HeaderValue::from_static("n1=not base64!"),
        );
        assert_eq!(properties(&h).unwrap_err().code, "InvalidHeaderValue");
        h.insert("x-ms-properties", HeaderValue::from_static("bad name=djE="));
        assert_eq!(properties(&h).unwrap_err().code, "InvalidPropertyName");
    }
}
