//! Namespace operations: create, describe, set properties, delete, rename and list paths.

use std::fs::File;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::access_ops::{self, NewAccess};
use super::content::Content;
use super::model::{self, ContentHeaders, FsMeta, Kind, PathMeta};
use super::{Store, fs_mut, persist};
use crate::conditions::{Conditions, Outcome};
use crate::errors::ServiceError;
use crate::expiry::Expiry;
use crate::lease;

/// A path create (`PUT ?resource=file|directory`).
#[derive(Debug, Clone)]
pub(crate) struct CreateRequest {
    /// File or directory.
    pub kind: Kind,
    /// `x-ms-properties`.
    pub properties: Option<String>,
    /// `x-ms-content-*` and `x-ms-cache-control`.
    pub content: ContentHeaders,
    /// Conditions on the path.
    pub conditions: Conditions,
    /// Owner, group, permissions, umask and ACL asked for.
    pub access: NewAccess,
    /// `x-ms-encryption-context` (files).
    pub encryption_context: Option<String>,
    /// A lease to take on the new path: `x-ms-proposed-lease-id` (or a new ID) for
    /// `x-ms-lease-duration` seconds (`None`: infinite).
    pub new_lease: Option<lease::NewLease>,
    /// When the new file expires (`x-ms-expiry-option`, `x-ms-expiry-time`).
    pub expiry: Option<Expiry>,
}

/// A rename (`PUT` with `x-ms-rename-source`).
#[derive(Debug, Clone)]
pub(crate) struct RenameRequest {
    /// File system named by the rename source.
    pub source_fs: String,
    /// Source path.
    pub source: String,
    /// Conditions on the destination.
    pub conditions: Conditions,
    /// Conditions on the source (`x-ms-source-if-*`).
    pub source_conditions: Conditions,
    /// `x-ms-properties` replacing the source's when given.
    pub properties: Option<String>,
}

/// A list-paths request.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListRequest {
    /// Directory to list, the root when `None`.
    pub directory: Option<String>,
    /// Whether to list the whole subtree.
    pub recursive: bool,
    /// Page size.
    pub max_results: usize,
    /// Continuation token of the previous page.
    pub continuation: Option<String>,
    /// `beginFrom` (the SDKs' `start_from`): a path relative to the listed directory where the listing starts (that
    /// path included, when it exists).
    pub start_from: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    /// Paths with their metadata, in depth-first order.
    pub paths: Vec<(String, PathMeta)>,
    /// Token for the next page when more remain.
    pub continuation: Option<String>,
}

/// Files that a committed change made useless: content and staged appends (none in memory).
pub(super) fn leftovers(
    store: &Store,
    account: &str,
    fs_name: &str,
    meta: &PathMeta,
) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = meta.pending.iter().filter_map(|p| p.data.file()).collect();
    if let Some(id) = &meta.blob {
        files.extend(store.blob_file(account, fs_name, id));
    }
    files
}

/// The destination conditions of a create or rename: `If-None-Match: *` refuses an
/// existing path; the other conditions are checked against the existing path's version.
fn check_destination(
    conditions: &Conditions,
    existing: Option<&PathMeta>,
) -> Result<(), ServiceError> {
    if conditions.is_create_only() && existing.is_some() {
        return Err(ServiceError::path_already_exists());
    }
    match existing {
        Some(existing) => existing.check_write(conditions),
        None if conditions.evaluate(None, false) != Outcome::Pass => {
            Err(ServiceError::condition_not_met())
        }
        None if conditions.lease_id().is_some() => Err(lease::not_present()),
        None => Ok(()),
    }
}

/// Fails with `PathConflict` when an ancestor of `path` is a file.
pub(super) fn check_ancestors(fs: &FsMeta, path: &str) -> Result<(), ServiceError> {
    for ancestor in model::ancestors(path) {
        if fs.paths.get(ancestor).is_some_and(|m| m.kind == Kind::File) {
            return Err(ServiceError::path_conflict());
        }
    }
    Ok(())
}

/// What a rename did: the renamed path, the destination it replaced, and the content ids
/// that moved to the destination file system.
struct Moved {
    snapshot: PathMeta,
    replaced: Option<PathMeta>,
    blobs: Vec<String>,
}

/// Moves `request.source` (from `source_fs`, or from `dest_fs` itself when `None`) with its
/// children to `dest` in `dest_fs`, after every check; on error nothing changed.
fn move_paths(
    dest_fs: &mut FsMeta,
    source_fs: Option<&mut FsMeta>,
    dest: &str,
    request: &RenameRequest,
) -> Result<Moved, ServiceError> {
    let source = request.source.as_str();
    let same = source_fs.is_none();
    let src_fs: &FsMeta = source_fs.as_deref().unwrap_or(dest_fs);
    let src = src_fs
        .paths
        .get(source)
        .ok_or_else(ServiceError::source_path_not_found)?;
    if request
        .source_conditions
        .evaluate(Some(src.version()), false)
        != Outcome::Pass
    {
        return Err(ServiceError::source_condition_not_met());
    }
    let source_lease = request.source_conditions.lease_id();
    lease::check(src.lease.as_ref(), source_lease, true, lease::now())?;
    let src_kind = src.kind;
    if same && source == dest {
        return Ok(Moved {
            snapshot: src.clone(),
            replaced: None,
            blobs: Vec::new(),
        });
    }
    if same && model::is_within(dest, source) {
        return Err(ServiceError::invalid_rename_source_path());
    }
    let mut names = vec![source.to_string()];
    if src_kind == Kind::Directory {
        names.extend(src_fs.descendants(source));
    }
    if let Some(parent) = model::parent(dest) {
        match dest_fs.paths.get(parent) {
            None => return Err(ServiceError::rename_destination_parent_path_not_found()),
            Some(p) if p.kind == Kind::File => return Err(ServiceError::path_conflict()),
            Some(_) => {}
        }
    }
    let existing = dest_fs.paths.get(dest);
    check_destination(&request.conditions, existing)?;
    if let Some(existing) = existing {
        if existing.kind != src_kind {
            return Err(ServiceError::invalid_source_or_destination_resource_type());
        }
        // An empty directory is replaced, as POSIX rename does; a full one is kept.
        if existing.kind == Kind::Directory && !dest_fs.descendants(dest).is_empty() {
            return Err(ServiceError::path_already_exists());
        }
    }
    let replaced = dest_fs.paths.remove(dest);
    let taken: Vec<(String, PathMeta)> = {
        let from: &mut FsMeta = match source_fs {
            Some(fs) => fs,
            None => &mut *dest_fs,
        };
        names
            .iter()
            .map(|name| (name.clone(), from.paths.remove(name).expect("listed above")))
            .collect()
    };
    let mut blobs = Vec::new();
    for (name, meta) in taken {
        if !same {
            blobs.extend(meta.blob.clone());
        }
        dest_fs
            .paths
            .insert(format!("{dest}{}", &name[source.len()..]), meta);
    }
    let moved = dest_fs.paths.get_mut(dest).expect("just inserted");
    if request.properties.is_some() {
        moved.properties = request.properties.clone();
    }
    Ok(Moved {
        snapshot: moved.clone(),
        replaced,
        blobs,
    })
}

impl Store {
    /// Creates a file or directory and any missing parent directories. A file created over an
    /// existing file replaces it at once with an empty one.
    pub(crate) fn create_path(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        request: CreateRequest,
    ) -> Result<PathMeta, ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        check_ancestors(fs, path)?;
        let existing = fs.paths.get(path);
        check_destination(&request.conditions, existing)?;
        if existing.is_some_and(|e| e.kind != request.kind) {
            return Err(ServiceError::path_conflict());
        }
        for ancestor in model::ancestors(path) {
            fs.paths
                .entry(ancestor.to_string())
                .or_insert_with(|| PathMeta::new(Kind::Directory, None));
        }
        let inherited = access_ops::inherited_defaults(fs, path);
        let mut replaced = Vec::new();
        let meta = match (request.kind, fs.paths.get_mut(path)) {
            (Kind::Directory, Some(dir)) => {
                dir.touch();
                dir.properties = request.properties;
                if let Some(new) = request.new_lease {
                    lease::acquire(&mut dir.lease, new.proposed, new.duration, lease::now())?;
                }
                dir.clone()
            }
            (kind, _) => {
                let blob = (kind == Kind::File).then(|| uuid::Uuid::new_v4().to_string());
                if let Some(file) = blob
                    .as_ref()
                    .and_then(|id| self.blob_file(account, fs_name, id))
                {
                    File::create(file)?;
                }
                let mut meta = PathMeta::new(kind, blob);
                let given = &request.access;
                let asked = given.owner.is_some()
                    || given.group.is_some()
                    || given.permissions.is_some()
                    || given.umask.is_some()
                    || given.acl.is_some();
                if asked || !inherited.is_empty() {
                    meta.access = Some(access_ops::new_access(kind, given, &inherited));
                }
                meta.properties = request.properties;
                meta.encryption_context = request.encryption_context;
                meta.encryption_scope = fs.encryption_scope.clone();
                meta.content = ContentHeaders {
                    content_md5: None,
                    ..request.content
                };
                // A file created over a leased one stays under that lease.
                meta.lease = fs.paths.get(path).and_then(|old| old.lease.clone());
                if let Some(new) = request.new_lease {
                    lease::acquire(&mut meta.lease, new.proposed, new.duration, lease::now())?;
                }
                if kind == Kind::File {
                    meta.expires = request
                        .expiry
                        .and_then(|e| e.instant(meta.created, lease::now()));
                }
                if let Some(old) = fs.paths.insert(path.to_string(), meta.clone()) {
                    replaced = leftovers(self, account, fs_name, &old);
                }
                meta
            }
        };
        self.save(account, fs_name, fs)?;
        drop(accounts);
        persist::remove_files(replaced);
        self.note_expiry(meta.expires);
        Ok(meta)
    }

    /// Metadata of a path and its committed content (files only).
    pub(crate) fn path(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
    ) -> Result<(PathMeta, Option<Content>), ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let meta = fs
            .paths
            .get(path)
            .ok_or_else(ServiceError::path_not_found)?;
        let blob = meta
            .blob
            .as_ref()
            .map(|id| match self.blob_file(account, fs_name, id) {
                Some(file) => Content::File(file),
                None => Content::Memory(meta.memory.clone()),
            });
        let mut snapshot = meta.clone();
        snapshot.pending.clear();
        Ok((snapshot, blob))
    }

    /// Replaces a path's `x-ms-properties` (`action=setProperties`).
    pub(crate) fn set_path_properties(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        properties: Option<String>,
        conditions: &Conditions,
    ) -> Result<PathMeta, ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let meta = fs
            .paths
            .get_mut(path)
            .ok_or_else(ServiceError::path_not_found)?;
        meta.check_write(conditions)?;
        if properties.is_some() {
            meta.properties = properties;
        }
        meta.touch();
        let snapshot = meta.clone();
        self.save(account, fs_name, fs)?;
        Ok(snapshot)
    }

    /// Deletes a file, or a directory (`recursive` required when it has children). With a
    /// delete retention period (`retention_days`) the path is soft-deleted: kept, and its
    /// deletion ID returned.
    pub(crate) fn delete_path(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        recursive: bool,
        conditions: &Conditions,
        retention_days: Option<u32>,
    ) -> Result<Option<String>, ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let meta = fs
            .paths
            .get(path)
            .ok_or_else(ServiceError::path_not_found)?;
        meta.check_write(conditions)?;
        let mut names = vec![path.to_string()];
        if meta.kind == Kind::Directory {
            let children = fs.descendants(path);
            if !children.is_empty() && !recursive {
                return Err(ServiceError::directory_not_empty());
            }
            names.extend(children);
        }
        if let Some(days) = retention_days {
            let garbage: Vec<PathBuf> = names
                .iter()
                .filter_map(|name| fs.paths.get(name))
                .flat_map(|meta| meta.pending.iter().filter_map(|p| p.data.file()))
                .collect();
            let deletion_id = super::soft_delete::soft_delete(fs, names, days);
            self.save(account, fs_name, fs)?;
            drop(accounts);
            persist::remove_files(garbage);
            return Ok(Some(deletion_id));
        }
        let mut garbage = Vec::new();
        for name in names {
            if let Some(old) = fs.paths.remove(&name) {
                garbage.extend(leftovers(self, account, fs_name, &old));
            }
        }
        self.save(account, fs_name, fs)?;
        drop(accounts);
        persist::remove_files(garbage);
        Ok(None)
    }

    /// Renames a file or a directory with all its children, in one index commit, within a
    /// file system or from another one of the same account (`request.source_fs`). An
    /// existing destination file, or empty directory, is replaced unless the destination
    /// conditions fail.
    pub(crate) fn rename_path(
        &self,
        account: &str,
        fs_name: &str,
        dest: &str,
        request: RenameRequest,
    ) -> Result<PathMeta, ServiceError> {
        let cross = request.source_fs != fs_name;
        let mut accounts = self.lock();
        let filesystems = super::account_mut(&mut accounts, account)?;
        if !filesystems.contains_key(fs_name) {
            return Err(ServiceError::filesystem_not_found());
        }
        // Another file system is taken out of the map while both are changed.
        let mut detached = match cross {
            false => None,
            true => Some(
                filesystems
                    .remove(&request.source_fs)
                    .ok_or_else(ServiceError::source_path_not_found)?,
            ),
        };
        let dest_fs = filesystems.get_mut(fs_name).expect("checked above");
        // Content files move too when on disk; if one cannot, everything is put back.
        let backup = (cross && self.layout.is_some()).then(|| (dest_fs.clone(), detached.clone()));
        let mut outcome = move_paths(dest_fs, detached.as_mut(), dest, &request);
        if let (Ok(done), Some(layout)) = (&outcome, self.layout.as_ref().filter(|_| cross)) {
            let mut moved = Vec::new();
            for id in &done.blobs {
                let from = layout.blob(account, &request.source_fs, id);
                let to = layout.blob(account, fs_name, id);
                match std::fs::rename(&from, &to) {
                    Ok(()) => moved.push((from, to)),
                    Err(e) => {
                        for (from, to) in moved.drain(..).rev() {
                            let _ = std::fs::rename(to, from);
                        }
                        let (dest_before, source_before) = backup.expect("kept for this");
                        *filesystems.get_mut(fs_name).expect("checked above") = dest_before;
                        detached = source_before;
                        outcome = Err(e.into());
                        break;
                    }
                }
            }
        }
        let saved = outcome.and_then(|done| {
            let dest_fs = filesystems.get(fs_name).expect("checked above");
            self.save(account, fs_name, dest_fs)?;
            if let Some(source) = &detached {
                self.save(account, &request.source_fs, source)?;
            }
            Ok(done)
        });
        if let Some(source) = detached {
            filesystems.insert(request.source_fs.clone(), source);
        }
        drop(accounts);
        let done = saved?;
        let garbage: Vec<PathBuf> = done
            .replaced
            .iter()
            .flat_map(|old| leftovers(self, account, fs_name, old))
            .collect();
        persist::remove_files(garbage);
        Ok(done.snapshot)
    }

    /// One page of paths in depth-first order, and the continuation token when more remain.
    pub(crate) fn list_paths(
        &self,
        account: &str,
        fs_name: &str,
        request: &ListRequest,
    ) -> Result<Page, ServiceError> {
        let after = match &request.continuation {
            None => None,
            Some(token) => Some(
                STANDARD
                    .decode(token)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(ServiceError::invalid_query_parameter_value)?,
            ),
        };
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let prefix = match request.directory.as_deref() {
            None => String::new(),
            Some(dir) => match fs.paths.get(dir) {
                Some(meta) if meta.kind == Kind::Directory => format!("{dir}/"),
                _ => return Err(ServiceError::path_not_found()),
            },
        };
        let start = request
            .start_from
            .as_ref()
            .map(|from| format!("{prefix}{from}"));
        let mut names: Vec<&String> = fs
            .paths
            .range(prefix.clone()..)
            .take_while(|(name, _)| name.starts_with(&prefix))
            .map(|(name, _)| name)
            .filter(|name| request.recursive || !name[prefix.len()..].contains('/'))
            .filter(|name| {
                after
                    .as_ref()
                    .is_none_or(|a| model::path_order(name, a).is_gt())
            })
            .filter(|name| {
                start
                    .as_ref()
                    .is_none_or(|s| model::path_order(name, s).is_ge())
            })
            .collect();
        names.sort_by(|a, b| model::path_order(a, b));
        let more = names.len() > request.max_results;
        names.truncate(request.max_results);
        let continuation = more.then(|| STANDARD.encode(names.last().expect("page is not empty")));
        let page = names
            .into_iter()
            .map(|name| {
                let mut meta = fs.paths[name].clone();
                meta.pending.clear();
                (name.clone(), meta)
            })
            .collect();
        Ok(Page {
            paths: page,
            continuation,
        })
    }
}

#[cfg(test)]
mod tests;
