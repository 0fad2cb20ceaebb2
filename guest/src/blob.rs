//! The Blob service protocol, sans I/O: the requests a flat-namespace account needs (block
//! uploads, block lists, account information) and readers of their XML answers.
//!
//! Reads, `HEAD` and deletes have the same shape on both endpoints, so the driver sends them
//! with a [`Dfs`](crate::dfs::Dfs) aimed at the Blob endpoint; this module adds what only
//! the Blob service has. As with DFS, requests carry no credential: the host authorizes
//! them at its boundary.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use percent_encoding::utf8_percent_encode;

use crate::dfs::VERSION;
use crate::model::{Method, Request, Response, StorageError};
use crate::naming::url;

/// Characters of the run ID kept in a block ID: every ID of a blob must have the same
/// length, so the run's part is cut or padded to this.
const RUN_TAG_LEN: usize = 24;

/// Builds Blob requests for one container.
#[derive(Clone, Debug)]
pub struct Blob {
    endpoint: String,
    container: String,
    run_id: String,
    requests: u64,
}

/// A committed block of a blob, as Get Block List names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedBlock {
    /// Its ID, base64 as the service returns it.
    pub id: String,
    /// Its size in bytes.
    pub size: u64,
}

impl Blob {
    /// A protocol driver for `container` at `endpoint` (no trailing slash); the run ID
    /// prefixes client request IDs and goes into block IDs.
    pub fn new(endpoint: &str, container: &str, run_id: &str) -> Blob {
        Blob {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            container: container.to_owned(),
            run_id: run_id.to_owned(),
            requests: 0,
        }
    }

    fn request_to(&mut self, method: Method, url: String) -> Request {
        self.requests += 1;
        Request {
            method,
            url,
            headers: vec![
                ("x-ms-version".into(), VERSION.into()),
                (
                    "x-ms-client-request-id".into(),
                    format!("{}-blob-{}", self.run_id, self.requests),
                ),
            ],
            body: Vec::new(),
        }
    }

    fn request(&mut self, method: Method, name: &str, query: &str) -> Request {
        let url = format!("{}?{query}", url(&self.endpoint, &self.container, name));
        self.request_to(method, url)
    }

    /// `GET /?restype=account&comp=properties` (Get Account Information): its answer's
    /// `x-ms-is-hns-enabled` says whether the account has a hierarchical namespace.
    pub fn account_information(&mut self) -> Request {
        let url = format!("{}/?restype=account&comp=properties", self.endpoint);
        self.request_to(Method::Get, url)
    }

    /// The block ID of the block starting at byte `position` of the blob: unique in the run
    /// (one block per position) and across appending runs (a later run's blocks start past
    /// the earlier ones'), the same length for every run, and sorting in file order before
    /// encoding (sixteen hex digits of the position lead).
    pub fn block_id(&self, position: u64) -> String {
        let mut tag: String = self.run_id.chars().take(RUN_TAG_LEN).collect();
        while tag.len() < RUN_TAG_LEN {
            tag.push('_');
        }
        BASE64.encode(format!("{position:016x}-{tag}"))
    }

    /// `PUT ?comp=block&blockid=…` with `Content-MD5` of the block (the service checks
    /// it); the block itself goes as the body. An uncommitted block is invisible.
    pub fn put_block(&mut self, name: &str, block_id: &str, md5: &[u8]) -> Request {
        let id = utf8_percent_encode(block_id, percent_encoding::NON_ALPHANUMERIC);
        let mut req = self.request(Method::Put, name, &format!("comp=block&blockid={id}"));
        req.headers.push(("Content-MD5".into(), BASE64.encode(md5)));
        req
    }

    /// `PUT ?comp=blocklist`: commits `list.committed` (blocks the blob already holds) then
    /// `list.latest` (this run's) as the blob's whole content, with its properties and
    /// conditions.
    pub fn put_block_list(&mut self, name: &str, list: &BlockList<'_>) -> Request {
        let mut req = self.request(Method::Put, name, "comp=blocklist");
        let mut body = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        for id in list.committed {
            body.push_str(&format!("<Committed>{id}</Committed>"));
        }
        for id in list.latest {
            body.push_str(&format!("<Latest>{id}</Latest>"));
        }
        body.push_str("</BlockList>");
        req.body = body.into_bytes();
        req.headers
            .push(("Content-Type".into(), "application/xml".into()));
        if let Some(md5) = list.md5 {
            req.headers
                .push(("x-ms-blob-content-md5".into(), BASE64.encode(md5)));
        }
        req.headers
            .push(("x-ms-blob-content-type".into(), list.content_type.into()));
        for (key, value) in list.metadata {
            req.headers
                .push((format!("x-ms-meta-{key}"), (*value).to_owned()));
        }
        if let Some(etag) = list.if_match {
            req.headers.push(("If-Match".into(), etag.into()));
        }
        req
    }

    /// `GET {container}?restype=container&comp=list&prefix=…&delimiter=/` (List Blobs):
    /// one page of the blobs directly under the virtual directory `directory`, from
    /// `marker` when given.
    pub fn list_blobs(&mut self, directory: &str, marker: Option<&str>) -> Request {
        let value =
            |v: &str| utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string();
        let mut url = format!(
            "{}/{}?restype=container&comp=list&delimiter=%2F&prefix={}",
            self.endpoint,
            crate::naming::encode_path(&self.container),
            value(&format!("{directory}/"))
        );
        if let Some(marker) = marker {
            url.push_str(&format!("&marker={}", value(marker)));
        }
        self.request_to(Method::Get, url)
    }

    /// `GET ?comp=blocklist&blocklisttype=committed`: the blob's committed blocks.
    pub fn get_block_list(&mut self, name: &str) -> Request {
        self.request(Method::Get, name, "comp=blocklist&blocklisttype=committed")
    }
}

/// What one Put Block List commits, and how.
#[derive(Debug, Default)]
pub struct BlockList<'a> {
    /// Blocks the blob already holds, kept first (an append).
    pub committed: &'a [String],
    /// This run's staged blocks, in order.
    pub latest: &'a [String],
    /// The whole blob's MD5 (`x-ms-blob-content-md5`), when known.
    pub md5: Option<&'a [u8]>,
    /// `x-ms-blob-content-type`.
    pub content_type: &'a str,
    /// User-defined metadata (`x-ms-meta-*`, values as [`metadata_value`] makes them); a
    /// commit replaces the blob's metadata.
    pub metadata: &'a [(&'a str, &'a str)],
    /// `If-Match`: commit only onto this ETag.
    pub if_match: Option<&'a str>,
}

/// A metadata value as a header carries it: visible ASCII as it is, any other byte
/// percent-encoded (a header value cannot hold it, and a file source's dataset ID is a file
/// name, which may be any text).
pub fn metadata_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b' '..=b'~' if byte != b'%' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Whether an account-information answer says the namespace is hierarchical; `None` when
/// the answer does not say (an error, or a service without the header).
pub fn hierarchical(resp: &Response) -> Option<bool> {
    if !(200..300).contains(&resp.status) {
        return None;
    }
    match resp.header("x-ms-is-hns-enabled")?.trim() {
        v if v.eq_ignore_ascii_case("true") => Some(true),
        v if v.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Reads a Get Block List answer: the committed blocks, in blob order.
pub fn committed_blocks(resp: &Response) -> Result<Vec<CommittedBlock>, StorageError> {
    const OPERATION: &str = "get block list of target";
    let bad = |why: String| StorageError::unexpected(OPERATION, resp.status, why);
    let text =
        std::str::from_utf8(&resp.body).map_err(|_| bad("the block list is not UTF-8".into()))?;
    let doc = roxmltree::Document::parse(text.trim_start_matches('\u{feff}'))
        .map_err(|e| bad(format!("the block list is not the XML expected: {e}")))?;
    let Some(committed) = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("CommittedBlocks"))
    else {
        return Ok(Vec::new());
    };
    committed
        .children()
        .filter(|n| n.has_tag_name("Block"))
        .map(|block| {
            let field = |tag: &str| {
                block
                    .children()
                    .find(|n| n.has_tag_name(tag))
                    .and_then(|n| n.text())
                    .map(str::trim)
            };
            let id = field("Name").ok_or_else(|| bad("a block has no Name".into()))?;
            let size = field("Size")
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(format!("block {id} has no valid Size")))?;
            Ok(CommittedBlock {
                id: id.to_owned(),
                size,
            })
        })
        .collect()
}

/// Reads a List Blobs answer: the blobs' names (prefixes of deeper directories left out)
/// and the marker of the next page, if any.
pub fn blob_names(resp: &Response) -> Result<(Vec<String>, Option<String>), StorageError> {
    const OPERATION: &str = "list output directory";
    let bad = |why: String| StorageError::unexpected(OPERATION, resp.status, why);
    let text =
        std::str::from_utf8(&resp.body).map_err(|_| bad("the listing is not UTF-8".into()))?;
    let doc = roxmltree::Document::parse(text.trim_start_matches('\u{feff}'))
        .map_err(|e| bad(format!("the listing is not the XML expected: {e}")))?;
    let root = doc.root_element();
    let child_text = |node: roxmltree::Node, tag: &str| {
        node.children()
            .find(|n| n.has_tag_name(tag))
            .and_then(|n| n.text())
            .map(str::to_owned)
    };
    let names = root
        .children()
        .filter(|n| n.has_tag_name("Blobs"))
        .flat_map(|blobs| blobs.children().filter(|n| n.has_tag_name("Blob")))
        .filter_map(|blob| child_text(blob, "Name"))
        .collect();
    let next = child_text(root, "NextMarker").filter(|m| !m.is_empty());
    Ok((names, next))
}

/// The first line of the `<Message>` of a Blob error body, if it has one.
pub fn error_message(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let doc = roxmltree::Document::parse(text.trim_start_matches('\u{feff}')).ok()?;
    let message = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("Message"))?
        .text()?;
    Some(message.to_owned())
}

#[cfg(test)]
mod tests;
