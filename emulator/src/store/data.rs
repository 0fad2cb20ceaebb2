//! File data: staged appends and the flush that commits them.
//!
//! An append's data goes to its own staging file (so appends at different positions can
//! arrive concurrently and in any order) and is recorded as a pending range of the file. A
//! flush to position `N` picks the ranges that exactly tile `[length, N)` (the latest append
//! wins at a position), copies them after the committed bytes of the file's content, fsyncs,
//! and then commits the new length with the index write. Staged data is kept on disk, its
//! bookkeeping in memory: a restart drops uncommitted data.
//!
//! In an in-memory store the staged data is the append's body buffers, and a flush adds them
//! to the file's content under the lock (no copy, nothing to sync).

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use super::content::Staged;
use super::model::{ContentHeaders, Kind, PathMeta, Pending};
use super::{Store, fs_mut, persist};
use crate::conditions::{Conditions, Outcome};
use crate::errors::ServiceError;
use crate::lease::{self, WriteLease};

/// A flush (`PATCH ?action=flush`).
#[derive(Debug, Clone, Default)]
pub(crate) struct FlushRequest {
    /// `position`: the file's length after the flush.
    pub position: u64,
    /// `retainUncommittedData`: keep staged data past `position`.
    pub retain_uncommitted: bool,
    /// Content headers to store; `content_md5` replaces the stored one, the others only when
    /// given.
    pub content: ContentHeaders,
    /// Conditions on the file.
    pub conditions: Conditions,
    /// The lease the flush is made under, and what it does with it.
    pub lease: WriteLease,
}

/// What a flush copies, decided under the lock.
struct Plan {
    /// The content file to copy into (`None` in memory: nothing to copy).
    blob: Option<PathBuf>,
    blob_id: String,
    committed: u64,
    ranges: Vec<Pending>,
}

/// Picks staged ranges that exactly cover `[from, to)`, the latest append at each position.
fn tile(pending: &[Pending], from: u64, to: u64) -> Option<Vec<Pending>> {
    let mut cursor = from;
    let mut chosen = Vec::new();
    while cursor < to {
        let next = pending
            .iter()
            .filter(|p| p.position == cursor)
            .max_by_key(|p| p.seq)?;
        cursor += next.len;
        if cursor > to {
            return None;
        }
        chosen.push(next.clone());
    }
    Some(chosen)
}

/// Copies the ranges after the committed bytes of the content file and fsyncs it (nothing to
/// do in memory).
fn copy_ranges(plan: &Plan) -> io::Result<()> {
    let Some(blob) = plan.blob.as_ref().filter(|_| !plan.ranges.is_empty()) else {
        return Ok(());
    };
    let mut blob = OpenOptions::new().write(true).open(blob)?;
    // Bytes past the committed length are leftovers of a failed flush.
    blob.set_len(plan.committed)?;
    blob.seek(SeekFrom::Start(plan.committed))?;
    for range in &plan.ranges {
        let Staged::File(file) = &range.data else {
            return Err(io::Error::other("staged data in memory for a file on disk"));
        };
        let mut staged = File::open(file)?;
        let copied = io::copy(&mut staged, &mut blob)?;
        if copied != range.len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "staged data is short",
            ));
        }
    }
    blob.sync_all()
}

impl Store {
    /// Fails unless `path` is an existing file that data can be appended to under `lease`
    /// (which may acquire or renew the file's lease). Returns the ID of the lease the append
    /// is made under.
    pub(crate) fn check_appendable(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        lease: &WriteLease,
    ) -> Result<Option<String>, ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let meta = match fs.paths.get_mut(path) {
            Some(meta) if meta.kind == Kind::File => meta,
            _ => return Err(ServiceError::path_not_found()),
        };
        let before = meta.lease.clone();
        let held = lease.begin(&mut meta.lease, lease::now())?;
        if meta.lease != before {
            self.save(account, fs_name, fs)?;
        }
        Ok(held)
    }

    /// Records staged data as an uncommitted range of `path`. On error the caller still owns
    /// (and removes) the staged data.
    pub(crate) fn register_append(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        position: u64,
        len: u64,
        data: Staged,
    ) -> Result<(), ServiceError> {
        let seq = self.next_seq();
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        match fs.paths.get_mut(path) {
            Some(meta) if meta.kind == Kind::File => {
                meta.pending.push(Pending {
                    position,
                    len,
                    data,
                    seq,
                });
                Ok(())
            }
            _ => Err(ServiceError::path_not_found()),
        }
    }

    /// Commits staged data up to `request.position`.
    pub(crate) async fn flush(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        request: FlushRequest,
    ) -> Result<PathMeta, ServiceError> {
        let (plan, dropped) = self.plan_flush(account, fs_name, path, &request)?;
        persist::remove_files(dropped);
        let (plan, copied) = if plan.blob.is_some() {
            tokio::task::spawn_blocking(move || {
                let copied = copy_ranges(&plan);
                (plan, copied)
            })
            .await
            .map_err(|_| ServiceError::internal_error())?
        } else {
            (plan, Ok(()))
        };
        let staged: Vec<PathBuf> = plan.ranges.iter().filter_map(|r| r.data.file()).collect();
        if let Err(e) = copied {
            self.abort_flush(account, fs_name, path, &plan.blob_id);
            persist::remove_files(staged);
            return Err(e.into());
        }
        let result = self.commit_flush(account, fs_name, path, &plan, request);
        persist::remove_files(staged);
        result
    }

    /// Validates the flush and takes its ranges out of the pending list.
    fn plan_flush(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        request: &FlushRequest,
    ) -> Result<(Plan, Vec<PathBuf>), ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let meta = match fs.paths.get_mut(path) {
            Some(meta) if meta.kind == Kind::File => meta,
            _ => return Err(ServiceError::path_not_found()),
        };
        if request.conditions.evaluate(Some(meta.version()), false) != Outcome::Pass {
            return Err(ServiceError::condition_not_met());
        }
        if meta.flushing {
            return Err(ServiceError::server_busy());
        }
        if request.position < meta.len {
            return Err(ServiceError::invalid_flush_position());
        }
        let ranges = tile(&meta.pending, meta.len, request.position)
            .ok_or_else(ServiceError::invalid_flush_position)?;
        // The lease is taken (or checked) last: a flush refused otherwise changes nothing.
        request.lease.begin(&mut meta.lease, lease::now())?;
        let all = std::mem::take(&mut meta.pending);
        let mut dropped = Vec::new();
        for pending in all {
            let used = ranges.iter().any(|r| r.seq == pending.seq);
            if used {
                continue;
            }
            if request.retain_uncommitted && pending.position >= request.position {
                meta.pending.push(pending);
            } else {
                dropped.extend(pending.data.file());
            }
        }
        meta.flushing = true;
        let blob_id = meta.blob.clone().ok_or_else(ServiceError::internal_error)?;
        let plan = Plan {
            blob: self.blob_file(account, fs_name, &blob_id),
            blob_id,
            committed: meta.len,
            ranges,
        };
        Ok((plan, dropped))
    }

    /// Finds the file being flushed again (it may have been renamed meanwhile).
    fn flushed_file<'a>(
        fs: &'a mut super::FsMeta,
        path: &str,
        blob_id: &str,
    ) -> Option<&'a mut PathMeta> {
        let name = if fs.paths.get(path).and_then(|m| m.blob.as_deref()) == Some(blob_id) {
            path.to_string()
        } else {
            fs.paths
                .iter()
                .find(|(_, m)| m.blob.as_deref() == Some(blob_id))
                .map(|(name, _)| name.clone())?
        };
        fs.paths.get_mut(&name)
    }

    fn commit_flush(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        plan: &Plan,
        request: FlushRequest,
    ) -> Result<PathMeta, ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let meta =
            Self::flushed_file(fs, path, &plan.blob_id).ok_or_else(ServiceError::path_not_found)?;
        meta.flushing = false;
        if plan.blob.is_none() {
            let content = Arc::make_mut(&mut meta.memory);
            debug_assert_eq!(content.len(), meta.len, "committed bytes match the length");
            for range in &plan.ranges {
                if let Staged::Memory(chunks) = &range.data {
                    content.extend(chunks);
                }
            }
        }
        meta.len = request.position;
        // Appended through the DFS endpoint: the blob no longer consists of its blocks.
        meta.blocks.clear();
        meta.touch();
        let given = request.content;
        let stored = &mut meta.content;
        for (slot, value) in [
            (&mut stored.content_type, given.content_type),
            (&mut stored.content_encoding, given.content_encoding),
            (&mut stored.content_language, given.content_language),
            (&mut stored.content_disposition, given.content_disposition),
            (&mut stored.cache_control, given.cache_control),
        ] {
            if value.is_some() {
                *slot = value;
            }
        }
        stored.content_md5 = given.content_md5;
        request.lease.finish(&mut meta.lease);
        let mut snapshot = meta.clone();
        snapshot.pending.clear();
        self.save(account, fs_name, fs)?;
        Ok(snapshot)
    }

    fn abort_flush(&self, account: &str, fs_name: &str, path: &str, blob_id: &str) {
        let mut accounts = self.lock();
        if let Ok(fs) = fs_mut(&mut accounts, account, fs_name)
            && let Some(meta) = Self::flushed_file(fs, path, blob_id)
        {
            meta.flushing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Content, CreateRequest, StorageAccountConfig};
    use super::*;

    fn open(dir: &std::path::Path) -> Store {
        let accounts = [StorageAccountConfig {
            name: "acct1".into(),
            file_systems: vec!["fs1".into()],
            hierarchical_namespace: true,
        }];
        Store::open(dir, &accounts).unwrap()
    }

    async fn stage(store: &Store, position: u64, data: &'static [u8]) {
        let mut sink = store.staging_sink().await.unwrap();
        // Two chunks, as a body arrives.
        let (a, b) = data.split_at(data.len() / 2);
        sink.write(bytes::Bytes::from_static(a)).await.unwrap();
        sink.write(bytes::Bytes::from_static(b)).await.unwrap();
        let staged = sink.finish().await.unwrap();
        let len = data.len() as u64;
        store
            .register_append("acct1", "fs1", "f", position, len, staged)
            .unwrap();
    }

    fn content(store: &Store) -> Vec<u8> {
        let (meta, blob) = store.path("acct1", "fs1", "f").unwrap();
        match blob.unwrap() {
            Content::File(file) => {
                let mut bytes = std::fs::read(file).unwrap();
                bytes.truncate(meta.len as usize);
                bytes
            }
            Content::Memory(chunks) => chunks.slice(0, meta.len).concat(),
        }
    }

    fn create_request() -> CreateRequest {
        CreateRequest {
            kind: Kind::File,
            properties: None,
            content: ContentHeaders::default(),
            conditions: Conditions::default(),
            access: super::super::NewAccess::default(),
            encryption_context: None,
            new_lease: None,
            expiry: None,
        }
    }

    fn flush_to(position: u64) -> FlushRequest {
        FlushRequest {
            position,
            ..FlushRequest::default()
        }
    }

    #[tokio::test]
    async fn in_memory_store_stages_flushes_and_retains_like_the_disk_store() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = [StorageAccountConfig {
            name: "acct1".into(),
            file_systems: vec!["fs1".into()],
            hierarchical_namespace: true,
        }];
        for store in [
            Store::in_memory(&accounts).unwrap(),
            Store::open(dir.path(), &accounts).unwrap(),
        ] {
            store
                .create_path("acct1", "fs1", "f", create_request())
                .unwrap();
            stage(&store, 4, b"efgh").await;
            stage(&store, 0, b"abcd").await;
            stage(&store, 8, b"later").await;
            let mut keep = flush_to(8);
            keep.retain_uncommitted = true;
            let v1 = store.flush("acct1", "fs1", "f", keep).await.unwrap();
            assert_eq!(v1.len, 8);
            assert_eq!(content(&store), b"abcdefgh");
            let (_, before) = store.path("acct1", "fs1", "f").unwrap();
            store
                .flush("acct1", "fs1", "f", flush_to(13))
                .await
                .unwrap();
            assert_eq!(content(&store), b"abcdefghlater", "retained data flushed");
            if let Some(Content::Memory(old)) = before {
                assert_eq!(old.len(), 8, "a read in flight keeps its snapshot");
            }
            assert_eq!(
                store
                    .flush("acct1", "fs1", "f", flush_to(14))
                    .await
                    .unwrap_err()
                    .code,
                "InvalidFlushPosition"
            );
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "only the disk store wrote (its account and staging folders)"
        );
    }

    #[tokio::test]
    async fn crash_between_content_write_and_index_commit_keeps_the_previous_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store
            .create_path("acct1", "fs1", "f", create_request())
            .unwrap();
        stage(&store, 0, b"v1,").await;
        let flush = flush_to;
        let v1 = store.flush("acct1", "fs1", "f", flush(3)).await.unwrap();
        stage(&store, 3, b"lost").await;
        // The flush's first half: the data lands after the committed bytes, fsynced...
        let (plan, _) = store.plan_flush("acct1", "fs1", "f", &flush(7)).unwrap();
        copy_ranges(&plan).unwrap();
        assert_eq!(
            std::fs::read(plan.blob.as_ref().unwrap()).unwrap(),
            b"v1,lost"
        );
        // ...and the process dies before the index commit.
        drop(store);

        let store = open(dir.path());
        let (meta, _) = store.path("acct1", "fs1", "f").unwrap();
        assert_eq!((meta.len, meta.etag), (3, v1.etag));
        assert_eq!(
            std::fs::read(plan.blob.as_ref().unwrap()).unwrap(),
            b"v1,",
            "cut at the length"
        );
        assert_eq!(
            store
                .flush("acct1", "fs1", "f", flush(7))
                .await
                .unwrap_err()
                .code,
            "InvalidFlushPosition",
            "staged data died with the process"
        );
        stage(&store, 3, b"v2").await;
        store.flush("acct1", "fs1", "f", flush(5)).await.unwrap();
        assert_eq!(content(&store), b"v1,v2");
    }

    fn pending(position: u64, len: u64, seq: u64) -> Pending {
        Pending {
            position,
            len,
            data: Staged::File(PathBuf::from(format!("p{seq}"))),
            seq,
        }
    }

    #[test]
    fn tiling() {
        let staged = [
            pending(4, 4, 1),
            pending(0, 4, 0),
            pending(0, 4, 2),
            pending(8, 2, 3),
        ];
        let seqs = |t: Option<Vec<Pending>>| t.map(|v| v.iter().map(|p| p.seq).collect::<Vec<_>>());
        assert_eq!(seqs(tile(&staged, 0, 8)), Some(vec![2, 1]));
        assert_eq!(seqs(tile(&staged, 0, 10)), Some(vec![2, 1, 3]));
        assert_eq!(seqs(tile(&staged, 0, 0)), Some(vec![]));
        assert_eq!(
            seqs(tile(&staged, 0, 6)),
            None,
            "a range straddles the position"
        );
        assert_eq!(seqs(tile(&staged, 0, 12)), None, "a gap");
        assert_eq!(
            seqs(tile(&staged, 2, 8)),
            None,
            "not starting at the length"
        );
    }
}
