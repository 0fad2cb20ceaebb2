//! Expiring files: setting a file's expiry, and dropping the files whose expiry has passed.
//!
//! The store keeps the earliest expiry of all its files; every access to the metadata first
//! drops the files whose expiry has passed once that instant is reached, so an expired file is
//! never seen, and a store without expiring files pays one comparison per access.

use std::sync::atomic::Ordering;

use super::model::{Kind, PathMeta};
use super::persist::Accounts;
use super::{Store, fs_mut, paths, persist};
use crate::conditions::Conditions;
use crate::errors::ServiceError;
use crate::expiry::Expiry;

/// `next_expiry` when no file expires.
pub(super) const NEVER: u64 = u64::MAX;

/// The earliest expiry of the files in `accounts`.
pub(super) fn earliest(accounts: &Accounts) -> u64 {
    accounts
        .values()
        .flat_map(|filesystems| filesystems.values())
        .flat_map(|fs| fs.paths.values())
        .filter_map(|meta| meta.expires)
        .min()
        .unwrap_or(NEVER)
}

impl Store {
    /// Records that a file expires at `at`.
    pub(super) fn note_expiry(&self, at: Option<u64>) {
        if let Some(at) = at {
            self.next_expiry.fetch_min(at, Ordering::Relaxed);
        }
    }

    /// Drops the files whose expiry passed by `now` (with their content), when any may have.
    pub(super) fn purge_expired(&self, accounts: &mut Accounts, now: u64) {
        if now < self.next_expiry.load(Ordering::Relaxed) {
            return;
        }
        let mut garbage = Vec::new();
        for (account, filesystems) in accounts.iter_mut() {
            for (fs_name, fs) in filesystems.iter_mut() {
                let expired: Vec<String> = fs
                    .paths
                    .iter()
                    .filter(|(_, meta)| meta.expires.is_some_and(|at| at <= now))
                    .map(|(name, _)| name.clone())
                    .collect();
                if expired.is_empty() {
                    continue;
                }
                for name in expired {
                    if let Some(old) = fs.paths.remove(&name) {
                        garbage.extend(paths::leftovers(self, account, fs_name, &old));
                    }
                }
                if let Err(e) = self.save(account, fs_name, fs) {
                    tracing::warn!(error = %e, "could not commit the removal of expired files");
                }
            }
        }
        self.next_expiry
            .store(earliest(accounts), Ordering::Relaxed);
        persist::remove_files(garbage);
    }

    /// Sets or clears a file's expiry (Set Blob Expiry); directories do not expire.
    pub(crate) fn set_expiry(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        expiry: Expiry,
        conditions: &Conditions,
    ) -> Result<PathMeta, ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let meta = fs
            .paths
            .get_mut(path)
            .ok_or_else(ServiceError::path_not_found)?;
        if meta.kind != Kind::File {
            return Err(ServiceError::path_conflict());
        }
        meta.check_write(conditions)?;
        meta.expires = expiry.instant(meta.created, crate::lease::now());
        let mut snapshot = meta.clone();
        snapshot.pending.clear();
        self.save(account, fs_name, fs)?;
        self.note_expiry(snapshot.expires);
        Ok(snapshot)
    }
}
