//! Block blobs: blocks staged by Put Block (uncommitted: kept per blob, invisible to reads
//! and listings, gone after a week or at the next commit) and Get Block List. The commit of
//! Put Block List or Put Blob is in [`super::commit`].
//!
//! Uncommitted blocks live in memory with their staging files, like staged DFS appends: a
//! restart drops them. The committed block list is part of the blob's metadata.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::content::Staged;
use super::model::{ContentHeaders, Kind, PathMeta};
use super::{Store, fs_mut, persist};
use crate::conditions::Conditions;
use crate::errors::ServiceError;
use crate::lease;

/// Most blocks a committed blob has.
pub(crate) const MAX_COMMITTED_BLOCKS: usize = 50_000;
/// Most uncommitted blocks a blob has.
pub(crate) const MAX_UNCOMMITTED_BLOCKS: usize = 100_000;
/// Longest a block ID is, decoded.
pub(crate) const MAX_BLOCK_ID_BYTES: usize = 64;
/// How long an uncommitted block is kept.
pub(crate) const UNCOMMITTED_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// One block of a committed blob, in blob order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CommittedBlock {
    /// The block ID as the client gave it (base64).
    pub id: String,
    /// Its length in bytes.
    pub len: u64,
}

/// A staged block.
#[derive(Debug, Clone)]
pub(super) struct StagedBlock {
    /// Its ID (base64).
    pub id: String,
    /// Its length.
    pub len: u64,
    /// Its data.
    pub data: Staged,
    /// When it was staged (it expires a week later).
    pub staged_at: SystemTime,
}

/// A block Put Block received.
#[derive(Debug)]
pub(crate) struct NewBlock<'a> {
    /// Its ID (base64).
    pub id: &'a str,
    /// Its length.
    pub len: u64,
    /// Its data.
    pub data: Staged,
}

/// Where a block of a block list is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pick {
    /// `<Latest>`: the uncommitted block, else the committed one.
    Latest,
    /// `<Committed>`.
    Committed,
    /// `<Uncommitted>`.
    Uncommitted,
}

/// Which blocks Get Block List answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListType {
    /// `committed` (the default).
    Committed,
    /// `uncommitted`.
    Uncommitted,
    /// `all`.
    All,
}

/// What a commit writes: the blocks of a block list, or one body (Put Blob).
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// Put Block List's blocks.
    Blocks(Vec<(Pick, String)>),
    /// Put Blob's staged body and its length.
    Body(Staged, u64),
}

/// A commit (Put Blob or Put Block List).
#[derive(Debug, Clone)]
pub(crate) struct CommitRequest {
    /// The new content.
    pub source: Source,
    /// Content headers of the new blob.
    pub content: ContentHeaders,
    /// Metadata of the new blob (`x-ms-properties` form).
    pub properties: Option<String>,
    /// Conditions on the blob being replaced.
    pub conditions: Conditions,
}

/// Get Block List's answer.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockListing {
    /// The committed blob, when there is one.
    pub blob: Option<PathMeta>,
    /// Committed blocks `(id, len)` (empty unless asked).
    pub committed: Vec<(String, u64)>,
    /// Uncommitted blocks `(id, len)`, oldest first (empty unless asked).
    pub uncommitted: Vec<(String, u64)>,
}

/// `(account, container, blob)`.
pub(super) type BlobKey = (String, String, String);

/// The uncommitted blocks of every blob, and the blobs being committed.
#[derive(Debug, Default)]
pub(crate) struct Uncommitted {
    inner: Mutex<UncommittedInner>,
}

#[derive(Debug, Default)]
pub(super) struct UncommittedInner {
    /// Each blob's uncommitted blocks, oldest first.
    pub blocks: HashMap<BlobKey, Vec<StagedBlock>>,
    /// Blobs a commit is being made to (a second one at the same time is refused).
    pub committing: std::collections::HashSet<BlobKey>,
}

impl Uncommitted {
    pub(super) fn lock(&self) -> MutexGuard<'_, UncommittedInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The key of a blob's uncommitted blocks.
pub(super) fn key(account: &str, fs: &str, path: &str) -> BlobKey {
    (account.to_string(), fs.to_string(), path.to_string())
}

/// Drops blocks staged more than a week ago; their staging files.
fn expire(blocks: &mut Vec<StagedBlock>, now: SystemTime) -> Vec<PathBuf> {
    let mut dropped = Vec::new();
    blocks.retain(|b| {
        let fresh = now
            .duration_since(b.staged_at)
            .is_ok_and(|age| age < UNCOMMITTED_LIFETIME)
            || now < b.staged_at;
        if !fresh {
            dropped.extend(b.data.file());
        }
        fresh
    });
    dropped
}

/// Decoded length of a block ID; `None` unless it is base64 of 1 to 64 bytes (Put Block
/// answers that with `InvalidQueryParameterValue`, a block list with `InvalidBlockList`).
pub(crate) fn block_id_len(id: &str) -> Option<usize> {
    match STANDARD.decode(id) {
        Ok(bytes) if !bytes.is_empty() && bytes.len() <= MAX_BLOCK_ID_BYTES => Some(bytes.len()),
        _ => None,
    }
}

/// `InvalidBlobOrBlock` (400): block IDs of different lengths on one blob.
pub(crate) fn invalid_blob_or_block() -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "InvalidBlobOrBlock",
        "The specified blob or block content is invalid.",
    )
}

/// `InvalidBlockList` (400): a listed block that does not exist where it is looked for.
pub(crate) fn invalid_block_list() -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "InvalidBlockList",
        "The specified block list is invalid.",
    )
}

/// `BlockListTooLong` (400): more than 50,000 blocks.
pub(crate) fn block_list_too_long() -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "BlockListTooLong",
        "The block list may not contain more than 50,000 blocks.",
    )
}

/// `BlockCountExceedsLimit` (409): more than 100,000 uncommitted blocks.
fn block_count_exceeds_limit() -> ServiceError {
    ServiceError::new(
        StatusCode::CONFLICT,
        "BlockCountExceedsLimit",
        "The uncommitted block count cannot exceed the maximum limit of 100,000 blocks.",
    )
}

/// `BlobAlreadyExists` (409): `If-None-Match: *` on an existing blob.
pub(crate) fn blob_already_exists() -> ServiceError {
    ServiceError::new(
        StatusCode::CONFLICT,
        "BlobAlreadyExists",
        "The specified blob already exists.",
    )
}

impl Store {
    /// Stages a block of `path` (Put Block); the store owns `data` from here, also on error.
    /// A block staged again under the same ID replaces the earlier one.
    pub(crate) fn stage_block(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        block: NewBlock<'_>,
        lease_id: Option<&str>,
    ) -> Result<(), ServiceError> {
        let NewBlock { id, len, data } = block;
        let checked = self.check_block(account, fs_name, path, id, lease_id);
        let mut dropped = Vec::new();
        let result = checked.and_then(|committed_len| {
            let mut inner = self.uncommitted.lock();
            let blocks = inner.blocks.entry(key(account, fs_name, path)).or_default();
            dropped = expire(blocks, SystemTime::now());
            let id_len =
                block_id_len(id).ok_or_else(ServiceError::invalid_query_parameter_value)?;
            let other = committed_len.or_else(|| blocks.first().and_then(|b| block_id_len(&b.id)));
            if other.is_some_and(|n| n != id_len) {
                return Err(invalid_blob_or_block());
            }
            if let Some(at) = blocks.iter().position(|b| b.id == id) {
                dropped.extend(blocks.remove(at).data.file());
            }
            if blocks.len() >= MAX_UNCOMMITTED_BLOCKS {
                return Err(block_count_exceeds_limit());
            }
            blocks.push(StagedBlock {
                id: id.to_string(),
                len,
                data: data.clone(),
                staged_at: SystemTime::now(),
            });
            Ok(())
        });
        if result.is_err() {
            dropped.extend(data.file());
        }
        persist::remove_files(dropped);
        result
    }

    /// Checks that a block may be staged for `path`: the container exists, the path is no
    /// directory and the lease (if any) is named. The decoded ID length of its committed
    /// blocks, when it has some.
    fn check_block(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        id: &str,
        lease_id: Option<&str>,
    ) -> Result<Option<usize>, ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        block_id_len(id).ok_or_else(ServiceError::invalid_query_parameter_value)?;
        let Some(meta) = fs.paths.get(path) else {
            return Ok(None);
        };
        if meta.kind == Kind::Directory {
            return Err(ServiceError::path_conflict());
        }
        lease::check(meta.lease.as_ref(), lease_id, true, lease::now())?;
        Ok(meta.blocks.first().and_then(|b| block_id_len(&b.id)))
    }

    /// Get Block List.
    pub(crate) fn block_list(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        list: ListType,
    ) -> Result<BlockListing, ServiceError> {
        let blob = {
            let mut accounts = self.lock();
            let fs = fs_mut(&mut accounts, account, fs_name)?;
            fs.paths
                .get(path)
                .filter(|m| m.kind == Kind::File)
                .map(|m| {
                    let mut m = m.clone();
                    m.pending.clear();
                    m
                })
        };
        let (uncommitted, dropped) = {
            let mut inner = self.uncommitted.lock();
            match inner.blocks.get_mut(&key(account, fs_name, path)) {
                Some(blocks) => {
                    let dropped = expire(blocks, SystemTime::now());
                    let listed: Vec<(String, u64)> =
                        blocks.iter().map(|b| (b.id.clone(), b.len)).collect();
                    (listed, dropped)
                }
                None => (Vec::new(), Vec::new()),
            }
        };
        persist::remove_files(dropped);
        if blob.is_none() && uncommitted.is_empty() {
            return Err(ServiceError::path_not_found());
        }
        let committed = match (&blob, list) {
            (Some(meta), ListType::Committed | ListType::All) => {
                meta.blocks.iter().map(|b| (b.id.clone(), b.len)).collect()
            }
            _ => Vec::new(),
        };
        Ok(BlockListing {
            blob,
            committed,
            uncommitted: match list {
                ListType::Committed => Vec::new(),
                _ => uncommitted,
            },
        })
    }

    /// Drops the uncommitted blocks of a blob (it was deleted).
    pub(crate) fn discard_blocks(&self, account: &str, fs_name: &str, path: &str) {
        let removed = self
            .uncommitted
            .lock()
            .blocks
            .remove(&key(account, fs_name, path));
        let files = removed.into_iter().flatten().filter_map(|b| b.data.file());
        persist::remove_files(files);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(id: &str, len: u64) -> StagedBlock {
        StagedBlock {
            id: id.to_string(),
            len,
            data: Staged::Memory(std::sync::Arc::default()),
            staged_at: SystemTime::now(),
        }
    }

    #[test]
    fn block_ids_are_base64_of_at_most_64_bytes() {
        assert_eq!(block_id_len("AAAA"), Some(3));
        assert_eq!(block_id_len(&STANDARD.encode([7u8; 64])), Some(64));
        assert_eq!(block_id_len(&STANDARD.encode([7u8; 65])), None);
        assert_eq!(block_id_len("not base64!"), None);
        assert_eq!(block_id_len(""), None);
    }

    #[test]
    fn uncommitted_blocks_expire_after_a_week() {
        let mut blocks = vec![staged("QQ==", 1), staged("Qg==", 1)];
        blocks[0].staged_at = SystemTime::now() - UNCOMMITTED_LIFETIME - Duration::from_secs(1);
        expire(&mut blocks, SystemTime::now());
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].id, "Qg==");
    }
}
