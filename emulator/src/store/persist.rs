//! On-disk layout of the store and crash-safe writes.
//!
//! ```text
//! data_dir/
//!   .staging/<uuid>              uncommitted appends (dropped at start, like a lost session)
//!   <account>/<filesystem>/
//!     index.json                 every path's metadata; replaced atomically (temp, fsync, rename,
//!                                fsync of the folder)
//!     index.tmp-<uuid>           an index being written (removed at start if a crash left it)
//!     blobs/<uuid>               committed content of one file
//! ```
//!
//! A file's content is `blobs/<id>` cut at the length recorded in `index.json`: a flush appends
//! the new data after the committed bytes, fsyncs, then commits the new length by replacing the
//! index. Committed bytes are never rewritten in place, and bytes past the recorded length
//! (left by a crash mid-flush) are cut off at the next start, with temporary index files that a
//! crash left behind. The folder is fsynced after the rename, so a committed index survives a
//! power loss too.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::model::{FsMeta, Kind};

const INDEX: &str = "index.json";
const BLOBS: &str = "blobs";
const STAGING: &str = ".staging";
/// Extension prefix of an index being written (`index.tmp-<uuid>`).
const TEMP_EXTENSION: &str = "tmp-";

/// Every account with its file systems, as loaded from disk.
pub(crate) type Accounts = BTreeMap<String, BTreeMap<String, FsMeta>>;

/// Paths of the store's files.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout under `root`.
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Folder of one account.
    pub(crate) fn account_dir(&self, account: &str) -> PathBuf {
        self.root.join(account)
    }

    /// Folder of one file system.
    pub(crate) fn fs_dir(&self, account: &str, fs: &str) -> PathBuf {
        self.account_dir(account).join(fs)
    }

    /// Committed content of one file.
    pub(crate) fn blob(&self, account: &str, fs: &str, id: &str) -> PathBuf {
        self.fs_dir(account, fs).join(BLOBS).join(id)
    }

    /// Folder of uncommitted appends.
    pub(crate) fn staging_dir(&self) -> PathBuf {
        self.root.join(STAGING)
    }

    /// Creates the root, drops leftover staging files and loads every file system, repairing
    /// content files that a crash left longer than their committed length.
    pub(crate) fn open(&self) -> io::Result<Accounts> {
        fs::create_dir_all(&self.root)?;
        let staging = self.staging_dir();
        if staging.exists() {
            fs::remove_dir_all(&staging)?;
        }
        fs::create_dir_all(&staging)?;
        let mut accounts = Accounts::new();
        for account in subdirs(&self.root)? {
            if account.starts_with('.') {
                continue;
            }
            let mut filesystems = BTreeMap::new();
            for fs_name in subdirs(&self.account_dir(&account))? {
                remove_temp_indexes(&self.fs_dir(&account, &fs_name))?;
                let index = self.fs_dir(&account, &fs_name).join(INDEX);
                if !index.exists() {
                    continue;
                }
                let meta: FsMeta = serde_json::from_slice(&fs::read(&index)?)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                self.repair(&account, &fs_name, &meta)?;
                filesystems.insert(fs_name, meta);
            }
            // A folder without file systems is not an account (`tls/` holds the emulator's
            // certificates); `Store::open` adds the configured accounts back.
            if !filesystems.is_empty() {
                accounts.insert(account, filesystems);
            }
        }
        Ok(accounts)
    }

    /// Cuts content files to their committed length and removes unreferenced ones.
    fn repair(&self, account: &str, fs_name: &str, meta: &FsMeta) -> io::Result<()> {
        let blobs_dir = self.fs_dir(account, fs_name).join(BLOBS);
        fs::create_dir_all(&blobs_dir)?;
        let mut referenced = HashSet::new();
        for (name, path) in &meta.paths {
            let (Kind::File, Some(id)) = (path.kind, &path.blob) else {
                continue;
            };
            referenced.insert(id.clone());
            let blob = blobs_dir.join(id);
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&blob)?;
            let on_disk = file.metadata()?.len();
            if on_disk > path.len {
                file.set_len(path.len)?;
            } else if on_disk < path.len {
                tracing::warn!(path = %name, "content shorter than its committed length");
            }
        }
        for entry in fs::read_dir(&blobs_dir)? {
            let entry = entry?;
            if !referenced.contains(entry.file_name().to_string_lossy().as_ref()) {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }

    /// Creates an account folder.
    pub(crate) fn create_account(&self, account: &str) -> io::Result<()> {
        fs::create_dir_all(self.account_dir(account))
    }

    /// Writes a file system's index atomically: temp file, fsync, rename.
    pub(crate) fn save(&self, account: &str, fs_name: &str, meta: &FsMeta) -> io::Result<()> {
        let dir = self.fs_dir(account, fs_name);
        fs::create_dir_all(dir.join(BLOBS))?;
        let json = serde_json::to_vec(meta).map_err(io::Error::other)?;
        write_atomically(&dir.join(INDEX), &json)
    }

    /// Removes a file system with all its content.
    pub(crate) fn remove_fs(&self, account: &str, fs_name: &str) -> io::Result<()> {
        let dir = self.fs_dir(account, fs_name);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

/// Replaces `target` with `bytes` so that a reader sees the old or the new content, never a mix,
/// and the new content is durable when this returns.
pub(crate) fn write_atomically(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = temp_path(target);
    let result = (|| {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    match target.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// A temporary sibling of `target` (`index.tmp-<uuid>` for `index.json`).
fn temp_path(target: &Path) -> PathBuf {
    target.with_extension(format!("{TEMP_EXTENSION}{}", uuid::Uuid::new_v4()))
}

/// Makes a folder's entries (a rename into it) durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Windows cannot open a folder as a file; its renames are journaled by NTFS.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Removes temporary index files a crash left in a file system's folder.
fn remove_temp_indexes(dir: &Path) -> io::Result<()> {
    let prefix = format!("{}.{TEMP_EXTENSION}", INDEX.trim_end_matches(".json"));
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Removes files, logging (not failing on) errors: used after a commit.
pub(crate) fn remove_files(files: impl IntoIterator<Item = PathBuf>) {
    for file in files {
        if let Err(e) = fs::remove_file(&file)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(file = %file.display(), error = %e, "could not remove file");
        }
    }
}

fn subdirs(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::super::model::PathMeta;
    use super::*;

    #[test]
    fn save_open_and_repair() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        layout.open().unwrap();
        layout.create_account("acct").unwrap();
        let mut meta = FsMeta::new(None);
        let mut file = PathMeta::new(Kind::File, Some("blob1".into()));
        file.len = 3;
        meta.paths.insert("f".into(), file);
        layout.save("acct", "fs1", &meta).unwrap();
        fs::write(layout.blob("acct", "fs1", "blob1"), b"abcdef").unwrap();
        fs::write(layout.blob("acct", "fs1", "orphan"), b"x").unwrap();
        fs::write(layout.staging_dir().join("left"), b"x").unwrap();
        let temp_index = layout.fs_dir("acct", "fs1").join("index.tmp-crashed");
        fs::write(&temp_index, b"{\"etag\":").unwrap();

        let accounts = layout.open().unwrap();
        assert_eq!(accounts["acct"]["fs1"].paths["f"].len, 3);
        assert_eq!(
            fs::read(layout.blob("acct", "fs1", "blob1")).unwrap(),
            b"abc"
        );
        assert!(!layout.blob("acct", "fs1", "orphan").exists());
        assert_eq!(fs::read_dir(layout.staging_dir()).unwrap().count(), 0);
        assert!(!temp_index.exists(), "a half-written index is removed");
    }
}
