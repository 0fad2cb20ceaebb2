//! Account and file system operations: list file systems, create, describe, set properties,
//! delete, and list paths.

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{DfsState, Query, empty, normalize_path, set, set_version};
use crate::conditions::Conditions;
use crate::errors::ServiceError;
use crate::store::ListRequest;
use crate::store::model::Kind;
use crate::timefmt;

/// Page size when `maxResults` is absent, and its ceiling.
const MAX_RESULTS: u64 = 5000;

fn json(status: StatusCode, body: &Value) -> Response {
    let text = body.to_string();
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    set(
        &mut response,
        "content-type",
        "application/json;charset=utf-8",
    );
    response
}

fn max_results(query: &Query) -> Result<usize, ServiceError> {
    match query.number("maxResults")? {
        None => Ok(MAX_RESULTS as usize),
        Some(0) => Err(ServiceError::invalid_query_parameter_value()),
        Some(n) => Ok(n.min(MAX_RESULTS) as usize),
    }
}

fn require_resource(query: &Query, expected: &str) -> Result<(), ServiceError> {
    match query.get("resource") {
        None => Err(ServiceError::missing_required_query_parameter()),
        Some(v) if v == expected => Ok(()),
        Some(_) => Err(ServiceError::invalid_query_parameter_value()),
    }
}

/// `GET /{account}?resource=account`: list file systems.
pub(crate) fn account(
    state: &DfsState,
    method: &Method,
    query: &Query,
    account: &str,
) -> Result<Response, ServiceError> {
    if method != Method::GET {
        return Err(ServiceError::unsupported_http_verb());
    }
    require_resource(query, "account")?;
    let max = max_results(query)?;
    let after = query.get("continuation").map(str::to_string);
    let all = state.store.list_filesystems(account, query.get("prefix"))?;
    let remaining: Vec<_> = all
        .into_iter()
        .filter(|f| after.as_ref().is_none_or(|a| f.name.as_str() > a.as_str()))
        .collect();
    let more = remaining.len() > max;
    let page = &remaining[..remaining.len().min(max)];
    let list: Vec<Value> = page
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "lastModified": timefmt::rfc1123(f.last_modified),
                "etag": f.etag,
            })
        })
        .collect();
    let mut response = json(StatusCode::OK, &json!({ "filesystems": list }));
    if more && let Some(last) = page.last() {
        set(&mut response, "x-ms-continuation", &last.name);
    }
    Ok(response)
}

/// Operations on `/{account}/{filesystem}`.
pub(crate) fn filesystem(
    state: &DfsState,
    method: &Method,
    headers: &HeaderMap,
    query: &Query,
    account: &str,
    fs: &str,
) -> Result<Response, ServiceError> {
    let store = &state.store;
    require_resource(query, "filesystem")?;
    if method == Method::GET {
        return list_paths(state, query, account, fs);
    }
    let conditions = Conditions::from_headers(headers);
    let response = match *method {
        Method::PUT => {
            let scope = super::header_str(headers, "x-ms-default-encryption-scope")
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            let info = store.create_filesystem(account, fs, super::properties(headers)?, scope)?;
            let mut r = empty(StatusCode::CREATED);
            set_version(&mut r, &info.etag, info.last_modified);
            set(&mut r, "x-ms-namespace-enabled", "true");
            r
        }
        Method::PATCH => {
            let props = super::properties(headers)?;
            let info = store.set_filesystem_properties(account, fs, props, &conditions)?;
            let mut r = empty(StatusCode::OK);
            set_version(&mut r, &info.etag, info.last_modified);
            r
        }
        Method::HEAD => {
            let info = store.filesystem(account, fs)?;
            let mut r = empty(StatusCode::OK);
            set_version(&mut r, &info.etag, info.last_modified);
            set(&mut r, "x-ms-namespace-enabled", "true");
            if let Some(props) = &info.properties {
                set(&mut r, "x-ms-properties", props);
            }
            r
        }
        Method::DELETE => {
            store.delete_filesystem(account, fs, &conditions)?;
            empty(StatusCode::ACCEPTED)
        }
        _ => return Err(ServiceError::unsupported_http_verb()),
    };
    Ok(response)
}

/// `GET /{account}/{filesystem}?resource=filesystem&recursive=…`: one page of paths.
fn list_paths(
    state: &DfsState,
    query: &Query,
    account: &str,
    fs: &str,
) -> Result<Response, ServiceError> {
    let recursive = query
        .flag("recursive")?
        .ok_or_else(ServiceError::missing_required_query_parameter)?;
    let directory = match query.get("directory") {
        Some(d) => normalize_path(d)?,
        None => None,
    };
    let request = ListRequest {
        directory,
        recursive,
        max_results: max_results(query)?,
        continuation: query.get("continuation").map(str::to_string),
        // `beginFrom` on the wire (the SDKs' `start_from`).
        start_from: match query.get("beginFrom").or_else(|| query.get("startFrom")) {
            Some(from) => normalize_path(from)?,
            None => None,
        },
    };
    let page = state.store.list_paths(account, fs, &request)?;
    let paths: Vec<Value> = page
        .paths
        .iter()
        .map(|(name, meta)| {
            let (owner, group, permissions) = super::access(meta);
            let mut entry = json!({
                "name": name,
                "contentLength": meta.len.to_string(),
                "etag": meta.etag,
                "lastModified": timefmt::rfc1123(meta.last_modified()),
                "owner": owner,
                "group": group,
                "permissions": permissions,
                "creationTime": windows_file_time(meta.created).to_string(),
            });
            if meta.kind == Kind::Directory {
                entry["isDirectory"] = json!("true");
            }
            if let Some(at) = meta.expires {
                entry["expiryTime"] = json!(windows_file_time(at).to_string());
            }
            if let Some(context) = &meta.encryption_context {
                entry["EncryptionContext"] = json!(context);
            }
            if let Some(scope) = &meta.encryption_scope {
                entry["EncryptionScope"] = json!(scope);
            }
            entry
        })
        .collect();
    let mut response = json(StatusCode::OK, &json!({ "paths": paths }));
    if let Some(token) = page.continuation {
        set(&mut response, "x-ms-continuation", &token);
    }
    Ok(response)
}

/// Nanoseconds since the Unix epoch as a Windows file time (100 ns ticks since 1601).
fn windows_file_time(unix_nanos: u64) -> u64 {
    unix_nanos / 100 + 116_444_736_000_000_000
}
