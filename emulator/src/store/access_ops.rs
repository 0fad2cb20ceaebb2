//! Access control operations of the store: the access a new path gets, and get/set access
//! control on a path or on the root directory `/` of a file system.

use std::time::SystemTime;

use super::access::{Access, AclEntry};
use super::model::{self, FsMeta, Kind};
use super::{Store, fs_mut};
use crate::conditions::{Conditions, Outcome};
use crate::errors::ServiceError;

/// Access control given when a path is created (`x-ms-owner`, `x-ms-group`,
/// `x-ms-permissions`, `x-ms-umask`, `x-ms-acl`).
#[derive(Debug, Clone, Default)]
pub(crate) struct NewAccess {
    /// Owning user.
    pub owner: Option<String>,
    /// Owning group.
    pub group: Option<String>,
    /// Requested mode bits.
    pub permissions: Option<u16>,
    /// Bits taken away from the requested mode (unless a default ACL is inherited).
    pub umask: Option<u16>,
    /// The whole ACL, replacing what the mode and inheritance gave.
    pub acl: Option<Vec<AclEntry>>,
}

/// A change of access control (`action=setAccessControl`).
#[derive(Debug, Clone, Default)]
pub(crate) struct AccessChange {
    /// New owning user.
    pub owner: Option<String>,
    /// New owning group.
    pub group: Option<String>,
    /// New mode bits (exclusive with `acl`).
    pub permissions: Option<u16>,
    /// New ACL (exclusive with `permissions`).
    pub acl: Option<Vec<AclEntry>>,
}

impl AccessChange {
    /// Applies the change to `access`.
    pub(crate) fn apply(&self, access: &mut Access) {
        if let Some(owner) = &self.owner {
            access.owner = owner.clone();
        }
        if let Some(group) = &self.group {
            access.group = group.clone();
        }
        if let Some(mode) = self.permissions {
            access.mode = mode;
        }
        if let Some(acl) = &self.acl {
            access.replace_acl(acl);
        }
    }
}

/// The default ACL entries the parent of `path` passes on to a new child.
pub(crate) fn inherited_defaults(fs: &FsMeta, path: &str) -> Vec<AclEntry> {
    match model::parent(path) {
        Some(parent) => fs
            .paths
            .get(parent)
            .map(|p| p.access().defaults())
            .unwrap_or_default(),
        None => fs
            .root_access
            .as_ref()
            .map(Access::defaults)
            .unwrap_or_default(),
    }
}

/// The access a new path gets from what its create asked for and its parent's defaults.
pub(crate) fn new_access(kind: Kind, given: &NewAccess, inherited: &[AclEntry]) -> Access {
    let mut access = Access::for_new(kind, given.permissions, given.umask, inherited);
    if let Some(owner) = &given.owner {
        access.owner = owner.clone();
    }
    if let Some(group) = &given.group {
        access.group = group.clone();
    }
    if let Some(acl) = &given.acl {
        access.replace_acl(acl);
    }
    access
}

/// The version and access control of a path (`None`: the root directory).
#[derive(Debug, Clone)]
pub(crate) struct AccessInfo {
    /// File or directory.
    pub kind: Kind,
    /// ETag without quotes.
    pub etag: String,
    /// Last modification time.
    pub last_modified: SystemTime,
    /// Its access control.
    pub access: Access,
}

impl Store {
    /// Access control of a path, or of the root directory when `path` is `None`.
    pub(crate) fn access_control(
        &self,
        account: &str,
        fs_name: &str,
        path: Option<&str>,
    ) -> Result<AccessInfo, ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        Ok(match path {
            None => AccessInfo {
                kind: Kind::Directory,
                etag: fs.etag.clone(),
                last_modified: fs.last_modified(),
                access: fs
                    .root_access
                    .clone()
                    .unwrap_or_else(|| Access::default_for(Kind::Directory)),
            },
            Some(path) => {
                let meta = fs
                    .paths
                    .get(path)
                    .ok_or_else(ServiceError::path_not_found)?;
                AccessInfo {
                    kind: meta.kind,
                    etag: meta.etag.clone(),
                    last_modified: meta.last_modified(),
                    access: meta.access(),
                }
            }
        })
    }

    /// Changes the access control of a path (or of the root directory) if `conditions` hold;
    /// the path gets a new ETag.
    pub(crate) fn set_access_control(
        &self,
        account: &str,
        fs_name: &str,
        path: Option<&str>,
        change: &AccessChange,
        conditions: &Conditions,
    ) -> Result<AccessInfo, ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let info = match path {
            None => {
                if conditions.evaluate(Some((&fs.etag, fs.last_modified())), false) != Outcome::Pass
                {
                    return Err(ServiceError::condition_not_met());
                }
                let mut access = fs
                    .root_access
                    .clone()
                    .unwrap_or_else(|| Access::default_for(Kind::Directory));
                change.apply(&mut access);
                fs.root_access = Some(access.clone());
                AccessInfo {
                    kind: Kind::Directory,
                    etag: fs.etag.clone(),
                    last_modified: fs.last_modified(),
                    access,
                }
            }
            Some(path) => {
                let meta = fs
                    .paths
                    .get_mut(path)
                    .ok_or_else(ServiceError::path_not_found)?;
                meta.check_write(conditions)?;
                let mut access = meta.access();
                change.apply(&mut access);
                meta.access = Some(access.clone());
                meta.touch();
                AccessInfo {
                    kind: meta.kind,
                    etag: meta.etag.clone(),
                    last_modified: meta.last_modified(),
                    access,
                }
            }
        };
        self.save(account, fs_name, fs)?;
        Ok(info)
    }
}

/// How `setAccessControlRecursive` changes each ACL (`mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecursiveMode {
    /// Replace the ACL.
    Set,
    /// Add or update the given entries.
    Modify,
    /// Remove the given entries.
    Remove,
}

/// A recursive ACL change: what to do, and which batch.
#[derive(Debug, Clone)]
pub(crate) struct RecursiveChange<'a> {
    /// How each ACL changes.
    pub mode: RecursiveMode,
    /// The entries to set, add or remove.
    pub entries: &'a [AclEntry],
    /// The most paths this batch changes.
    pub max_records: usize,
    /// The last path of the previous batch.
    pub continuation: Option<&'a str>,
    /// The principal whose POSIX permissions apply (`None`: the superuser): it can change
    /// only the ACLs of paths it owns, and each other path is a failure.
    pub principal: Option<&'a str>,
    /// Whether to go on after a failure (`forceFlag=true`); otherwise the batch ends at the
    /// first one, and no continuation is given.
    pub continue_on_failure: bool,
}

/// One batch of a recursive ACL change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RecursiveOutcome {
    /// Directories changed.
    pub directories: u64,
    /// Files changed.
    pub files: u64,
    /// Where the next batch starts, when paths remain.
    pub continuation: Option<String>,
    /// The paths whose ACL the principal may not change, with their kinds.
    pub failures: Vec<(String, Kind)>,
}

impl Store {
    /// Applies the change's entries (as its mode says) to `path` and everything under it, in
    /// depth-first order, at most `max_records` paths per call, resuming after `continuation`
    /// (the last path of the previous batch). The changed paths keep their ETags. Paths the
    /// change's principal does not own fail (see [`RecursiveChange::principal`]).
    pub(crate) fn set_access_control_recursive(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        change: &RecursiveChange<'_>,
    ) -> Result<RecursiveOutcome, ServiceError> {
        let RecursiveChange {
            mode,
            entries,
            max_records,
            continuation,
            principal,
            continue_on_failure,
        } = *change;
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        if !fs.paths.contains_key(path) {
            return Err(ServiceError::path_not_found());
        }
        let mut names = vec![path.to_string()];
        names.extend(fs.descendants(path));
        names.sort_by(|a, b| model::path_order(a, b));
        let todo: Vec<String> = names
            .into_iter()
            .filter(|n| continuation.is_none_or(|c| model::path_order(n, c).is_gt()))
            .collect();
        let batch = &todo[..todo.len().min(max_records.max(1))];
        let mut outcome = RecursiveOutcome::default();
        let mut stopped = false;
        for name in batch {
            let meta = fs.paths.get_mut(name).expect("listed above");
            let mut access = meta.access();
            if principal.is_some_and(|p| p != access.owner) {
                outcome.failures.push((name.clone(), meta.kind));
                if continue_on_failure {
                    continue;
                }
                stopped = true;
                break;
            }
            match mode {
                RecursiveMode::Set => access.replace_acl(entries),
                RecursiveMode::Modify => access.merge_acl(entries),
                RecursiveMode::Remove => access.remove_acl(entries),
            }
            meta.access = Some(access);
            match meta.kind {
                Kind::Directory => outcome.directories += 1,
                Kind::File => outcome.files += 1,
            }
        }
        if batch.len() < todo.len() && !stopped {
            outcome.continuation = batch.last().cloned();
        }
        self.save(account, fs_name, fs)?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::super::access::parse_acl;
    use super::super::{CreateRequest, StorageAccountConfig};
    use super::*;

    #[test]
    fn recursive_changes_go_in_batches_and_resume() {
        let accounts = [StorageAccountConfig {
            name: "acct1".into(),
            file_systems: vec!["fs1".into()],
            hierarchical_namespace: true,
        }];
        let s = Store::in_memory(&accounts).unwrap();
        for (path, kind) in [
            ("d/a/1", Kind::File),
            ("d/b", Kind::Directory),
            ("d/c", Kind::File),
        ] {
            let request = CreateRequest {
                kind,
                properties: None,
                content: Default::default(),
                conditions: Conditions::default(),
                access: NewAccess::default(),
                encryption_context: None,
                new_lease: None,
                expiry: None,
            };
            s.create_path("acct1", "fs1", path, request).unwrap();
        }
        let acl = parse_acl("user::rwx,group::r-x,other::r--", true).unwrap();
        let mut continuation = None;
        let mut total = (0, 0);
        let mut batches = 0;
        loop {
            let outcome = s
                .set_access_control_recursive(
                    "acct1",
                    "fs1",
                    "d",
                    &RecursiveChange {
                        mode: RecursiveMode::Set,
                        entries: &acl,
                        max_records: 2,
                        continuation: continuation.as_deref(),
                        principal: None,
                        continue_on_failure: false,
                    },
                )
                .unwrap();
            total = (total.0 + outcome.directories, total.1 + outcome.files);
            batches += 1;
            match outcome.continuation {
                Some(c) => continuation = Some(c),
                None => break,
            }
        }
        assert_eq!((total, batches), ((3, 2), 3), "d, d/a, d/b; d/a/1, d/c");
        let info = s.access_control("acct1", "fs1", Some("d/a/1")).unwrap();
        assert_eq!(info.access.acl(), "user::rwx,group::r-x,other::r--");
        let extra = parse_acl("user:u1:r--", true).unwrap();
        s.set_access_control_recursive(
            "acct1",
            "fs1",
            "d",
            &RecursiveChange {
                mode: RecursiveMode::Modify,
                entries: &extra,
                max_records: 10,
                continuation: None,
                principal: None,
                continue_on_failure: false,
            },
        )
        .unwrap();
        let info = s.access_control("acct1", "fs1", Some("d/c")).unwrap();
        assert_eq!(
            info.access.acl(),
            "user::rwx,user:u1:r--,group::r-x,other::r--"
        );
        let gone = parse_acl("user:u1", false).unwrap();
        s.set_access_control_recursive(
            "acct1",
            "fs1",
            "d",
            &RecursiveChange {
                mode: RecursiveMode::Remove,
                entries: &gone,
                max_records: 10,
                continuation: None,
                principal: None,
                continue_on_failure: false,
            },
        )
        .unwrap();
        let info = s.access_control("acct1", "fs1", Some("d/c")).unwrap();
        assert_eq!(info.access.acl(), "user::rwx,group::r-x,other::r--");
        assert_eq!(
            s.set_access_control_recursive(
                "acct1",
                "fs1",
                "nope",
                &RecursiveChange {
                    mode: RecursiveMode::Set,
                    entries: &acl,
                    max_records: 1,
                    continuation: None,
                    principal: None,
                    continue_on_failure: false,
                }
            )
            .unwrap_err()
            .code,
            "PathNotFound"
        );
    }

    #[test]
    fn a_principal_changes_only_what_it_owns() {
        let accounts = [StorageAccountConfig {
            name: "acct1".into(),
            file_systems: vec!["fs1".into()],
            hierarchical_namespace: true,
        }];
        let s = Store::in_memory(&accounts).unwrap();
        for (path, kind, owner) in [
            ("d", Kind::Directory, Some("p")),
            ("d/a", Kind::File, None),
            ("d/b", Kind::Directory, Some("p")),
            ("d/c", Kind::File, None),
        ] {
            let request = CreateRequest {
                kind,
                properties: None,
                content: Default::default(),
                conditions: Conditions::default(),
                access: NewAccess {
                    owner: owner.map(str::to_string),
                    ..NewAccess::default()
                },
                encryption_context: None,
                new_lease: None,
                expiry: None,
            };
            s.create_path("acct1", "fs1", path, request).unwrap();
        }
        let acl = parse_acl("user::rwx,group::r-x,other::rwx", true).unwrap();
        let change = |continue_on_failure| RecursiveChange {
            mode: RecursiveMode::Set,
            entries: &acl,
            max_records: 2,
            continuation: None,
            principal: Some("p"),
            continue_on_failure,
        };
        // Without forceFlag the first failure ends it, with no continuation.
        let stopped = s
            .set_access_control_recursive("acct1", "fs1", "d", &change(false))
            .unwrap();
        assert_eq!((stopped.directories, stopped.files), (1, 0));
        assert_eq!(stopped.failures, vec![("d/a".to_string(), Kind::File)]);
        assert_eq!(stopped.continuation, None);
        // With it the batch goes on, and so do the next ones.
        let first = s
            .set_access_control_recursive("acct1", "fs1", "d", &change(true))
            .unwrap();
        assert_eq!(first.failures.len(), 1);
        assert_eq!(first.continuation.as_deref(), Some("d/a"));
        let next = RecursiveChange {
            continuation: first.continuation.as_deref(),
            ..change(true)
        };
        let second = s
            .set_access_control_recursive("acct1", "fs1", "d", &next)
            .unwrap();
        assert_eq!((second.directories, second.files), (1, 0));
        assert_eq!(second.failures, vec![("d/c".to_string(), Kind::File)]);
        let info = s.access_control("acct1", "fs1", Some("d/a")).unwrap();
        assert_eq!(info.access.acl(), "user::rw-,group::r--,other::---");
    }
}
