//! The fake host's Blob endpoint, over the same files as its DFS one: Get Account
//! Information, Put Block (checking `Content-MD5`), Put Block List (`Committed`, `Latest`,
//! `Uncommitted`; `If-Match`; the blob's MD5 and content type) and Get Block List. HEAD,
//! ranged GET and delete are served as on DFS.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::fake::{FakeHost, File, Seen, md5_base64};
use crate::model::{Method, Request, Response};

impl FakeHost {
    /// Answers Get Account Information.
    fn account_information(&mut self) -> Response {
        let mut headers = vec![("x-ms-account-kind".into(), "StorageV2".into())];
        if let Some(hns) = self.hns {
            headers.push(("x-ms-is-hns-enabled".into(), hns.to_string()));
        }
        Response {
            status: 200,
            headers,
            body: vec![],
        }
    }

    /// Serves a request to the Blob endpoint.
    pub(super) fn blob(&mut self, request: &Request, seen: &Seen) -> Response {
        let param = |name: &str| {
            seen.query
                .split('&')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .map(|v| {
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8()
                        .unwrap()
                        .into_owned()
                })
        };
        match (request.method, param("comp").as_deref()) {
            (Method::Get, Some("properties")) if seen.path.is_empty() => {
                assert_eq!(seen.query, "restype=account&comp=properties");
                self.account_information()
            }
            (Method::Put, Some("block")) => {
                let id = param("blockid").expect("Put Block names its block");
                BASE64.decode(&id).expect("block IDs are base64");
                if request.header("Content-MD5") != Some(&md5_base64(&request.body)) {
                    return blob_error(
                        400,
                        "Md5Mismatch",
                        "The MD5 value specified in the request did not match with the MD5 value calculated by the server.",
                    );
                }
                self.staged
                    .entry(seen.path.clone())
                    .or_default()
                    .insert(id, request.body.clone());
                status(201)
            }
            (Method::Put, Some("blocklist")) => self.put_block_list(request, &seen.path),
            (Method::Get, Some("list")) => {
                // The container's blobs directly under `prefix` (delimiter `/`), one page.
                let prefix = param("prefix").unwrap_or_default();
                let mut names: Vec<&String> = self
                    .files
                    .keys()
                    .filter(|n| {
                        n.strip_prefix(&prefix)
                            .is_some_and(|rest| !rest.contains('/'))
                    })
                    .collect();
                names.sort();
                let blobs: String = names
                    .iter()
                    .map(|n| format!("<Blob><Name>{n}</Name></Blob>"))
                    .collect();
                Response {
                    status: 200,
                    headers: vec![],
                    body: format!("<EnumerationResults><Blobs>{blobs}</Blobs><NextMarker/></EnumerationResults>")
                        .into_bytes(),
                }
            }
            (Method::Get, Some("blocklist")) => {
                assert_eq!(param("blocklisttype").as_deref(), Some("committed"));
                let Some(file) = self.files.get(&seen.path) else {
                    return blob_error(404, "BlobNotFound", "The specified blob does not exist.");
                };
                let blocks: String = file
                    .blocks
                    .iter()
                    .map(|(id, size)| {
                        format!("<Block><Name>{id}</Name><Size>{size}</Size></Block>")
                    })
                    .collect();
                Response {
                    status: 200,
                    headers: vec![("ETag".into(), format!("\"{}\"", file.etag))],
                    body: format!(
                        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>\
                         <CommittedBlocks>{blocks}</CommittedBlocks></BlockList>"
                    )
                    .into_bytes(),
                }
            }
            (Method::Head | Method::Get | Method::Delete, None) => {
                let response = self.dfs(request, seen);
                if request.method == Method::Delete && response.status == 200 {
                    self.staged.remove(&seen.path);
                }
                response
            }
            _ => blob_error(400, "InvalidQueryParameterValue", "unsupported by the fake"),
        }
    }

    fn put_block_list(&mut self, request: &Request, path: &str) -> Response {
        let existing = self.files.get(path);
        if let Some(want) = request.header("If-Match")
            && existing.is_none_or(|f| want != format!("\"{}\"", f.etag))
        {
            return blob_error(
                412,
                "ConditionNotMet",
                "The condition specified using HTTP conditional header(s) is not met.",
            );
        }
        // The committed blocks' bytes, by ID.
        let mut committed: HashMap<&str, &[u8]> = HashMap::new();
        if let Some(f) = existing {
            let mut at = 0;
            for (id, size) in &f.blocks {
                committed.insert(id, &f.committed[at..at + size]);
                at += size;
            }
        }
        let staged = self.staged.get(path);
        let text = std::str::from_utf8(&request.body).unwrap();
        let doc = roxmltree::Document::parse(text).expect("a block list is XML");
        let mut content = Vec::new();
        let mut blocks = Vec::new();
        for entry in doc.root_element().children().filter(|n| n.is_element()) {
            let id = entry.text().unwrap_or_default();
            let from_staged = staged.and_then(|s| s.get(id)).map(|b| &b[..]);
            let from_committed = committed.get(id).copied();
            let bytes = match entry.tag_name().name() {
                "Committed" => from_committed,
                "Uncommitted" => from_staged,
                "Latest" => from_staged.or(from_committed),
                other => panic!("unexpected block list entry {other}"),
            };
            let Some(bytes) = bytes else {
                return blob_error(
                    400,
                    "InvalidBlockList",
                    "The specified block list is invalid.",
                );
            };
            content.extend_from_slice(bytes);
            blocks.push((id.to_owned(), bytes.len()));
        }
        let etag = existing.map_or(1, |f| f.etag + 1);
        self.files.insert(
            path.to_owned(),
            File {
                committed: content,
                etag,
                content_md5: request.header("x-ms-blob-content-md5").map(str::to_owned),
                blocks,
                content_type: request.header("x-ms-blob-content-type").map(str::to_owned),
                metadata: request
                    .headers
                    .iter()
                    .filter_map(|(name, value)| {
                        let key = name.strip_prefix("x-ms-meta-")?;
                        Some((key.to_owned(), value.clone()))
                    })
                    .collect(),
                ..File::default()
            },
        );
        // Committing discards the blob's other uncommitted blocks.
        self.staged.remove(path);
        status(201)
    }
}

fn status(status: u16) -> Response {
    Response {
        status,
        headers: vec![],
        body: vec![],
    }
}

/// An error response as the Blob service sends it (XML).
pub fn blob_error(status: u16, code: &str, message: &str) -> Response {
    Response {
        status,
        headers: vec![("x-ms-error-code".into(), code.into())],
        body: format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>\
             {message}\nRequestId:req-2\nTime:2024-01-01T00:00:00Z</Message></Error>"
        )
        .into_bytes(),
    }
}
