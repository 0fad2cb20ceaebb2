//! Path operations other than data: create, rename, properties, access control, delete.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use percent_encoding::percent_decode_str;

use super::{At, DfsState, Query, empty, header_str, normalize_path, set, set_version};
use crate::conditions::{Conditions, Outcome};
use crate::errors::ServiceError;
use crate::store::model::{Kind, PathMeta};
use crate::store::{CreateRequest, RenameRequest};
use crate::timefmt;

/// `PUT`: create (`resource=file|directory`) or rename (`x-ms-rename-source`).
pub(crate) fn put(
    state: &DfsState,
    headers: &HeaderMap,
    query: &Query,
    at: At<'_>,
) -> Result<Response, ServiceError> {
    match query.get("mode") {
        None | Some("legacy") | Some("posix") => {}
        Some(_) => return Err(ServiceError::invalid_query_parameter_value()),
    }
    let meta = if let Some(source) = header_str(headers, "x-ms-rename-source") {
        let (source_fs, source) = parse_rename_source(source)?;
        let request = RenameRequest {
            source_fs,
            source,
            conditions: Conditions::from_headers(headers),
            source_conditions: Conditions::source_from_headers(headers),
            properties: super::properties(headers)?,
        };
        state
            .store
            .rename_path(at.account, at.fs, at.path, request)?
    } else {
        let kind = match query.get("resource") {
            Some("file") => Kind::File,
            Some("directory") => Kind::Directory,
            Some(_) => return Err(ServiceError::invalid_query_parameter_value()),
            None => return Err(ServiceError::missing_required_query_parameter()),
        };
        let request = CreateRequest {
            kind,
            properties: super::properties(headers)?,
            content: super::content_headers(headers)?,
            conditions: Conditions::from_headers(headers),
            access: super::access::new_access(headers)?,
            encryption_context: header_str(headers, "x-ms-encryption-context")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            new_lease: new_lease(headers)?,
            expiry: crate::expiry::Expiry::from_headers(headers)?,
        };
        state
            .store
            .create_path(at.account, at.fs, at.path, request)?
    };
    let mut response = empty(StatusCode::CREATED);
    set_version(&mut response, &meta.etag, meta.last_modified());
    set(&mut response, "x-ms-request-server-encrypted", "true");
    Ok(response)
}

/// The lease a create asks for: `x-ms-proposed-lease-id` and `x-ms-lease-duration` (both, or
/// the duration alone for a lease with a new ID).
fn new_lease(headers: &HeaderMap) -> Result<Option<crate::lease::NewLease>, ServiceError> {
    let proposed = crate::lease::proposed_header(headers)?;
    match header_str(headers, "x-ms-lease-duration") {
        Some(raw) => Ok(Some(crate::lease::NewLease {
            proposed,
            duration: crate::lease::parse_duration(raw)?,
        })),
        None if proposed.is_some() => Err(ServiceError::missing_required_header()),
        None => Ok(None),
    }
}

/// Splits `/{filesystem}/{path}` (percent-encoded, maybe with a SAS query) into its parts.
fn parse_rename_source(raw: &str) -> Result<(String, String), ServiceError> {
    let without_query = raw.split('?').next().unwrap_or_default();
    let decoded = percent_decode_str(without_query.trim())
        .decode_utf8()
        .map_err(|_| ServiceError::invalid_source_uri())?;
    let stripped = decoded
        .strip_prefix('/')
        .ok_or_else(ServiceError::invalid_source_uri)?;
    let (fs, path) = stripped
        .split_once('/')
        .ok_or_else(ServiceError::invalid_source_uri)?;
    let path = normalize_path(path)
        .map_err(|_| ServiceError::invalid_source_uri())?
        .ok_or_else(ServiceError::invalid_source_uri)?;
    Ok((fs.to_string(), path))
}

/// `PATCH` other than append and flush: `setProperties`, `setAccessControl`.
pub(crate) fn patch(
    state: &DfsState,
    headers: &HeaderMap,
    query: &Query,
    at: At<'_>,
) -> Result<Response, ServiceError> {
    let conditions = Conditions::from_headers(headers);
    let meta = match query.get("action") {
        Some("setProperties") => state.store.set_path_properties(
            at.account,
            at.fs,
            at.path,
            super::properties(headers)?,
            &conditions,
        )?,
        Some("setAccessControl") => {
            return super::access::set_access_control(
                state,
                headers,
                at.account,
                at.fs,
                Some(at.path),
            );
        }
        Some(_) => return Err(ServiceError::invalid_query_parameter_value()),
        None => return Err(ServiceError::missing_required_query_parameter()),
    };
    let mut response = empty(StatusCode::OK);
    set_version(&mut response, &meta.etag, meta.last_modified());
    Ok(response)
}

/// Sets the properties headers shared by `HEAD` and `GET`.
pub(crate) fn describe(response: &mut Response, meta: &PathMeta) {
    set_version(response, &meta.etag, meta.last_modified());
    set(response, "x-ms-resource-type", meta.kind.as_str());
    set(
        response,
        "x-ms-creation-time",
        &timefmt::rfc1123(meta.creation_time()),
    );
    set(response, "x-ms-server-encrypted", "true");
    set_lease_headers(response, meta);
    set_expiry_header(response, meta);
    if let Some(props) = &meta.properties {
        set(response, "x-ms-properties", props);
    }
    set_encryption_headers(response, meta);
    set_content_headers(response, meta);
}

/// `x-ms-lease-state`, `x-ms-lease-status` and (while leased) `x-ms-lease-duration` of a
/// path: the DFS and Blob reads share them.
pub(crate) fn set_lease_headers(response: &mut Response, meta: &PathMeta) {
    let view = crate::lease::describe(meta.lease.as_ref(), crate::lease::now());
    set(response, "x-ms-lease-state", view.state);
    set(response, "x-ms-lease-status", view.status);
    if let Some(duration) = view.duration {
        set(response, "x-ms-lease-duration", duration);
    }
}

/// `x-ms-expiry-time` of a file that expires: the DFS and Blob reads share it.
pub(crate) fn set_expiry_header(response: &mut Response, meta: &PathMeta) {
    if let Some(at) = meta.expires {
        set(
            response,
            "x-ms-expiry-time",
            &timefmt::rfc1123(timefmt::from_nanos(at)),
        );
    }
}

/// `x-ms-encryption-context` and `x-ms-encryption-scope` of a path: DFS and Blob reads share
/// them.
pub(crate) fn set_encryption_headers(response: &mut Response, meta: &PathMeta) {
    if let Some(context) = &meta.encryption_context {
        set(response, "x-ms-encryption-context", context);
    }
    if let Some(scope) = &meta.encryption_scope {
        set(response, "x-ms-encryption-scope", scope);
    }
}

/// Sets the stored content headers (`Content-Type`, defaulted for files, and the encoding,
/// language, disposition and cache control set at flush): the DFS and Blob reads share them.
pub(crate) fn set_content_headers(response: &mut Response, meta: &PathMeta) {
    let c = &meta.content;
    let content_type = match (meta.kind, &c.content_type) {
        (_, Some(t)) => t.as_str(),
        (Kind::File, None) => "application/octet-stream",
        (Kind::Directory, None) => "",
    };
    for (name, value) in [
        ("content-type", Some(content_type)),
        ("content-encoding", c.content_encoding.as_deref()),
        ("content-language", c.content_language.as_deref()),
        ("content-disposition", c.content_disposition.as_deref()),
        ("cache-control", c.cache_control.as_deref()),
    ] {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            set(response, name, value);
        }
    }
}

/// Answers a read's conditions: `Some` response for 304, an error for 412.
pub(crate) fn read_conditions(
    headers: &HeaderMap,
    meta: &PathMeta,
) -> Result<Option<Response>, ServiceError> {
    match Conditions::from_headers(headers).evaluate(Some(meta.version()), true) {
        Outcome::Pass => Ok(None),
        Outcome::Failed => Err(ServiceError::condition_not_met()),
        Outcome::NotModified => {
            let mut response = empty(StatusCode::NOT_MODIFIED);
            set_version(&mut response, &meta.etag, meta.last_modified());
            Ok(Some(response))
        }
    }
}

/// `HEAD`: properties, `action=getStatus` or `action=getAccessControl`.
pub(crate) fn head(
    state: &DfsState,
    headers: &HeaderMap,
    query: &Query,
    at: At<'_>,
) -> Result<Response, ServiceError> {
    let (meta, _) = state.store.path(at.account, at.fs, at.path)?;
    if let Some(not_modified) = read_conditions(headers, &meta)? {
        return Ok(not_modified);
    }
    let mut response = empty(StatusCode::OK);
    match query.get("action") {
        None => {
            describe(&mut response, &meta);
            set(&mut response, "content-length", &meta.len.to_string());
            set(&mut response, "accept-ranges", "bytes");
            if let Some(md5) = &meta.content.content_md5 {
                set(&mut response, "content-md5", md5);
            }
        }
        Some("getStatus") | Some("getAccessControl") => {
            return super::access::get_access_control(
                state,
                headers,
                query,
                at.account,
                at.fs,
                Some(at.path),
            );
        }
        Some(_) => return Err(ServiceError::invalid_query_parameter_value()),
    }
    Ok(response)
}

/// `DELETE [?recursive=true|false]`.
pub(crate) fn delete(
    state: &DfsState,
    headers: &HeaderMap,
    query: &Query,
    at: At<'_>,
) -> Result<Response, ServiceError> {
    let recursive = query.flag("recursive")?.unwrap_or(false);
    let conditions = Conditions::from_headers(headers);
    let retention = state.service_properties.delete_retention_days(at.account);
    let deletion_id = state.store.delete_path(
        at.account,
        at.fs,
        at.path,
        recursive,
        &conditions,
        retention,
    )?;
    let mut response = empty(StatusCode::OK);
    if let Some(id) = deletion_id {
        set(&mut response, "x-ms-deletion-id", &id);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_sources() {
        assert_eq!(
            parse_rename_source("/fs/dir%20a/file.csv?sv=2020&sig=x").unwrap(),
            ("fs".to_string(), "dir a/file.csv".to_string())
        );
        assert_eq!(
            parse_rename_source("%2Ffs%2Fa%2Fb").unwrap(),
            ("fs".to_string(), "a/b".to_string())
        );
        for bad in ["fs/a", "/fs", "/fs/", "/fs/../a"] {
            assert_eq!(
                parse_rename_source(bad).unwrap_err().code,
                "InvalidSourceUri",
                "{bad}"
            );
        }
    }
}
