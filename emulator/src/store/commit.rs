//! The commit of Put Block List or Put Blob: the blob's new content (staged blocks, ranges
//! of its committed content, or one body) is written aside, then swapped in with one
//! metadata change, so a reader sees the old blob or the new one. Every uncommitted block
//! of the blob is discarded then; a commit that fails changes nothing.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use super::blocks::{
    CommitRequest, CommittedBlock, MAX_COMMITTED_BLOCKS, Pick, Source, StagedBlock,
    blob_already_exists, block_id_len, block_list_too_long, invalid_block_list, key,
};
use super::content::{Chunks, Staged};
use super::model::{self, Kind, PathMeta};
use super::{Content, Store, fs_mut, paths, persist};
use crate::conditions::{Conditions, Outcome};
use crate::errors::ServiceError;
use crate::lease;

/// The new content a commit wrote aside: its content ID, length and (in memory) bytes.
struct Written {
    id: String,
    len: u64,
    memory: Arc<Chunks>,
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
    use std::time::SystemTime;

    fn staged(id: &str, len: u64) -> StagedBlock {
        StagedBlock {
            id: id.to_string(),
            len,
            data: Staged::Memory(Arc::default()),
            staged_at: SystemTime::now(),
        }
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
}
