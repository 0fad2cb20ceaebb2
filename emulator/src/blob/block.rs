//! The block blob write path: Put Blob (`PUT`, `x-ms-blob-type: BlockBlob`), Put Block
//! (`comp=block&blockid=`), Put Block List (`comp=blocklist`) and Get Block List
//! (`GET comp=blocklist&blocklisttype=`).
//!
//! Bodies are checked against `Content-MD5` / `x-ms-content-crc64` as they arrive; blocks
//! stay invisible until a block list commits them, and a commit swaps the blob's content at
//! once (see [`crate::store::blocks`]).

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::xml::Xml;
use super::{metadata_from_headers, xml_response};
use crate::conditions::Conditions;
use crate::crc64;
use crate::dfs::data::{Integrity, content_length, receive};
use crate::dfs::{At, DfsState, Query, empty, header_str, set, set_version};
use crate::errors::ServiceError;
use crate::store::blocks::{CommitRequest, ListType, NewBlock, Pick, Source, block_id_len};
use crate::store::model::{ContentHeaders, PathMeta};

/// Largest Put Block List body taken: 50,000 entries of the longest IDs fit well within it.
const MAX_BLOCK_LIST_BODY: usize = 16 * 1024 * 1024;

/// `InvalidXmlDocument` (400).
fn invalid_xml() -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "InvalidXmlDocument",
        "XML specified is not syntactically valid.",
    )
}

/// `InvalidBlobType`-like refusal of the blob types the emulator does not keep.
fn unsupported_blob_type() -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "InvalidHeaderValue",
        "The value for one of the HTTP headers is not in the correct format. \
         (The emulator keeps block blobs only: x-ms-blob-type must be BlockBlob.)",
    )
}

/// The content headers a Put Blob or Put Block List stores: `x-ms-blob-content-*` and
/// `x-ms-blob-cache-control`; for Put Blob the plain `Content-*` headers too, when the
/// `x-ms-blob-` ones are absent.
fn stored_content(headers: &HeaderMap, plain: bool) -> Result<ContentHeaders, ServiceError> {
    let get = |name: &str| {
        let blob = header_str(headers, &format!("x-ms-blob-{name}"));
        let plain = plain.then(|| header_str(headers, name)).flatten();
        blob.or(plain).filter(|v| !v.is_empty()).map(str::to_string)
    };
    let content_md5 = match header_str(headers, "x-ms-blob-content-md5").filter(|v| !v.is_empty()) {
        None => None,
        Some(md5) => match STANDARD.decode(md5.trim()) {
            Ok(bytes) if bytes.len() == 16 => Some(md5.trim().to_string()),
            _ => return Err(ServiceError::invalid_header_value()),
        },
    };
    Ok(ContentHeaders {
        content_type: Some(
            get("content-type").unwrap_or_else(|| "application/octet-stream".into()),
        ),
        content_encoding: get("content-encoding"),
        content_language: get("content-language"),
        content_disposition: get("content-disposition"),
        cache_control: get("cache-control"),
        content_md5,
    })
}

/// The answer to a commit: 201 with the new `ETag` and `Last-Modified`.
fn committed(meta: &PathMeta) -> Response {
    let mut response = empty(StatusCode::CREATED);
    set_version(&mut response, &meta.etag, meta.last_modified());
    set(&mut response, "x-ms-request-server-encrypted", "true");
    response
}

/// Put Blob: the body becomes the whole blob (its uncommitted blocks are discarded).
pub(crate) async fn put_blob(
    state: &DfsState,
    headers: &HeaderMap,
    body: Body,
    at: At<'_>,
) -> Result<Response, ServiceError> {
    match header_str(headers, "x-ms-blob-type") {
        None => return Err(ServiceError::missing_required_header()),
        Some("BlockBlob") => {}
        Some(_) => return Err(unsupported_blob_type()),
    }
    let declared = content_length(headers)?.ok_or_else(ServiceError::missing_content_length)?;
    let integrity = Integrity::from_headers(headers)?;
    let mut content = stored_content(headers, true)?;
    let metadata = metadata_from_headers(headers)?;
    let conditions = Conditions::from_headers(headers);
    // The container must exist before the body is taken.
    state.store.filesystem(at.account, at.fs)?;
    let sink = state.store.staging_sink().await?;
    let received = receive(body, sink, declared, &integrity, true).await?;
    let md5 = received.md5.map(|m| STANDARD.encode(m));
    if content.content_md5.is_none() {
        // The service keeps the MD5 of a blob uploaded in one request.
        content.content_md5 = md5.clone();
    }
    let request = CommitRequest {
        source: Source::Body(received.staged, received.len),
        content,
        properties: metadata,
        conditions,
    };
    let meta = state
        .store
        .commit_blob(at.account, at.fs, at.path, request)
        .await?;
    let mut response = committed(&meta);
    if let Some(md5) = md5 {
        set(&mut response, "content-md5", &md5);
    }
    Ok(response)
}

/// Put Block: stages the body under `blockid`.
pub(crate) async fn put_block(
    state: &DfsState,
    headers: &HeaderMap,
    query: &Query,
    body: Body,
    at: At<'_>,
) -> Result<Response, ServiceError> {
    let id = query
        .get("blockid")
        .ok_or_else(ServiceError::missing_required_query_parameter)?;
    if block_id_len(id).is_none() {
        return Err(ServiceError::invalid_query_parameter_value());
    }
    let declared = content_length(headers)?.ok_or_else(ServiceError::missing_content_length)?;
    let integrity = Integrity::from_headers(headers)?;
    state.store.filesystem(at.account, at.fs)?;
    let sink = state.store.staging_sink().await?;
    let received = receive(body, sink, declared, &integrity, false).await?;
    let lease_id = header_str(headers, "x-ms-lease-id").filter(|v| !v.is_empty());
    let block = NewBlock {
        id,
        len: received.len,
        data: received.staged,
    };
    state
        .store
        .stage_block(at.account, at.fs, at.path, block, lease_id)?;
    let mut response = empty(StatusCode::CREATED);
    if let Some(md5) = received.md5 {
        set(&mut response, "content-md5", &STANDARD.encode(md5));
    }
    if let Some(crc) = received.crc64 {
        set(&mut response, "x-ms-content-crc64", &crc64::to_header(crc));
    }
    set(&mut response, "x-ms-request-server-encrypted", "true");
    Ok(response)
}

/// The entries of a `<BlockList>` document, in order.
fn parse_block_list(text: &str) -> Result<Vec<(Pick, String)>, ServiceError> {
    let doc = roxmltree::Document::parse(text).map_err(|_| invalid_xml())?;
    let root = doc.root_element();
    if root.tag_name().name() != "BlockList" {
        return Err(invalid_xml());
    }
    let mut list = Vec::new();
    for node in root.children().filter(roxmltree::Node::is_element) {
        let pick = match node.tag_name().name() {
            "Latest" => Pick::Latest,
            "Committed" => Pick::Committed,
            "Uncommitted" => Pick::Uncommitted,
            _ => return Err(invalid_xml()),
        };
        list.push((pick, node.text().unwrap_or_default().trim().to_string()));
    }
    Ok(list)
}

/// Put Block List: commits the listed blocks as the blob.
pub(crate) async fn put_block_list(
    state: &DfsState,
    headers: &HeaderMap,
    body: Body,
    at: At<'_>,
) -> Result<Response, ServiceError> {
    let content = stored_content(headers, false)?;
    let metadata = metadata_from_headers(headers)?;
    let conditions = Conditions::from_headers(headers);
    let bytes = axum::body::to_bytes(body, MAX_BLOCK_LIST_BODY)
        .await
        .map_err(|_| ServiceError::request_body_too_large())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid_xml())?;
    let list = parse_block_list(text)?;
    // The service answers the MD5 of the request's content: the block list.
    let list_md5 = STANDARD.encode(<md5::Md5 as md5::Digest>::digest(&bytes));
    let request = CommitRequest {
        source: Source::Blocks(list),
        content,
        properties: metadata,
        conditions,
    };
    let meta = state
        .store
        .commit_blob(at.account, at.fs, at.path, request)
        .await?;
    let mut response = committed(&meta);
    set(&mut response, "content-md5", &list_md5);
    Ok(response)
}

/// Get Block List: `blocklisttype=committed` (default), `uncommitted` or `all`.
pub(crate) fn get_block_list(
    state: &DfsState,
    headers: &HeaderMap,
    query: &Query,
    at: At<'_>,
) -> Result<Response, ServiceError> {
    let list = match query
        .get("blocklisttype")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("committed") => ListType::Committed,
        Some("uncommitted") => ListType::Uncommitted,
        Some("all") => ListType::All,
        Some(_) => return Err(ServiceError::invalid_query_parameter_value()),
    };
    let listing = state.store.block_list(at.account, at.fs, at.path, list)?;
    if let Some(blob) = &listing.blob {
        let lease_id = header_str(headers, "x-ms-lease-id").filter(|v| !v.is_empty());
        crate::lease::check(blob.lease.as_ref(), lease_id, false, crate::lease::now())?;
    }
    let mut doc = Xml::new();
    doc.open("BlockList");
    let sections = [
        (
            "CommittedBlocks",
            &listing.committed,
            list != ListType::Uncommitted,
        ),
        (
            "UncommittedBlocks",
            &listing.uncommitted,
            list != ListType::Committed,
        ),
    ];
    for (section, blocks, shown) in sections {
        if !shown {
            continue;
        }
        doc.open(section);
        for (id, len) in blocks {
            doc.open("Block")
                .leaf("Name", id)
                .leaf("Size", &len.to_string())
                .close("Block");
        }
        doc.close(section);
    }
    doc.close("BlockList");
    let mut response = xml_response(doc.finish());
    if let Some(blob) = &listing.blob {
        set_version(&mut response, &blob.etag, blob.last_modified());
    }
    let len = listing.blob.as_ref().map_or(0, |b| b.len);
    set(&mut response, "x-ms-blob-content-length", &len.to_string());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_lists_parse_in_order_and_refuse_other_elements() {
        let text = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>\
                    <Latest>QQ==</Latest><Committed> Qg== </Committed>\
                    <Uncommitted>Qw==</Uncommitted></BlockList>";
        let list = parse_block_list(text).unwrap();
        assert_eq!(
            list,
            vec![
                (Pick::Latest, "QQ==".to_string()),
                (Pick::Committed, "Qg==".to_string()),
                (Pick::Uncommitted, "Qw==".to_string()),
            ]
        );
        for bad in [
            "<BlockList><Block>QQ==</Block></BlockList>",
            "<Other/>",
            "<BlockList>",
        ] {
            assert_eq!(
                parse_block_list(bad).unwrap_err().code,
                "InvalidXmlDocument",
                "{bad}"
            );
        }
    }

    #[test]
    fn put_blob_keeps_its_content_type_and_defaults_it() {
        let mut headers = HeaderMap::new();
        let content = stored_content(&headers, true).unwrap();
        assert_eq!(
            content.content_type.as_deref(),
            Some("application/octet-stream")
        );
        headers.insert("content-type", "text/csv".parse().unwrap());
        assert_eq!(
            stored_content(&headers, true)
                .unwrap()
                .content_type
                .as_deref(),
            Some("text/csv")
        );
        assert_eq!(
            stored_content(&headers, false)
                .unwrap()
                .content_type
                .as_deref(),
            Some("application/octet-stream")
        );
        headers.insert("x-ms-blob-content-md5", "short".parse().unwrap());
        assert!(stored_content(&headers, true).is_err());
    }
}
