//! Blob operations on a file or directory: Get Blob Properties (`HEAD`), Get Blob (`GET`,
//! whole or a range), Get/Set Blob Metadata (`comp=metadata`), Set Blob Properties
//! (`comp=properties`, the content headers) and Delete Blob; the block blob writes are in
//! [`super::block`], Query Blob Contents (`POST ?comp=query`) in [`super::query`].
//!
//! Only committed data is visible: staged appends are not part of the blob until a flush.

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{metadata_from_headers, metadata_pairs, set_metadata_headers};
use crate::conditions::Conditions;
use crate::dfs::data::{content_body, range_of, wants_range_md5};
use crate::dfs::path::read_conditions;
use crate::dfs::{At, DfsState, Query, access, empty, header_str, set, set_version};
use crate::errors::ServiceError;
use crate::store::model::{ContentHeaders, PathMeta};
use crate::timefmt;

/// Requests on `/{account}/{container}/{blob}`.
pub(crate) async fn blob(
    state: &DfsState,
    method: &Method,
    headers: &HeaderMap,
    query: &Query,
    at: At<'_>,
    body: axum::body::Body,
) -> Result<Response, ServiceError> {
    let conditions = Conditions::from_headers(headers);
    let store = &state.store;
    match (method, query.get("comp")) {
        (&Method::HEAD, None) => {
            let (meta, _) = store.path(at.account, at.fs, at.path)?;
            if let Some(not_modified) = read_conditions(headers, &meta)? {
                return Ok(not_modified_blob(not_modified));
            }
            let mut response = empty(StatusCode::OK);
            describe(&mut response, &meta, store.is_hierarchical(at.account));
            set(&mut response, "content-length", &meta.len.to_string());
            if let Some(md5) = &meta.content.content_md5 {
                set(&mut response, "content-md5", md5);
            }
            Ok(response)
        }
        (&Method::GET, None) => download(state, headers, at).await,
        (&Method::GET | &Method::HEAD, Some("metadata")) => {
            let (meta, _) = store.path(at.account, at.fs, at.path)?;
            let mut response = empty(StatusCode::OK);
            set_version(&mut response, &meta.etag, meta.last_modified());
            let pairs = metadata_pairs(meta.properties.as_deref(), Some(meta.kind));
            set_metadata_headers(&mut response, &pairs);
            Ok(response)
        }
        (&Method::PUT, Some("metadata")) => {
            let metadata = metadata_from_headers(headers)?;
            let meta =
                store.replace_path_properties(at.account, at.fs, at.path, metadata, &conditions)?;
            Ok(changed(&meta))
        }
        (&Method::PUT, Some("properties")) => {
            let content = blob_content_headers(headers)?;
            let meta =
                store.replace_path_content(at.account, at.fs, at.path, content, &conditions)?;
            // Set Blob Properties, unlike Set Blob Metadata, says nothing of encryption.
            let mut response = empty(StatusCode::OK);
            set_version(&mut response, &meta.etag, meta.last_modified());
            Ok(response)
        }
        (&Method::PUT, Some("expiry")) => {
            let expiry = crate::expiry::Expiry::from_headers(headers)?
                .ok_or_else(ServiceError::missing_required_header)?;
            let meta = store.set_expiry(at.account, at.fs, at.path, expiry, &conditions)?;
            let mut response = empty(StatusCode::OK);
            set_version(&mut response, &meta.etag, meta.last_modified());
            Ok(response)
        }
        (&Method::PUT, Some("lease")) => {
            super::lease::lease(state, headers, at.account, at.fs, Some(at.path))
        }
        (&Method::POST, Some("query")) => super::query::query_blob(state, headers, at, body).await,
        (&Method::PUT, None) => super::block::put_blob(state, headers, body, at).await,
        (&Method::PUT, Some("block")) => {
            super::block::put_block(state, headers, query, body, at).await
        }
        (&Method::PUT, Some("blocklist")) => {
            super::block::put_block_list(state, headers, body, at).await
        }
        (&Method::GET, Some("blocklist")) => {
            super::block::get_block_list(state, headers, query, at)
        }
        (&Method::DELETE, None) => {
            let retention = state.service_properties.delete_retention_days(at.account);
            let deletion_id =
                store.delete_path(at.account, at.fs, at.path, false, &conditions, retention)?;
            let mut response = empty(StatusCode::ACCEPTED);
            let permanent = if deletion_id.is_some() {
                "false"
            } else {
                "true"
            };
            store.discard_blocks(at.account, at.fs, at.path);
            set(&mut response, "x-ms-delete-type-permanent", permanent);
            if let Some(id) = deletion_id {
                set(&mut response, "x-ms-deletion-id", &id);
            }
            Ok(response)
        }
        (&Method::PUT, Some("undelete")) => {
            let deletion_id = match header_str(headers, "x-ms-undelete-source") {
                None => None,
                Some(source) => Some(undelete_source_id(source, at.path)?),
            };
            let kind = store.undelete(at.account, at.fs, at.path, deletion_id.as_deref())?;
            let mut response = empty(StatusCode::OK);
            set(&mut response, "x-ms-resource-type", kind.as_str());
            Ok(response)
        }
        (
            _,
            None | Some("metadata") | Some("properties") | Some("undelete") | Some("blocklist"),
        ) => Err(ServiceError::unsupported_http_verb()),
        _ => Err(ServiceError::invalid_query_parameter_value()),
    }
}

/// The deletion ID of `x-ms-undelete-source: {path}?deletionid={id}`, whose path must be
/// the request's; `InvalidHeaderValue` otherwise.
fn undelete_source_id(source: &str, path: &str) -> Result<String, ServiceError> {
    let (named, query) = source
        .split_once('?')
        .ok_or_else(ServiceError::invalid_header_value)?;
    let named = percent_encoding::percent_decode_str(named.trim_start_matches('/'))
        .decode_utf8()
        .map_err(|_| ServiceError::invalid_header_value())?;
    if named.trim_end_matches('/') != path {
        return Err(ServiceError::invalid_header_value());
    }
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name.eq_ignore_ascii_case("deletionid"))
        .map(|(_, id)| id.into_owned())
        .filter(|id| !id.is_empty())
        .ok_or_else(ServiceError::invalid_header_value)
}

/// A 304 of the Blob endpoint: the service names the unmet condition on it too.
fn not_modified_blob(mut response: Response) -> Response {
    set(&mut response, "x-ms-error-code", "ConditionNotMet");
    response
}

/// The answer to a change: 200 with the new `ETag` and `Last-Modified`.
fn changed(meta: &PathMeta) -> Response {
    let mut response = empty(StatusCode::OK);
    set_version(&mut response, &meta.etag, meta.last_modified());
    set(&mut response, "x-ms-request-server-encrypted", "true");
    response
}

/// `x-ms-blob-content-*` and `x-ms-blob-cache-control` of Set Blob Properties.
fn blob_content_headers(headers: &HeaderMap) -> Result<ContentHeaders, ServiceError> {
    let get = |name: &str| {
        header_str(headers, name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let content_md5 = match get("x-ms-blob-content-md5") {
        None => None,
        Some(md5) => match STANDARD.decode(md5.trim()) {
            Ok(bytes) if bytes.len() == 16 => Some(md5.trim().to_string()),
            _ => return Err(ServiceError::invalid_header_value()),
        },
    };
    Ok(ContentHeaders {
        content_type: get("x-ms-blob-content-type"),
        content_encoding: get("x-ms-blob-content-encoding"),
        content_language: get("x-ms-blob-content-language"),
        content_disposition: get("x-ms-blob-content-disposition"),
        cache_control: get("x-ms-blob-cache-control"),
        content_md5,
    })
}

/// Sets the headers Get Blob Properties and Get Blob share.
/// The resource type, owner, group, permissions and ACL only on a hierarchical namespace.
fn describe(response: &mut Response, meta: &PathMeta, hierarchical: bool) {
    set_version(response, &meta.etag, meta.last_modified());
    let created = timefmt::rfc1123(meta.creation_time());
    for (name, value) in [
        ("x-ms-creation-time", created.as_str()),
        ("x-ms-blob-type", "BlockBlob"),
        ("x-ms-server-encrypted", "true"),
        ("x-ms-access-tier", "Hot"),
        ("x-ms-access-tier-inferred", "true"),
        ("accept-ranges", "bytes"),
    ] {
        set(response, name, value);
    }
    if hierarchical {
        let (owner, group, permissions) = access(meta);
        let acl = meta.access().acl();
        for (name, value) in [
            ("x-ms-resource-type", meta.kind.as_str()),
            ("x-ms-owner", owner.as_str()),
            ("x-ms-group", group.as_str()),
            ("x-ms-permissions", permissions.as_str()),
            ("x-ms-acl", acl.as_str()),
        ] {
            set(response, name, value);
        }
    }
    let pairs = metadata_pairs(meta.properties.as_deref(), Some(meta.kind));
    set_metadata_headers(response, &pairs);
    crate::dfs::path::set_lease_headers(response, meta);
    crate::dfs::path::set_expiry_header(response, meta);
    if !meta.tags.is_empty() {
        set(response, "x-ms-tag-count", &meta.tags.len().to_string());
    }
    crate::dfs::path::set_encryption_headers(response, meta);
    crate::dfs::path::set_content_headers(response, meta);
}

/// Get Blob: the committed content, whole or the range of `x-ms-range`/`Range`.
async fn download(
    state: &DfsState,
    headers: &HeaderMap,
    at: At<'_>,
) -> Result<Response, ServiceError> {
    let (meta, blob) = state.store.path(at.account, at.fs, at.path)?;
    if let Some(not_modified) = read_conditions(headers, &meta)? {
        return Ok(not_modified_blob(not_modified));
    }
    let range = range_of(headers, meta.len)?;
    let (start, length) = match range {
        Some((start, end)) => (start, end - start + 1),
        None => (0, meta.len),
    };
    let with_md5 = wants_range_md5(headers, range)?;
    let (body, range_md5) = content_body(blob.as_ref(), start, length, with_md5).await?;
    let status = match range {
        Some(_) => StatusCode::PARTIAL_CONTENT,
        None => StatusCode::OK,
    };
    let mut response = empty(status);
    *response.body_mut() = body;
    describe(
        &mut response,
        &meta,
        state.store.is_hierarchical(at.account),
    );
    set(&mut response, "content-length", &length.to_string());
    let stored_md5 = meta.content.content_md5.as_deref();
    match range {
        Some((first, last)) => {
            let content_range = format!("bytes {first}-{last}/{}", meta.len);
            set(&mut response, "content-range", &content_range);
            if let Some(md5) = stored_md5 {
                set(&mut response, "x-ms-blob-content-md5", md5);
            }
            if let Some(md5) = range_md5 {
                set(&mut response, "content-md5", &md5);
            }
        }
        None => {
            if let Some(md5) = stored_md5 {
                set(&mut response, "content-md5", md5);
            }
        }
    }
    crate::dfs::data::structure_response(headers, &mut response, length).await?;
    Ok(response)
}
