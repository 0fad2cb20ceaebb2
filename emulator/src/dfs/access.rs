//! Access control on the DFS endpoint: the `x-ms-owner`, `x-ms-group`, `x-ms-permissions`,
//! `x-ms-umask` and `x-ms-acl` of a create, `action=setAccessControl`, and
//! `action=getAccessControl` (also on the root directory `/` of a file system).

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{DfsState, Query, empty, header_str, set, set_version};
use crate::conditions::{Conditions, Outcome};
use crate::errors::ServiceError;
use crate::store::access::{parse_acl, parse_permissions, parse_umask};
use crate::store::model::Kind;
use crate::store::{AccessChange, NewAccess, RecursiveChange, RecursiveMode};

fn given(headers: &HeaderMap, name: &str) -> Option<String> {
    header_str(headers, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// The access control a create asks for.
pub(crate) fn new_access(headers: &HeaderMap) -> Result<NewAccess, ServiceError> {
    Ok(NewAccess {
        owner: given(headers, "x-ms-owner"),
        group: given(headers, "x-ms-group"),
        permissions: given(headers, "x-ms-permissions")
            .map(|p| parse_permissions(&p))
            .transpose()?,
        umask: given(headers, "x-ms-umask")
            .map(|u| parse_umask(&u))
            .transpose()?,
        acl: given(headers, "x-ms-acl")
            .map(|a| parse_acl(&a, true))
            .transpose()?,
    })
}

/// The change a `setAccessControl` asks for; permissions and an ACL together are refused.
fn change(headers: &HeaderMap) -> Result<AccessChange, ServiceError> {
    let change = AccessChange {
        owner: given(headers, "x-ms-owner"),
        group: given(headers, "x-ms-group"),
        permissions: given(headers, "x-ms-permissions")
            .map(|p| parse_permissions(&p))
            .transpose()?,
        acl: given(headers, "x-ms-acl")
            .map(|a| parse_acl(&a, true))
            .transpose()?,
    };
    if change.permissions.is_some() && change.acl.is_some() {
        return Err(ServiceError::invalid_header_value());
    }
    Ok(change)
}

/// `PATCH ?action=setAccessControl` on a path (`None`: the root directory).
pub(crate) fn set_access_control(
    state: &DfsState,
    headers: &HeaderMap,
    account: &str,
    fs: &str,
    path: Option<&str>,
) -> Result<Response, ServiceError> {
    let change = change(headers)?;
    let conditions = Conditions::from_headers(headers);
    let info = state
        .store
        .set_access_control(account, fs, path, &change, &conditions)?;
    let mut response = empty(StatusCode::OK);
    set_version(&mut response, &info.etag, info.last_modified);
    Ok(response)
}

/// `HEAD ?action=getAccessControl|getStatus` on a path (`None`: the root directory).
pub(crate) fn get_access_control(
    state: &DfsState,
    headers: &HeaderMap,
    query: &Query,
    account: &str,
    fs: &str,
    path: Option<&str>,
) -> Result<Response, ServiceError> {
    let info = state.store.access_control(account, fs, path)?;
    match Conditions::from_headers(headers).evaluate(Some((&info.etag, info.last_modified)), true) {
        Outcome::Pass => {}
        Outcome::Failed => return Err(ServiceError::condition_not_met()),
        Outcome::NotModified => {
            let mut response = empty(StatusCode::NOT_MODIFIED);
            set_version(&mut response, &info.etag, info.last_modified);
            return Ok(response);
        }
    }
    let mut response = empty(StatusCode::OK);
    set_version(&mut response, &info.etag, info.last_modified);
    set(&mut response, "x-ms-resource-type", info.kind.as_str());
    set(&mut response, "x-ms-owner", &info.access.owner);
    set(&mut response, "x-ms-group", &info.access.group);
    set(
        &mut response,
        "x-ms-permissions",
        &info.access.permissions(),
    );
    if query.get("action") == Some("getAccessControl") {
        set(&mut response, "x-ms-acl", &info.access.acl());
    }
    Ok(response)
}

/// Whether a request on `/{account}/{filesystem}` is one on its root directory `/` (access
/// control and status) rather than on the file system.
pub(crate) fn is_root_request(method: &Method, query: &Query) -> bool {
    matches!(
        (method, query.get("action")),
        (&Method::PATCH, Some("setAccessControl"))
            | (&Method::HEAD, Some("getAccessControl") | Some("getStatus"))
    )
}

/// A request on the root directory of a file system.
pub(crate) fn root(
    state: &DfsState,
    method: &Method,
    headers: &HeaderMap,
    query: &Query,
    account: &str,
    fs: &str,
) -> Result<Response, ServiceError> {
    if method == Method::PATCH {
        set_access_control(state, headers, account, fs, None)
    } else {
        get_access_control(state, headers, query, account, fs, None)
    }
}

/// The most paths one `setAccessControlRecursive` call changes (and the default).
const MAX_RECURSIVE_RECORDS: usize = 2000;

/// `PATCH ?action=setAccessControlRecursive&mode=set|modify|remove[&maxRecords=N]
/// [&continuation=T][&forceFlag=true]` with `x-ms-acl`: one batch, answered with its counts,
/// the paths that failed and, when paths remain, `x-ms-continuation`. For a checked
/// `principal` (see `crate::caller`), the paths it does not own fail; without `forceFlag`
/// the first failure ends the operation.
pub(crate) fn set_access_control_recursive(
    state: &DfsState,
    headers: &HeaderMap,
    query: &Query,
    at: super::At<'_>,
    principal: Option<&str>,
) -> Result<Response, ServiceError> {
    let mode = match query.get("mode") {
        Some("set") => RecursiveMode::Set,
        Some("modify") => RecursiveMode::Modify,
        Some("remove") => RecursiveMode::Remove,
        Some(_) => return Err(ServiceError::invalid_query_parameter_value()),
        None => return Err(ServiceError::missing_required_query_parameter()),
    };
    let acl = header_str(headers, "x-ms-acl").ok_or_else(ServiceError::missing_required_header)?;
    let entries = parse_acl(acl, mode != RecursiveMode::Remove)?;
    let max_records = match query.get("maxRecords") {
        None => MAX_RECURSIVE_RECORDS,
        Some(n) => match n.parse::<usize>() {
            Ok(n) if n > 0 => n.min(MAX_RECURSIVE_RECORDS),
            _ => return Err(ServiceError::invalid_query_parameter_value()),
        },
    };
    let continuation = match query.get("continuation").filter(|c| !c.is_empty()) {
        None => None,
        Some(token) => Some(
            STANDARD
                .decode(token)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(ServiceError::invalid_query_parameter_value)?,
        ),
    };
    let change = RecursiveChange {
        mode,
        entries: &entries,
        max_records,
        continuation: continuation.as_deref(),
        principal,
        continue_on_failure: query.flag("forceFlag")?.unwrap_or(false),
    };
    let outcome = state
        .store
        .set_access_control_recursive(at.account, at.fs, at.path, &change)?;
    let body = serde_json::json!({
        "directoriesSuccessful": outcome.directories,
        "filesSuccessful": outcome.files,
        "failureCount": outcome.failures.len(),
        "failedEntries": outcome.failures.iter().map(|(name, kind)| serde_json::json!({
            "errorMessage": "This request is not authorized to perform this operation using this permission.",
            "name": name,
            "type": match kind {
                Kind::Directory => "DIRECTORY",
                Kind::File => "FILE",
            },
        })).collect::<Vec<_>>(),
    });
    let mut response = empty(StatusCode::OK);
    set(
        &mut response,
        "content-type",
        "application/json;charset=utf-8",
    );
    if let Some(last) = &outcome.continuation {
        set(&mut response, "x-ms-continuation", &STANDARD.encode(last));
    }
    let bytes = body.to_string();
    set(&mut response, "content-length", &bytes.len().to_string());
    *response.body_mut() = axum::body::Body::from(bytes);
    Ok(response)
}
