//! The Blob REST endpoint over the same store as the DFS endpoint, for the calls that the Data
//! Lake SDKs send to it: a hierarchical-namespace account serves both APIs over one namespace,
//! and the SDKs use the Blob API for file system create/delete/properties/list, path
//! properties, download, existence checks and metadata.
//!
//! Containers are file systems and blobs are files and directories (a directory is a
//! zero-length blob with metadata `hdi_isfolder=true`). Blob metadata and the DFS
//! `x-ms-properties` are the same data. Bodies are XML, errors are XML
//! (`<Error><Code>…</Code><Message>…</Message></Error>`, none for `HEAD`), with the Blob
//! service's codes (`ContainerNotFound`, `BlobNotFound`, …).
//!
//! A path-style URL gives the Blob and DFS APIs the same address, so [`is_blob_request`] tells
//! them apart by the Blob API's query parameters and headers.

mod acl;
mod block;
mod container;
mod delegation_key;
mod lease;
mod list;
mod object;
mod query;
mod service;
mod tags;
mod xml;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::dfs::{At, DfsState, Query, Target, auth, header_str};
use crate::errors::ServiceError;
use crate::store::model::Kind;
pub(crate) use acl::SignedIdentifier;
pub(crate) use service::ServiceProperties;

/// Query parameters only the Blob API uses.
const BLOB_PARAMETERS: [&str; 4] = ["comp", "restype", "blockid", "snapshot"];

/// Query parameters only the DFS API uses.
const DFS_PARAMETERS: [&str; 4] = ["resource", "action", "mode", "continuation"];

/// Whether a request on the shared listener is for the Blob API rather than the DFS API.
///
/// DFS markers win (`resource`, `action`, `mode`, `continuation`, `x-ms-rename-source`,
/// `PATCH`); then Blob markers (`comp`, `restype`, `blockid`, `snapshot`, `x-ms-blob-*`,
/// `x-ms-meta-*`, `x-ms-delete-snapshots`); then the `Accept` header, which Microsoft's
/// generated clients set to `application/xml` on every Blob operation and to
/// `application/json` on DFS ones. Anything else (a bare `GET`, `HEAD` or `DELETE` on a path)
/// is a DFS request.
pub(crate) fn is_blob_request(method: &Method, query: &Query, headers: &HeaderMap) -> bool {
    if has_dfs_markers(method, query, headers) {
        return false;
    }
    if BLOB_PARAMETERS.iter().any(|p| query.get(p).is_some()) {
        return true;
    }
    let blob_header = headers.keys().any(|name| {
        let name = name.as_str();
        name.starts_with("x-ms-blob-")
            || name.starts_with("x-ms-meta-")
            || name == "x-ms-delete-snapshots"
    });
    blob_header || header_str(headers, "accept").is_some_and(|a| a.contains("application/xml"))
}

/// Whether a request carries a marker only the DFS API uses (`PATCH`, `resource`, `action`,
/// `mode`, `continuation`, `x-ms-rename-source`). On an account without a hierarchical
/// namespace every other request is a Blob request.
pub(crate) fn has_dfs_markers(method: &Method, query: &Query, headers: &HeaderMap) -> bool {
    *method == Method::PATCH
        || DFS_PARAMETERS.iter().any(|p| query.get(p).is_some())
        || headers.contains_key("x-ms-rename-source")
}

/// The largest Set Service Properties document taken.
const MAX_PROPERTIES_BODY: usize = 1024 * 1024;

/// Serves a Blob API request.
pub(crate) async fn dispatch(state: &DfsState, request: Request) -> Result<Response, ServiceError> {
    let caller = auth::authorize(state, request.method(), request.uri(), request.headers())?;
    let target = Target::parse(request.uri().path())?;
    let query = Query::parse(request.uri().query());
    if !state.store.has_account(&target.account) {
        return Err(ServiceError::resource_not_found());
    }
    if target.filesystem.is_none()
        && query.get("restype") == Some("service")
        && query.get("comp") == Some("userdelegationkey")
    {
        if *request.method() != Method::POST {
            return Err(ServiceError::unsupported_http_verb());
        }
        let headers = request.headers().clone();
        let body = axum::body::to_bytes(request.into_body(), MAX_PROPERTIES_BODY)
            .await
            .map_err(|_| ServiceError::request_body_too_large())?;
        let text = std::str::from_utf8(&body).map_err(|_| tags::invalid_xml())?;
        return delegation_key::get_user_delegation_key(&caller, &headers, text, &target.account);
    }
    let need = crate::dfs::guard::blob_need(request.method(), &query, target.path.as_deref());
    crate::dfs::guard::check(state, &caller, &target, (request.headers(), &query), need)?;
    if target.filesystem.is_none()
        && query.get("restype") == Some("service")
        && query.get("comp") == Some("properties")
    {
        return match *request.method() {
            Method::GET => Ok(state.service_properties.get(&target.account)),
            Method::PUT => {
                let body = axum::body::to_bytes(request.into_body(), MAX_PROPERTIES_BODY)
                    .await
                    .map_err(|_| ServiceError::request_body_too_large())?;
                let text =
                    std::str::from_utf8(&body).map_err(|_| ServiceError::invalid_header_value())?;
                state.service_properties.set(&target.account, text)
            }
            _ => Err(ServiceError::unsupported_http_verb()),
        };
    }
    if query.get("restype") == Some("account") && query.get("comp") == Some("properties") {
        // Get Account Information answers on the account, a container or a blob alike.
        return container::account_information(state, request.method(), &target.account);
    }
    let (parts, body) = request.into_parts();
    let mut body = Some(body);
    let (method, headers) = (&parts.method, &parts.headers);
    // The small XML documents of Set Blob Tags and Set Container ACL.
    let document = match (method, query.get("comp")) {
        (&Method::PUT, Some("tags" | "acl")) => {
            let body = body.take().unwrap_or_else(Body::empty);
            let body = axum::body::to_bytes(body, tags::MAX_TAGS_BODY)
                .await
                .map_err(|_| ServiceError::request_body_too_large())?;
            let text = String::from_utf8(body.to_vec()).map_err(|_| tags::invalid_xml())?;
            Some(text)
        }
        _ => None,
    };
    let document = document.as_deref();
    match (&target.filesystem, &target.path) {
        (None, _) => container::account(state, method, headers, &query, &target.account),
        (Some(fs), None) if query.get("comp") == Some("acl") => {
            acl::acl(state, method, headers, document, &target.account, fs)
        }
        (Some(fs), None) => {
            container::container(state, method, headers, &query, &target.account, fs)
        }
        (Some(fs), Some(path)) => {
            let at = At {
                account: &target.account,
                fs,
                path,
            };
            if query.get("comp") == Some("tags") {
                return tags::tags(state, method, headers, document, at);
            }
            let body = body.take().unwrap_or_else(Body::empty);
            object::blob(state, method, headers, &query, at, body).await
        }
    }
}

/// The Blob service's code and message for an error the store reports in DFS terms.
fn blob_error(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "FilesystemNotFound" => (
            "ContainerNotFound",
            "The specified container does not exist.",
        ),
        "FilesystemAlreadyExists" => (
            "ContainerAlreadyExists",
            "The specified container already exists.",
        ),
        "PathNotFound" => ("BlobNotFound", "The specified blob does not exist."),
        "DirectoryNotEmpty" => (
            "DirectoryIsNotEmpty",
            "This operation is not permitted on a non-empty directory.",
        ),
        "LeaseIdMissing" => (
            "LeaseIdMissing",
            "There is currently a lease on the blob and no lease ID was specified in the request.",
        ),
        "LeaseIdMismatch" => (
            "LeaseIdMismatchWithBlobOperation",
            "The lease ID specified did not match the lease ID for the blob.",
        ),
        "LeaseNotPresent" => (
            "LeaseNotPresentWithBlobOperation",
            "There is currently no lease on the blob.",
        ),
        "LeaseLost" => (
            "LeaseLost",
            "A lease ID was specified, but the lease for the blob has expired.",
        ),
        _ => return None,
    })
}

/// Renders an error as the Blob service does: XML body (none for `HEAD`), `x-ms-error-code`.
pub(crate) fn error_response(error: ServiceError, request_id: &str, head: bool) -> Response {
    let (code, message) = match blob_error(error.code) {
        Some((code, message)) => (code, message.to_string()),
        None => (error.code, error.message.clone()),
    };
    let (message, detail) = match message.split_once(" AuthenticationErrorDetail: ") {
        Some((message, detail)) => (message.to_string(), Some(detail.to_string())),
        None => (message, None),
    };
    let message = crate::errors::stamp(&message, request_id);
    let mut doc = xml::Xml::new();
    doc.open("Error")
        .leaf("Code", code)
        .leaf("Message", &message)
        .leaf_opt("AuthenticationErrorDetail", detail.as_deref())
        .close("Error");
    error.render(code, "application/xml", doc.finish(), head)
}

/// An XML response body with status 200.
fn xml_response(body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}

/// `InvalidMetadata` (400).
fn invalid_metadata() -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "InvalidMetadata",
        "The metadata specified is invalid. It has characters that are not permitted.",
    )
}

/// Whether a metadata name is a valid C# identifier (what the service accepts).
fn valid_metadata_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The folder marker of directories in Blob metadata.
const FOLDER_MARKER: &str = "hdi_isfolder";

/// The request's `x-ms-meta-*` headers in the stored `x-ms-properties` form
/// (`name=base64(value),…`); `None` when there are none. The folder marker is not stored.
fn metadata_from_headers(headers: &HeaderMap) -> Result<Option<String>, ServiceError> {
    let mut pairs = Vec::new();
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix("x-ms-meta-") else {
            continue;
        };
        if !valid_metadata_name(key) {
            return Err(invalid_metadata());
        }
        if key.eq_ignore_ascii_case(FOLDER_MARKER) {
            continue;
        }
        pairs.push(format!("{key}={}", STANDARD.encode(value.as_bytes())));
    }
    Ok((!pairs.is_empty()).then(|| pairs.join(",")))
}

/// Stored `x-ms-properties` as metadata pairs; a directory's start with `hdi_isfolder=true`.
fn metadata_pairs(properties: Option<&str>, kind: Option<Kind>) -> Vec<(String, Vec<u8>)> {
    let mut pairs = Vec::new();
    if kind == Some(Kind::Directory) {
        pairs.push((FOLDER_MARKER.to_string(), b"true".to_vec()));
    }
    let stored = properties.unwrap_or_default().split(',');
    for (name, value) in stored.filter_map(|pair| pair.split_once('=')) {
        if let Ok(value) = STANDARD.decode(value.trim()) {
            pairs.push((name.trim().to_string(), value));
        }
    }
    pairs
}

/// Sets `x-ms-meta-*` response headers.
fn set_metadata_headers(response: &mut Response, pairs: &[(String, Vec<u8>)]) {
    for (name, value) in pairs {
        let name = header::HeaderName::from_bytes(format!("x-ms-meta-{name}").as_bytes());
        if let (Ok(name), Ok(value)) = (name, HeaderValue::from_bytes(value)) {
            response.headers_mut().append(name, value);
        }
    }
}

/// Writes `<Metadata>` with the pairs.
fn write_metadata(doc: &mut xml::Xml, pairs: &[(String, Vec<u8>)]) {
    doc.open("Metadata");
    for (name, value) in pairs {
        doc.leaf(name, &String::from_utf8_lossy(value));
    }
    doc.close("Metadata");
}

/// `http(s)://HOST/ACCOUNT/`: the `ServiceEndpoint` of listings.
fn service_endpoint(state: &DfsState, headers: &HeaderMap, account: &str) -> String {
    let host = header_str(headers, "host").unwrap_or("127.0.0.1");
    format!("{}://{host}/{account}/", state.scheme)
}

/// `include=a,b` contains `what`.
fn includes(query: &Query, what: &str) -> bool {
    query
        .get("include")
        .is_some_and(|list| list.split(',').any(|i| i.trim().eq_ignore_ascii_case(what)))
}

/// `maxresults`: up to 5000 (the default); zero or less is `InvalidQueryParameterValue`.
fn max_results(query: &Query) -> Result<usize, ServiceError> {
    match query.get("maxresults") {
        None => Ok(5000),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n > 0 => Ok(n.min(5000) as usize),
            _ => Err(ServiceError::invalid_query_parameter_value()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn tells_blob_requests_from_dfs_requests() {
        let q = |s: &str| Query::parse(Some(s));
        let none = HeaderMap::new();
        let xml = headers(&[("accept", "application/xml")]);
        let json = headers(&[("accept", "application/json")]);
        let cases = [
            (Method::PUT, "restype=container", &none, true),
            (Method::GET, "comp=list", &none, true),
            (Method::PUT, "comp=metadata", &none, true),
            (Method::HEAD, "", &xml, true),
            (Method::GET, "", &xml, true),
            (Method::HEAD, "", &json, false),
            (Method::GET, "", &none, false),
            (Method::DELETE, "recursive=true", &json, false),
            (Method::PUT, "resource=filesystem", &xml, false),
            (Method::PATCH, "action=append&position=0", &xml, false),
            (Method::GET, "resource=account", &none, false),
        ];
        for (method, query, headers, blob) in cases {
            assert_eq!(
                is_blob_request(&method, &q(query), headers),
                blob,
                "{method} ?{query} {headers:?}"
            );
        }
        let meta = headers(&[("x-ms-meta-a", "1")]);
        assert!(is_blob_request(&Method::PUT, &q(""), &meta));
    }

    #[test]
    fn metadata_round_trips_through_properties() {
        let h = headers(&[
            ("x-ms-meta-owner", "dana"),
            ("x-ms-meta-hdi_isfolder", "true"),
        ]);
        let stored = metadata_from_headers(&h).unwrap().unwrap();
        assert_eq!(stored, "owner=ZGFuYQ==");
        let pairs = metadata_pairs(Some(&stored), Some(Kind::Directory));
        assert_eq!(
            pairs,
            vec![
                ("hdi_isfolder".to_string(), b"true".to_vec()),
                ("owner".to_string(), b"dana".to_vec())
            ]
        );
        assert!(metadata_from_headers(&HeaderMap::new()).unwrap().is_none());
        let bad = headers(&[("x-ms-meta-1abc", "x")]);
        assert_eq!(
            metadata_from_headers(&bad).unwrap_err().code,
            "InvalidMetadata"
        );
    }

    #[tokio::test]
    async fn errors_are_xml_with_blob_codes() {
        let error = ServiceError::path_not_found();
        let response = error_response(error, "rid-1", false);
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["x-ms-error-code"], "BlobNotFound");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.starts_with(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code>\
                 <Message>The specified blob does not exist.\nRequestId:rid-1\nTime:"
            ),
            "{text}"
        );
        assert!(text.ends_with("Z</Message></Error>"), "{text}");
        let head = error_response(ServiceError::filesystem_not_found(), "rid", true);
        assert_eq!(head.headers()["x-ms-error-code"], "ContainerNotFound");
        let body = axum::body::to_bytes(head.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(body.is_empty());
    }
}
