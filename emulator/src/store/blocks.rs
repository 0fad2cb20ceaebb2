//! Block blobs: blocks staged by Put Block (uncommitted: kept per blob, invisible to reads
//! and listings, gone after a week or at the next commit), and the commit of Put Block List
//! or Put Blob, which writes the blob's new content aside and then swaps it in at once, so
//! a reader sees the old blob or the new one.
//!
//! Uncommitted blocks live in memory with their staging files, like staged DFS appends: a
//! restart drops them. The committed block list is part of the blob's metadata.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::content::{Chunks, Staged};
use super::model::{self, ContentHeaders, Kind, PathMeta};
use super::{Content, Store, fs_mut, paths, persist};
use crate::conditions::{Conditions, Outcome};
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
struct StagedBlock {
    id: String,
    len: u64,
    data: Staged,
    staged_at: SystemTime,
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

/// The new content a commit wrote aside: its content ID, length and (in memory) bytes.
struct Written {
    id: String,
    len: u64,
    memory: Arc<Chunks>,
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
type BlobKey = (String, String, String);

/// The uncommitted blocks of every blob, and the blobs being committed.
#[derive(Debug, Default)]
pub(crate) struct Uncommitted {
    inner: Mutex<UncommittedInner>,
}

#[derive(Debug, Default)]
struct UncommittedInner {
    blocks: HashMap<BlobKey, Vec<StagedBlock>>,
    committing: std::collections::HashSet<BlobKey>,
}

impl Uncommitted {
    fn lock(&self) -> MutexGuard<'_, UncommittedInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn key(account: &str, fs: &str, path: &str) -> BlobKey {
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

/// Decoded length of a block ID; `InvalidQueryParameterValue` (Put Block) or
/// `InvalidBlockList` (block lists) unless it is base64 of 1 to 64 bytes.
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

/// One piece of the new content.
#[derive(Debug, Clone)]
enum Piece {
    /// `len` bytes at `offset` of the blob's current content.
    Old { offset: u64, len: u64 },
    /// A staged block or body.
    New(Staged, u64),
}

/// What a commit copies, decided under the lock.
struct Plan {
    pieces: Vec<Piece>,
    blocks: Vec<CommittedBlock>,
    old: Option<Content>,
    old_etag: Option<String>,
}

/// Copies the pieces into a new content file and syncs it.
fn write_file(target: &PathBuf, old: Option<&Content>, pieces: &[Piece]) -> io::Result<()> {
    let mut out = File::create(target)?;
    for piece in pieces {
        match piece {
            Piece::Old { offset, len } => {
                let Some(Content::File(path)) = old else {
                    return Err(io::Error::other("committed block without content"));
                };
                let mut file = File::open(path)?;
                file.seek(SeekFrom::Start(*offset))?;
                let copied = io::copy(&mut file.take(*len), &mut out)?;
                if copied != *len {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short block"));
                }
            }
            Piece::New(Staged::File(path), len) => {
                let copied = io::copy(&mut File::open(path)?, &mut out)?;
                if copied != *len {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short block"));
                }
            }
            Piece::New(Staged::Memory(_), _) => {
                return Err(io::Error::other("staged data in memory for a file on disk"));
            }
        }
    }
    out.sync_all()
}

/// The pieces joined in memory.
fn join_memory(old: Option<&Content>, pieces: &[Piece]) -> Chunks {
    let mut chunks = Chunks::default();
    for piece in pieces {
        match piece {
            Piece::Old { offset, len } => {
                if let Some(Content::Memory(old)) = old {
                    for part in old.slice(*offset, *len) {
                        chunks.push(part);
                    }
                }
            }
            Piece::New(Staged::Memory(staged), _) => chunks.extend(staged),
            Piece::New(Staged::File(_), _) => {}
        }
    }
    chunks
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

    /// Put Blob or Put Block List: the new content is written aside, then replaces the blob
    /// in one metadata change; every uncommitted block of the blob is discarded. The body of
    /// a Put Blob is the store's from here, also on error.
    pub(crate) async fn commit_blob(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        request: CommitRequest,
    ) -> Result<PathMeta, ServiceError> {
        let blob_key = key(account, fs_name, path);
        let body_file = match &request.source {
            Source::Body(staged, _) => staged.file(),
            Source::Blocks(_) => None,
        };
        if !self.uncommitted.lock().committing.insert(blob_key.clone()) {
            persist::remove_files(body_file);
            return Err(ServiceError::server_busy());
        }
        let result = self.commit_once(account, fs_name, path, &request).await;
        self.uncommitted.lock().committing.remove(&blob_key);
        persist::remove_files(body_file);
        result
    }

    async fn commit_once(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        request: &CommitRequest,
    ) -> Result<PathMeta, ServiceError> {
        let plan = self.plan_commit(account, fs_name, path, request)?;
        let id = uuid::Uuid::new_v4().to_string();
        let target = self.blob_file(account, fs_name, &id);
        let memory = match &target {
            Some(target) => {
                let (target, old, pieces) = (target.clone(), plan.old.clone(), plan.pieces.clone());
                let written =
                    tokio::task::spawn_blocking(move || write_file(&target, old.as_ref(), &pieces))
                        .await
                        .map_err(|_| ServiceError::internal_error())?;
                if let Err(e) = written {
                    persist::remove_files(self.blob_file(account, fs_name, &id));
                    return Err(e.into());
                }
                Arc::default()
            }
            None => Arc::new(join_memory(plan.old.as_ref(), &plan.pieces)),
        };
        let len = plan.pieces.iter().map(|p| match p {
            Piece::Old { len, .. } | Piece::New(_, len) => *len,
        });
        let len = len.sum();
        let written = Written {
            id: id.clone(),
            len,
            memory,
        };
        let committed = self.swap_in(account, fs_name, path, request, &plan, written);
        if committed.is_err() {
            persist::remove_files(self.blob_file(account, fs_name, &id));
        }
        committed
    }

    /// Checks the commit and resolves its blocks, under the lock.
    fn plan_commit(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        request: &CommitRequest,
    ) -> Result<Plan, ServiceError> {
        let hierarchical = self.is_hierarchical(account);
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        if hierarchical {
            paths::check_ancestors(fs, path)?;
        }
        let existing = fs.paths.get(path);
        if existing.is_some_and(|m| m.kind == Kind::Directory) {
            return Err(ServiceError::path_conflict());
        }
        check_conditions(&request.conditions, existing)?;
        let old = existing.and_then(|meta| {
            meta.blob
                .as_ref()
                .map(|id| match self.blob_file(account, fs_name, id) {
                    Some(file) => Content::File(file),
                    None => Content::Memory(meta.memory.clone()),
                })
        });
        let old_etag = existing.map(|m| m.etag.clone());
        let committed: Vec<CommittedBlock> = existing.map(|m| m.blocks.clone()).unwrap_or_default();
        let (pieces, blocks) = match &request.source {
            Source::Body(staged, len) => (vec![Piece::New(staged.clone(), *len)], Vec::new()),
            Source::Blocks(list) => {
                if list.len() > MAX_COMMITTED_BLOCKS {
                    return Err(block_list_too_long());
                }
                let inner = self.uncommitted.lock();
                let staged = inner
                    .blocks
                    .get(&key(account, fs_name, path))
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                resolve(list, &committed, staged)?
            }
        };
        Ok(Plan {
            pieces,
            blocks,
            old,
            old_etag,
        })
    }

    /// Puts the new content in place of the blob, unless the blob changed since the plan.
    fn swap_in(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        request: &CommitRequest,
        plan: &Plan,
        written: Written,
    ) -> Result<PathMeta, ServiceError> {
        let Written { id, len, memory } = written;
        let hierarchical = self.is_hierarchical(account);
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let existing = fs.paths.get(path);
        if existing.map(|m| &m.etag) != plan.old_etag.as_ref() {
            // Changed by the DFS endpoint meanwhile: the client may retry.
            return Err(ServiceError::server_busy());
        }
        if hierarchical {
            for ancestor in model::ancestors(path) {
                fs.paths
                    .entry(ancestor.to_string())
                    .or_insert_with(|| PathMeta::new(Kind::Directory, None));
            }
        }
        let mut meta = PathMeta::new(Kind::File, Some(id));
        meta.len = len;
        meta.memory = memory;
        meta.blocks = plan.blocks.clone();
        meta.content = request.content.clone();
        meta.properties = request.properties.clone();
        meta.encryption_scope = fs.encryption_scope.clone();
        let old = fs.paths.get(path);
        if let Some(old) = old {
            meta.created = old.created;
            meta.lease = old.lease.clone();
            meta.access = old.access.clone();
        }
        let replaced = fs.paths.insert(path.to_string(), meta.clone());
        self.save(account, fs_name, fs)?;
        drop(accounts);
        if let Some(old) = replaced {
            persist::remove_files(paths::leftovers(self, account, fs_name, &old));
        }
        self.discard_blocks(account, fs_name, path);
        Ok(meta)
    }
}

/// The write conditions of a commit: `If-None-Match: *` on an existing blob is
/// `BlobAlreadyExists`; the others are checked against the blob (`ConditionNotMet`), and
/// its lease must be named.
fn check_conditions(
    conditions: &Conditions,
    existing: Option<&PathMeta>,
) -> Result<(), ServiceError> {
    if conditions.is_create_only() && existing.is_some() {
        return Err(blob_already_exists());
    }
    match existing {
        Some(meta) => meta.check_write(conditions),
        None if conditions.evaluate(None, false) != Outcome::Pass => {
            Err(ServiceError::condition_not_met())
        }
        None if conditions.lease_id().is_some() => Err(lease::not_present()),
        None => Ok(()),
    }
}

/// The pieces and the new committed block list of a block list: every block must exist
/// where it is looked for, and all IDs have one length.
fn resolve(
    list: &[(Pick, String)],
    committed: &[CommittedBlock],
    staged: &[StagedBlock],
) -> Result<(Vec<Piece>, Vec<CommittedBlock>), ServiceError> {
    let mut offsets = HashMap::new();
    let mut offset = 0u64;
    for block in committed {
        offsets
            .entry(block.id.as_str())
            .or_insert((offset, block.len));
        offset += block.len;
    }
    let staged_by_id: HashMap<&str, &StagedBlock> =
        staged.iter().map(|b| (b.id.as_str(), b)).collect();
    let mut id_len = None;
    let mut pieces = Vec::with_capacity(list.len());
    let mut blocks = Vec::with_capacity(list.len());
    for (pick, id) in list {
        let this_len = block_id_len(id).ok_or_else(invalid_block_list)?;
        if id_len.is_some_and(|n| n != this_len) {
            return Err(invalid_block_list());
        }
        id_len = Some(this_len);
        let from_staged = || {
            staged_by_id
                .get(id.as_str())
                .map(|b| Piece::New(b.data.clone(), b.len))
        };
        let from_committed = || {
            offsets
                .get(id.as_str())
                .map(|&(offset, len)| Piece::Old { offset, len })
        };
        let piece = match pick {
            Pick::Latest => from_staged().or_else(from_committed),
            Pick::Uncommitted => from_staged(),
            Pick::Committed => from_committed(),
        }
        .ok_or_else(invalid_block_list)?;
        let len = match &piece {
            Piece::Old { len, .. } | Piece::New(_, len) => *len,
        };
        blocks.push(CommittedBlock {
            id: id.clone(),
            len,
        });
        pieces.push(piece);
    }
    Ok((pieces, blocks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(id: &str, len: u64) -> StagedBlock {
        StagedBlock {
            id: id.to_string(),
            len,
            data: Staged::Memory(Arc::default()),
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
    fn block_lists_resolve_latest_committed_and_uncommitted() {
        let committed = [
            CommittedBlock {
                id: "QQ==".into(),
                len: 3,
            },
            CommittedBlock {
                id: "Qg==".into(),
                len: 5,
            },
        ];
        let uncommitted = [staged("Qg==", 7), staged("Qw==", 2)];
        let list = [
            (Pick::Committed, "Qg==".to_string()),
            (Pick::Latest, "Qg==".to_string()),
            (Pick::Latest, "QQ==".to_string()),
            (Pick::Uncommitted, "Qw==".to_string()),
        ];
        let (pieces, blocks) = resolve(&list, &committed, &uncommitted).unwrap();
        let lens: Vec<u64> = blocks.iter().map(|b| b.len).collect();
        assert_eq!(lens, [5, 7, 3, 2]);
        assert!(matches!(pieces[0], Piece::Old { offset: 3, len: 5 }));
        assert!(matches!(pieces[2], Piece::Old { offset: 0, len: 3 }));
        for missing in [
            (Pick::Committed, "Qw=="),
            (Pick::Uncommitted, "QQ=="),
            (Pick::Latest, "RA=="),
        ] {
            let list = [(missing.0, missing.1.to_string())];
            let e = resolve(&list, &committed, &uncommitted).unwrap_err();
            assert_eq!(e.code, "InvalidBlockList", "{missing:?}");
        }
        let mixed = [
            (Pick::Latest, "QQ==".to_string()),
            (Pick::Latest, "QUFB".to_string()),
        ];
        assert_eq!(
            resolve(&mixed, &committed, &uncommitted).unwrap_err().code,
            "InvalidBlockList"
        );
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
