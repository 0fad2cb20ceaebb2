//! List Blobs: `GET /{account}/{container}?restype=container&comp=list[&prefix][&delimiter]
//! [&marker][&maxresults][&include=metadata]`.
//!
//! Files and directories are listed in name order; on a hierarchical namespace a directory is a
//! blob too (zero length, `ResourceType` `directory`, metadata `hdi_isfolder=true`). With a
//! delimiter, deeper names collapse into `BlobPrefix` entries; a directory then shows both as a
//! blob and as a prefix, as on the service. `NextMarker` is the name the next page starts at.

use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::xml::Xml;
use super::{
    includes, max_results, metadata_pairs, service_endpoint, write_metadata, xml_response,
};
use crate::dfs::{DfsState, Query};
use crate::errors::ServiceError;
use crate::store::model::{Kind, PathMeta};
use crate::store::{BlobListRequest, DeletedPath, Listed};
use crate::timefmt;

/// One page of List Blobs as XML.
pub(crate) fn list_blobs(
    state: &DfsState,
    headers: &HeaderMap,
    query: &Query,
    account: &str,
    fs: &str,
) -> Result<Response, ServiceError> {
    let request = BlobListRequest {
        prefix: query.get("prefix").unwrap_or_default().to_string(),
        delimiter: query.get("delimiter").map(str::to_string),
        marker: query
            .get("marker")
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        max_results: max_results(query)?,
    };
    if query.get("showonly") == Some("deleted") {
        return list_deleted(state, headers, query, account, fs, &request);
    }
    let page = state.store.list_blobs(account, fs, &request)?;
    let with_metadata = includes(query, "metadata");
    let hierarchical = state.store.is_hierarchical(account);
    let endpoint = service_endpoint(state, headers, account);
    let mut doc = Xml::new();
    doc.open_with(
        "EnumerationResults",
        &[("ServiceEndpoint", &endpoint), ("ContainerName", fs)],
    );
    doc.leaf_opt("Prefix", query.get("prefix"))
        .leaf_opt("Marker", request.marker.as_deref())
        .leaf_opt("MaxResults", query.get("maxresults"))
        .leaf_opt("Delimiter", request.delimiter.as_deref())
        .open("Blobs");
    for entry in &page.entries {
        match entry {
            Listed::Blob(name, meta) => {
                write_blob(&mut doc, name, meta, with_metadata, hierarchical)
            }
            Listed::Prefix(name) => {
                doc.open("BlobPrefix")
                    .leaf("Name", name)
                    .close("BlobPrefix");
            }
        }
    }
    doc.close("Blobs")
        .leaf(
            "NextMarker",
            page.next_marker.as_deref().unwrap_or_default(),
        )
        .close("EnumerationResults");
    Ok(xml_response(doc.finish()))
}

/// One `<Blob>` element.
/// `ResourceType` only on a hierarchical namespace.
fn write_blob(doc: &mut Xml, name: &str, meta: &PathMeta, with_metadata: bool, hierarchical: bool) {
    let c = &meta.content;
    let content_type = match (meta.kind, c.content_type.as_deref()) {
        (_, Some(t)) => t,
        (Kind::File, None) => "application/octet-stream",
        (Kind::Directory, None) => "",
    };
    let lease = crate::lease::describe(meta.lease.as_ref(), crate::lease::now());
    doc.open("Blob")
        .leaf("Name", name)
        .open("Properties")
        .leaf("Creation-Time", &timefmt::rfc1123(meta.creation_time()))
        .leaf("Last-Modified", &timefmt::rfc1123(meta.last_modified()))
        .leaf("Etag", &meta.etag);
    if hierarchical {
        doc.leaf("ResourceType", meta.kind.as_str());
    }
    doc.leaf("Content-Length", &meta.len.to_string())
        .leaf("Content-Type", content_type)
        .leaf(
            "Content-Encoding",
            c.content_encoding.as_deref().unwrap_or_default(),
        )
        .leaf(
            "Content-Language",
            c.content_language.as_deref().unwrap_or_default(),
        )
        .leaf("Content-CRC64", "")
        .leaf("Content-MD5", c.content_md5.as_deref().unwrap_or_default())
        .leaf(
            "Cache-Control",
            c.cache_control.as_deref().unwrap_or_default(),
        )
        .leaf(
            "Content-Disposition",
            c.content_disposition.as_deref().unwrap_or_default(),
        )
        .leaf("BlobType", "BlockBlob")
        .leaf("AccessTier", "Hot")
        .leaf("AccessTierInferred", "true")
        .leaf("LeaseStatus", lease.status)
        .leaf("LeaseState", lease.state)
        .leaf_opt("LeaseDuration", lease.duration)
        .leaf("ServerEncrypted", "true")
        .close("Properties");
    if with_metadata {
        write_metadata(
            doc,
            &metadata_pairs(meta.properties.as_deref(), Some(meta.kind)),
        );
    }
    doc.close("Blob");
}

/// The marker of a deleted path in a listing: its name and deletion ID (names repeat when
/// a path is deleted more than once).
fn deleted_marker(entry: &DeletedPath) -> String {
    STANDARD.encode(format!("{}\n{}", entry.name, entry.deletion_id))
}

/// List Blobs with `showonly=deleted`: the soft-deleted paths, by name, with their
/// `DeletionId`, `DeletedTime` and `RemainingRetentionDays`.
fn list_deleted(
    state: &DfsState,
    headers: &HeaderMap,
    query: &Query,
    account: &str,
    fs: &str,
    request: &BlobListRequest,
) -> Result<Response, ServiceError> {
    let all = state.store.list_deleted(account, fs, &request.prefix)?;
    let start = match &request.marker {
        None => 0,
        Some(marker) => all
            .iter()
            .position(|d| &deleted_marker(d) == marker)
            .ok_or_else(ServiceError::invalid_query_parameter_value)?,
    };
    let page = &all[start..all.len().min(start + request.max_results)];
    let next = all.get(start + request.max_results).map(deleted_marker);
    let now = crate::lease::now();
    let endpoint = service_endpoint(state, headers, account);
    let mut doc = Xml::new();
    doc.open_with(
        "EnumerationResults",
        &[("ServiceEndpoint", &endpoint), ("ContainerName", fs)],
    );
    doc.leaf_opt("Prefix", query.get("prefix"))
        .leaf_opt("Marker", request.marker.as_deref())
        .leaf_opt("MaxResults", query.get("maxresults"))
        .open("Blobs");
    for entry in page {
        let meta = entry.meta();
        doc.open("Blob")
            .leaf("Name", &entry.name)
            .leaf("Deleted", "true")
            .leaf("DeletionId", &entry.deletion_id)
            .open("Properties")
            .leaf("Creation-Time", &timefmt::rfc1123(meta.creation_time()))
            .leaf("Last-Modified", &timefmt::rfc1123(meta.last_modified()))
            .leaf("Etag", &meta.etag)
            .leaf("ResourceType", meta.kind.as_str())
            .leaf("Content-Length", &meta.len.to_string())
            .leaf("BlobType", "BlockBlob")
            .leaf(
                "DeletedTime",
                &timefmt::rfc1123(timefmt::from_nanos(entry.deleted)),
            )
            .leaf(
                "RemainingRetentionDays",
                &entry.remaining_days(now).to_string(),
            )
            .close("Properties")
            .close("Blob");
    }
    doc.close("Blobs")
        .leaf("NextMarker", next.as_deref().unwrap_or_default())
        .close("EnumerationResults");
    Ok(xml_response(doc.finish()))
}
