//! The metadata model of the store: file systems, paths, ETags and path-name rules.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::access::Access;
use super::content::{Chunks, Staged};
use super::soft_delete::DeletedPath;
use crate::blob::SignedIdentifier;
use crate::conditions::{Conditions, Outcome};
use crate::errors::ServiceError;
use crate::lease::{self, Lease};
use crate::timefmt;

/// A path is a file or a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// A file with content.
    File,
    /// A directory (hierarchical namespace).
    Directory,
}

impl Kind {
    /// `file` or `directory`, as in `x-ms-resource-type`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Directory => "directory",
        }
    }
}

/// HTTP content headers stored with a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ContentHeaders {
    /// `Content-Type` (`x-ms-content-type` on create and flush).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `Content-Encoding`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// `Content-Language`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// `Content-Disposition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    /// `Cache-Control`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// `Content-MD5` (base64), as given by the flush's `x-ms-content-md5`; never computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_md5: Option<String>,
}

/// Uncommitted data of one append, kept until a flush commits or drops it.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    /// `position` of the append.
    pub position: u64,
    /// Length of the appended data.
    pub len: u64,
    /// The data (a staging file, or memory).
    pub data: Staged,
    /// Arrival order: among appends at one position the latest wins.
    pub seq: u64,
}

/// Metadata of one path.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PathMeta {
    /// File or directory.
    pub kind: Kind,
    /// ETag without quotes (`0x8DC…`).
    pub etag: String,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created: u64,
    /// Last modification time, nanoseconds since the Unix epoch.
    pub modified: u64,
    /// Committed length of a file.
    #[serde(default)]
    pub len: u64,
    /// Identity of the file's content: its name in the file system's `blobs/` folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
    /// `x-ms-properties` as given (`n1=base64,n2=base64`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<String>,
    /// Stored content headers.
    #[serde(default)]
    pub content: ContentHeaders,
    /// `x-ms-encryption-context` given at create (files), returned on reads and listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context: Option<String>,
    /// The encryption scope the path was created under (its file system's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_scope: Option<String>,
    /// Owner, group, permissions and ACL (`None`: the defaults of its kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// The lease on the path, when one was ever taken and not released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// When a file expires and is removed, nanoseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// Blob index tags (Set Blob Tags), in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// The committed block list of a blob written through the Blob API (Put Block List);
    /// empty for files written otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<super::blocks::CommittedBlock>,
    /// Uncommitted appends (kept in memory and in staging files; not persisted).
    #[serde(skip)]
    pub pending: Vec<Pending>,
    /// A flush is copying data into this file's content.
    #[serde(skip)]
    pub flushing: bool,
    /// Committed content of a file in an in-memory store (empty in a store on disk).
    #[serde(skip)]
    pub memory: Arc<Chunks>,
}

impl PathMeta {
    /// A new path stamped now, with a fresh ETag.
    pub(crate) fn new(kind: Kind, blob: Option<String>) -> Self {
        let now = timefmt::to_nanos(SystemTime::now());
        Self {
            kind,
            etag: new_etag(),
            created: now,
            modified: now,
            len: 0,
            blob,
            properties: None,
            content: ContentHeaders::default(),
            encryption_context: None,
            encryption_scope: None,
            access: None,
            lease: None,
            expires: None,
            tags: Vec::new(),
            blocks: Vec::new(),
            pending: Vec::new(),
            flushing: false,
            memory: Arc::default(),
        }
    }

    /// Last modification time.
    pub(crate) fn last_modified(&self) -> SystemTime {
        timefmt::from_nanos(self.modified)
    }

    /// Creation time.
    pub(crate) fn creation_time(&self) -> SystemTime {
        timefmt::from_nanos(self.created)
    }

    /// `(etag, last_modified)` for condition evaluation.
    pub(crate) fn version(&self) -> (&str, SystemTime) {
        (&self.etag, self.last_modified())
    }

    /// The path's access control (the defaults of its kind when never set).
    pub(crate) fn access(&self) -> Access {
        self.access
            .clone()
            .unwrap_or_else(|| Access::default_for(self.kind))
    }

    /// Checks a write's conditions: its `If-*` headers (`ConditionNotMet`) and the lease it
    /// names (`x-ms-lease-id`; a leased path takes writes only under its lease).
    pub(crate) fn check_write(&self, conditions: &Conditions) -> Result<(), ServiceError> {
        if conditions.evaluate(Some(self.version()), false) != Outcome::Pass {
            return Err(ServiceError::condition_not_met());
        }
        lease::check(
            self.lease.as_ref(),
            conditions.lease_id(),
            true,
            lease::now(),
        )
    }

    /// Marks a modification: new ETag, new Last-Modified.
    pub(crate) fn touch(&mut self) {
        self.etag = new_etag();
        self.modified = timefmt::to_nanos(SystemTime::now());
    }
}

/// Metadata of one file system, persisted as its `index.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FsMeta {
    /// ETag without quotes.
    pub etag: String,
    /// Last modification time, nanoseconds since the Unix epoch.
    pub modified: u64,
    /// `x-ms-properties` of the file system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<String>,
    /// Every path, keyed by its name (`dir/sub/file.csv`).
    #[serde(default)]
    pub paths: BTreeMap<String, PathMeta>,
    /// `x-ms-default-encryption-scope` given at create: new paths are created under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_scope: Option<String>,
    /// Access control of the root directory `/` (`None`: a directory's defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_access: Option<Access>,
    /// The lease on the file system (Lease Container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// Soft-deleted paths, kept for the delete retention period.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<DeletedPath>,
    /// Public access level: `container`, `blob`, or `None` (private).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access: Option<String>,
    /// Stored access policies (Set Container ACL).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifiers: Vec<SignedIdentifier>,
}

impl FsMeta {
    /// An empty file system stamped now.
    pub(crate) fn new(properties: Option<String>) -> Self {
        Self {
            etag: new_etag(),
            modified: timefmt::to_nanos(SystemTime::now()),
            properties,
            paths: BTreeMap::new(),
            encryption_scope: None,
            root_access: None,
            lease: None,
            deleted: Vec::new(),
            public_access: None,
            identifiers: Vec::new(),
        }
    }

    /// Last modification time.
    pub(crate) fn last_modified(&self) -> SystemTime {
        timefmt::from_nanos(self.modified)
    }

    /// Names of a directory's descendants, in name order.
    pub(crate) fn descendants(&self, dir: &str) -> Vec<String> {
        let prefix = format!("{dir}/");
        self.paths
            .range(prefix.clone()..)
            .take_while(|(name, _)| name.starts_with(&prefix))
            .map(|(name, _)| name.clone())
            .collect()
    }
}

static LAST_ETAG: AtomicU64 = AtomicU64::new(0);

/// A fresh ETag shaped like the service's (`0x8D` and 13 hex digits), unique and increasing:
/// microseconds since the Unix epoch in the low 52 bits.
pub(crate) fn new_etag() -> String {
    const BASE: u64 = 0x8D << 52;
    let now = BASE | (timefmt::to_nanos(SystemTime::now()) / 1000);
    let mut previous = LAST_ETAG.load(AtomicOrdering::Relaxed);
    loop {
        let next = now.max(previous + 1);
        match LAST_ETAG.compare_exchange(
            previous,
            next,
            AtomicOrdering::Relaxed,
            AtomicOrdering::Relaxed,
        ) {
            Ok(_) => return format!("0x{next:X}"),
            Err(actual) => previous = actual,
        }
    }
}

/// The parent directory of a path, `None` at the root.
pub(crate) fn parent(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(parent, _)| parent)
}

/// Every ancestor directory of a path, shallowest first (`a`, `a/b` for `a/b/c`).
pub(crate) fn ancestors(path: &str) -> Vec<&str> {
    path.match_indices('/').map(|(i, _)| &path[..i]).collect()
}

/// Orders paths as a depth-first walk: by segment, so `a/b` sorts before `a-c`.
pub(crate) fn path_order(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Whether `path` is `dir` itself or lies under it.
pub(crate) fn is_within(path: &str, dir: &str) -> bool {
    path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether a file system name is valid: 3–63 of `a-z0-9-`, starting and ending with a letter
/// or digit, no two hyphens in a row.
pub(crate) fn valid_filesystem_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// Whether an account name is valid: 3–24 lowercase letters and digits.
pub(crate) fn valid_account_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_increase_and_look_real() {
        let a = new_etag();
        let b = new_etag();
        assert!(a.starts_with("0x8D") && a.len() == 17, "{a}");
        let parse = |s: &str| u64::from_str_radix(&s[2..], 16).unwrap();
        assert!(parse(&b) > parse(&a));
    }

    #[test]
    fn path_helpers() {
        assert_eq!(parent("a/b/c"), Some("a/b"));
        assert_eq!(parent("a"), None);
        assert_eq!(ancestors("a/b/c"), vec!["a", "a/b"]);
        assert_eq!(path_order("a/b", "a-c"), Ordering::Less);
        assert!(is_within("a/b", "a") && is_within("a", "a") && !is_within("ab", "a"));
    }

    #[test]
    fn names() {
        for ok in ["abc", "writeback", "a-b-c", "0ab"] {
            assert!(valid_filesystem_name(ok), "{ok}");
        }
        for bad in ["ab", "Abc", "a--b", "-ab", "ab-", "a_b", &"a".repeat(64)] {
            assert!(!valid_filesystem_name(bad), "{bad}");
        }
        assert!(valid_account_name("devstoreaccount1"));
        assert!(!valid_account_name("Dev"));
    }

    #[test]
    fn children_and_descendants() {
        let mut fs = FsMeta::new(None);
        for name in ["a", "a/b", "a/b/c", "a-c", "ab"] {
            fs.paths
                .insert(name.into(), PathMeta::new(Kind::Directory, None));
        }
        assert!(fs.descendants("ab").is_empty());
        assert_eq!(fs.descendants("a"), vec!["a/b", "a/b/c"]);
    }
}
