//! Soft delete: with the account's delete retention policy on, a deleted file or directory
//! (with everything under it) is kept, with its content, for the retention period; it can be
//! listed (List Blobs with `showonly=deleted`) and restored (Undelete Blob with
//! `x-ms-undelete-source: {path}?deletionid={id}`). Entries past their retention are dropped
//! when the file system's deleted paths are next looked at.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::model::{self, FsMeta, Kind, PathMeta};
use super::{Store, fs_mut, paths, persist};
use crate::errors::ServiceError;

const NANOS_PER_DAY: u64 = 86_400 * 1_000_000_000;

/// A soft-deleted path with its descendants, kept for the delete retention period.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeletedPath {
    /// The deleted path's name.
    pub name: String,
    /// The ID that tells deletions of the same name apart (`x-ms-deletion-id`).
    pub deletion_id: String,
    /// When it was deleted, nanoseconds since the Unix epoch.
    pub deleted: u64,
    /// The retention period in force at the deletion, in days.
    pub retention_days: u32,
    /// The path (first) and its descendants, with their full names.
    pub paths: Vec<(String, PathMeta)>,
}

impl DeletedPath {
    /// The path's own metadata.
    pub(crate) fn meta(&self) -> &PathMeta {
        &self.paths[0].1
    }

    /// When the retention period ends.
    fn purge_at(&self) -> u64 {
        self.deleted + u64::from(self.retention_days) * NANOS_PER_DAY
    }

    /// Whole days of retention left at `now` (`RemainingRetentionDays`).
    pub(crate) fn remaining_days(&self, now: u64) -> u64 {
        self.purge_at().saturating_sub(now).div_ceil(NANOS_PER_DAY)
    }
}

/// A deletion ID shaped like the service's: a decimal number, unique and increasing.
fn new_deletion_id() -> String {
    let etag = model::new_etag();
    u64::from_str_radix(&etag[2..], 16)
        .unwrap_or_default()
        .to_string()
}

/// Moves `names` (a path, then its descendants) from the namespace into the deleted paths.
pub(super) fn soft_delete(fs: &mut FsMeta, names: Vec<String>, retention_days: u32) -> String {
    let deletion_id = new_deletion_id();
    let mut paths = Vec::new();
    for name in names {
        if let Some(mut meta) = fs.paths.remove(&name) {
            meta.pending.clear();
            paths.push((name, meta));
        }
    }
    let name = paths[0].0.clone();
    fs.deleted.push(DeletedPath {
        name,
        deletion_id: deletion_id.clone(),
        deleted: crate::lease::now(),
        retention_days,
        paths,
    });
    deletion_id
}

impl Store {
    /// Drops the deleted paths of `fs` past their retention; returns their content files.
    fn purge_deleted(&self, account: &str, fs_name: &str, fs: &mut FsMeta) -> Vec<PathBuf> {
        let now = crate::lease::now();
        let (kept, gone): (Vec<DeletedPath>, Vec<DeletedPath>) = std::mem::take(&mut fs.deleted)
            .into_iter()
            .partition(|d| d.purge_at() > now);
        fs.deleted = kept;
        gone.iter()
            .flat_map(|d| d.paths.iter())
            .flat_map(|(_, meta)| paths::leftovers(self, account, fs_name, meta))
            .collect()
    }

    /// The deleted paths whose names start with `prefix`, by name (then deletion).
    pub(crate) fn list_deleted(
        &self,
        account: &str,
        fs_name: &str,
        prefix: &str,
    ) -> Result<Vec<DeletedPath>, ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let garbage = self.purge_deleted(account, fs_name, fs);
        if !garbage.is_empty() {
            self.save(account, fs_name, fs)?;
        }
        let mut listed: Vec<DeletedPath> = fs
            .deleted
            .iter()
            .filter(|d| d.name.starts_with(prefix))
            .cloned()
            .collect();
        drop(accounts);
        persist::remove_files(garbage);
        listed.sort_by(|a, b| (&a.name, &a.deletion_id).cmp(&(&b.name, &b.deletion_id)));
        Ok(listed)
    }

    /// Restores the deleted path `name` of deletion `deletion_id` (the latest deletion of the
    /// name when `None`) with its descendants, and any missing parent directories. Returns
    /// its kind. `PathAlreadyExists` when the name is taken again.
    pub(crate) fn undelete(
        &self,
        account: &str,
        fs_name: &str,
        name: &str,
        deletion_id: Option<&str>,
    ) -> Result<Kind, ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let garbage = self.purge_deleted(account, fs_name, fs);
        let found = fs
            .deleted
            .iter()
            .enumerate()
            .filter(|(_, d)| d.name == name && deletion_id.is_none_or(|id| d.deletion_id == id))
            .max_by_key(|(_, d)| d.deleted)
            .map(|(at, _)| at)
            .ok_or_else(ServiceError::path_not_found)?;
        if fs.paths.contains_key(name) {
            return Err(ServiceError::path_already_exists());
        }
        for ancestor in model::ancestors(name) {
            match fs.paths.get(ancestor) {
                Some(meta) if meta.kind == Kind::File => return Err(ServiceError::path_conflict()),
                Some(_) => {}
                None => {
                    fs.paths
                        .insert(ancestor.to_string(), PathMeta::new(Kind::Directory, None));
                }
            }
        }
        let restored = fs.deleted.remove(found);
        let kind = restored.meta().kind;
        for (path, meta) in restored.paths {
            self.note_expiry(meta.expires);
            fs.paths.insert(path, meta);
        }
        self.save(account, fs_name, fs)?;
        drop(accounts);
        persist::remove_files(garbage);
        Ok(kind)
    }
}
