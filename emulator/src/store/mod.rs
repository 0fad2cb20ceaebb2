//! The hierarchical file store behind the DFS endpoint: accounts, file systems, directories and
//! files, with their metadata persisted under the data folder (see [`persist`] for the layout),
//! or kept in memory only ([`Store::in_memory`], see [`content`]).
//!
//! One mutex guards all metadata; it is held for metadata changes and the index write that
//! commits them, never while file content is copied or streamed.

pub(crate) mod access;
mod access_ops;
mod blob;
pub(crate) mod blocks;
mod commit;
pub(crate) mod content;
mod data;
mod expiry_ops;
pub(crate) mod model;
mod paths;
pub(crate) mod persist;
pub(crate) mod posix;
mod soft_delete;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

pub(crate) use access_ops::{AccessChange, NewAccess, RecursiveChange, RecursiveMode};
pub(crate) use blob::{BlobListRequest, Listed};
pub(crate) use content::{Content, StagingSink};
pub(crate) use data::FlushRequest;
pub(crate) use paths::{CreateRequest, ListRequest, RenameRequest};
pub(crate) use soft_delete::DeletedPath;

use crate::conditions::{Conditions, Outcome};
use crate::config::StorageAccountConfig;
use crate::errors::ServiceError;
use content::Chunks;
use model::{FsMeta, valid_account_name, valid_filesystem_name};
use persist::{Accounts, Layout};

/// A file system as listed or described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FsInfo {
    /// File system name.
    pub name: String,
    /// ETag without quotes.
    pub etag: String,
    /// Last modification time.
    pub last_modified: SystemTime,
    /// `x-ms-properties`.
    pub properties: Option<String>,
    /// Default encryption scope (`None`: the account's key).
    pub encryption_scope: Option<String>,
    /// The lease on the file system.
    pub lease: Option<crate::lease::Lease>,
    /// Public access level (`container`, `blob`; `None`: private).
    pub public_access: Option<String>,
    /// Stored access policies.
    pub identifiers: Vec<crate::blob::SignedIdentifier>,
}

impl FsInfo {
    fn of(name: &str, meta: &FsMeta) -> Self {
        Self {
            name: name.to_string(),
            etag: meta.etag.clone(),
            last_modified: meta.last_modified(),
            properties: meta.properties.clone(),
            encryption_scope: meta.encryption_scope.clone(),
            lease: meta.lease.clone(),
            public_access: meta.public_access.clone(),
            identifiers: meta.identifiers.clone(),
        }
    }
}

/// The store: metadata in memory, mirrored on disk unless the store is in memory only.
#[derive(Debug)]
pub(crate) struct Store {
    /// The data folder; `None` for a store in memory only.
    layout: Option<Layout>,
    accounts: Mutex<Accounts>,
    append_seq: AtomicU64,
    /// The earliest expiry of any file (nanoseconds since the Unix epoch; `u64::MAX`: none).
    next_expiry: AtomicU64,
    /// Uncommitted blocks of block blobs.
    uncommitted: blocks::Uncommitted,
    /// Accounts with the hierarchical namespace off (flat: directories are virtual).
    flat: std::collections::HashSet<String>,
}

impl Store {
    /// Opens the store under `root` and creates the configured accounts and file systems that
    /// are missing.
    pub(crate) fn open(root: &Path, configured: &[StorageAccountConfig]) -> io::Result<Self> {
        let layout = Layout::new(root);
        let accounts = layout.open()?;
        Self::with_accounts(Some(layout), accounts, configured)
    }

    /// An empty store that keeps everything in memory (nothing is written to disk; everything
    /// is gone when it is dropped), with the configured accounts and file systems.
    pub(crate) fn in_memory(configured: &[StorageAccountConfig]) -> io::Result<Self> {
        Self::with_accounts(None, Accounts::new(), configured)
    }

    fn with_accounts(
        layout: Option<Layout>,
        mut accounts: Accounts,
        configured: &[StorageAccountConfig],
    ) -> io::Result<Self> {
        for account in configured {
            if !valid_account_name(&account.name) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "storage account name `{}` is invalid: use 3 to 24 lowercase letters and digits",
                        account.name
                    ),
                ));
            }
            if let Some(layout) = &layout {
                layout.create_account(&account.name)?;
            }
            let filesystems = accounts.entry(account.name.clone()).or_default();
            for fs_name in &account.file_systems {
                if !valid_filesystem_name(fs_name) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "file system name `{fs_name}` is invalid: use 3 to 63 of a-z, 0-9 and single hyphens"
                        ),
                    ));
                }
                if !filesystems.contains_key(fs_name) {
                    let meta = FsMeta::new(None);
                    if let Some(layout) = &layout {
                        layout.save(&account.name, fs_name, &meta)?;
                    }
                    filesystems.insert(fs_name.clone(), meta);
                }
            }
        }
        let flat = configured
            .iter()
            .filter(|a| !a.hierarchical_namespace)
            .map(|a| a.name.clone())
            .collect();
        Ok(Self {
            uncommitted: blocks::Uncommitted::default(),
            flat,
            layout,
            next_expiry: AtomicU64::new(expiry_ops::earliest(&accounts)),
            accounts: Mutex::new(accounts),
            append_seq: AtomicU64::new(0),
        })
    }

    /// The metadata, locked, without the files that have expired.
    fn lock(&self) -> MutexGuard<'_, Accounts> {
        let mut accounts = self
            .accounts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.purge_expired(&mut accounts, crate::lease::now());
        accounts
    }

    fn next_seq(&self) -> u64 {
        self.append_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Where a new append's data goes: a new staging file, or memory.
    pub(crate) async fn staging_sink(&self) -> io::Result<StagingSink> {
        match &self.layout {
            Some(layout) => {
                let file = layout.staging_dir().join(uuid::Uuid::new_v4().to_string());
                StagingSink::file(file).await
            }
            None => Ok(StagingSink::Memory(Chunks::default())),
        }
    }

    /// The content file of a file (`None` in memory).
    fn blob_file(&self, account: &str, fs_name: &str, id: &str) -> Option<PathBuf> {
        self.layout.as_ref().map(|l| l.blob(account, fs_name, id))
    }

    /// Whether the account has a hierarchical namespace (accounts are, unless configured
    /// otherwise).
    pub(crate) fn is_hierarchical(&self, account: &str) -> bool {
        !self.flat.contains(account)
    }

    /// Whether the account exists.
    pub(crate) fn has_account(&self, account: &str) -> bool {
        self.lock().contains_key(account)
    }

    /// Lists file systems whose names start with `prefix`, by name.
    pub(crate) fn list_filesystems(
        &self,
        account: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<FsInfo>, ServiceError> {
        let accounts = self.lock();
        let filesystems = accounts
            .get(account)
            .ok_or_else(ServiceError::resource_not_found)?;
        Ok(filesystems
            .iter()
            .filter(|(name, _)| prefix.is_none_or(|p| name.starts_with(p)))
            .map(|(name, meta)| FsInfo::of(name, meta))
            .collect())
    }

    /// Creates a file system; `FilesystemAlreadyExists` when it exists.
    pub(crate) fn create_filesystem(
        &self,
        account: &str,
        fs_name: &str,
        properties: Option<String>,
        encryption_scope: Option<String>,
    ) -> Result<FsInfo, ServiceError> {
        if !valid_filesystem_name(fs_name) {
            return Err(ServiceError::invalid_resource_name());
        }
        let mut accounts = self.lock();
        let filesystems = account_mut(&mut accounts, account)?;
        if filesystems.contains_key(fs_name) {
            return Err(ServiceError::filesystem_already_exists());
        }
        let mut meta = FsMeta::new(properties);
        meta.encryption_scope = encryption_scope;
        self.save(account, fs_name, &meta)?;
        let info = FsInfo::of(fs_name, &meta);
        filesystems.insert(fs_name.to_string(), meta);
        Ok(info)
    }

    /// Describes a file system.
    pub(crate) fn filesystem(&self, account: &str, fs_name: &str) -> Result<FsInfo, ServiceError> {
        let mut accounts = self.lock();
        let meta = fs_mut(&mut accounts, account, fs_name)?;
        Ok(FsInfo::of(fs_name, meta))
    }

    /// Replaces a file system's properties.
    pub(crate) fn set_filesystem_properties(
        &self,
        account: &str,
        fs_name: &str,
        properties: Option<String>,
        conditions: &Conditions,
    ) -> Result<FsInfo, ServiceError> {
        let mut accounts = self.lock();
        let meta = fs_mut(&mut accounts, account, fs_name)?;
        if conditions.evaluate(Some((&meta.etag, meta.last_modified())), false) != Outcome::Pass {
            return Err(ServiceError::condition_not_met());
        }
        meta.properties = properties;
        meta.etag = model::new_etag();
        meta.modified = crate::timefmt::to_nanos(SystemTime::now());
        self.save(account, fs_name, meta)?;
        Ok(FsInfo::of(fs_name, meta))
    }

    /// Replaces a file system's public access level and stored access policies (Set
    /// Container ACL).
    pub(crate) fn set_filesystem_acl(
        &self,
        account: &str,
        fs_name: &str,
        public_access: Option<String>,
        identifiers: Vec<crate::blob::SignedIdentifier>,
        conditions: &Conditions,
    ) -> Result<FsInfo, ServiceError> {
        let mut accounts = self.lock();
        let meta = fs_mut(&mut accounts, account, fs_name)?;
        if conditions.evaluate(Some((&meta.etag, meta.last_modified())), false) != Outcome::Pass {
            return Err(ServiceError::condition_not_met());
        }
        let now = crate::lease::now();
        crate::lease::check(meta.lease.as_ref(), conditions.lease_id(), false, now)?;
        meta.public_access = public_access;
        meta.identifiers = identifiers;
        meta.etag = model::new_etag();
        meta.modified = crate::timefmt::to_nanos(SystemTime::now());
        self.save(account, fs_name, meta)?;
        Ok(FsInfo::of(fs_name, meta))
    }

    /// Deletes a file system with everything in it (at once; the real service takes a while).
    pub(crate) fn delete_filesystem(
        &self,
        account: &str,
        fs_name: &str,
        conditions: &Conditions,
    ) -> Result<(), ServiceError> {
        let mut accounts = self.lock();
        let meta = fs_mut(&mut accounts, account, fs_name)?;
        if conditions.evaluate(Some((&meta.etag, meta.last_modified())), false) != Outcome::Pass {
            return Err(ServiceError::condition_not_met());
        }
        let now = crate::lease::now();
        crate::lease::check(meta.lease.as_ref(), conditions.lease_id(), true, now)?;
        let staged: Vec<PathBuf> = meta
            .paths
            .values()
            .flat_map(|p| p.pending.iter().filter_map(|s| s.data.file()))
            .collect();
        if let Some(layout) = &self.layout {
            layout.remove_fs(account, fs_name)?;
        }
        account_mut(&mut accounts, account)?.remove(fs_name);
        drop(accounts);
        persist::remove_files(staged);
        Ok(())
    }

    /// Writes a file system's index (the commit point of every metadata change); nothing to
    /// do in memory.
    fn save(&self, account: &str, fs_name: &str, meta: &FsMeta) -> Result<(), ServiceError> {
        match &self.layout {
            Some(layout) => Ok(layout.save(account, fs_name, meta)?),
            None => Ok(()),
        }
    }
}

/// The file systems of an account; `ResourceNotFound` for an unknown account.
fn account_mut<'a>(
    accounts: &'a mut Accounts,
    account: &str,
) -> Result<&'a mut BTreeMap<String, FsMeta>, ServiceError> {
    accounts
        .get_mut(account)
        .ok_or_else(ServiceError::resource_not_found)
}

/// One file system; `FilesystemNotFound` when missing.
fn fs_mut<'a>(
    accounts: &'a mut Accounts,
    account: &str,
    fs_name: &str,
) -> Result<&'a mut FsMeta, ServiceError> {
    account_mut(accounts, account)?
        .get_mut(fs_name)
        .ok_or_else(ServiceError::filesystem_not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> Store {
        let accounts = [StorageAccountConfig {
            name: "acct1".into(),
            file_systems: vec!["fs1".into()],
            hierarchical_namespace: true,
        }];
        Store::open(dir, &accounts).unwrap()
    }

    #[test]
    fn filesystems_persist_and_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.create_filesystem("acct1", "fs2", Some("a=Yg==".into()), None)
            .unwrap();
        assert_eq!(
            s.create_filesystem("acct1", "fs2", None, None)
                .unwrap_err()
                .code,
            "FilesystemAlreadyExists"
        );
        assert_eq!(
            s.create_filesystem("acct1", "Bad_", None, None)
                .unwrap_err()
                .code,
            "InvalidResourceName"
        );
        assert_eq!(
            s.create_filesystem("nope", "fs3", None, None)
                .unwrap_err()
                .code,
            "ResourceNotFound"
        );
        let etag = s.filesystem("acct1", "fs2").unwrap().etag;
        drop(s);
        let s = store(dir.path());
        let names: Vec<String> = s
            .list_filesystems("acct1", None)
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names, ["fs1", "fs2"]);
        assert_eq!(s.filesystem("acct1", "fs2").unwrap().etag, etag);
        s.delete_filesystem("acct1", "fs2", &Conditions::default())
            .unwrap();
        assert_eq!(
            s.filesystem("acct1", "fs2").unwrap_err().code,
            "FilesystemNotFound"
        );
    }
}
