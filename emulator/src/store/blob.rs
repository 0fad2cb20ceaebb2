//! Store operations that only the Blob endpoint needs: replacing metadata and content headers
//! as the Blob API does, and the flat, name-ordered listing of List Blobs.

use std::time::SystemTime;

use super::model::{ContentHeaders, PathMeta};
use super::{Store, fs_mut};
use crate::conditions::{Conditions, Outcome};
use crate::errors::ServiceError;
use crate::lease::{self, Lease};

/// One entry of a List Blobs page.
#[derive(Debug, Clone)]
pub(crate) enum Listed {
    /// A file or directory, with its metadata.
    Blob(String, Box<PathMeta>),
    /// A `BlobPrefix`: names up to and including the delimiter.
    Prefix(String),
}

impl Listed {
    /// The entry's name (a prefix ends with the delimiter).
    pub(crate) fn name(&self) -> &str {
        match self {
            Listed::Blob(name, _) | Listed::Prefix(name) => name,
        }
    }
}

/// A List Blobs request.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlobListRequest {
    /// Only names starting with this.
    pub prefix: String,
    /// Names with the delimiter after the prefix collapse into a [`Listed::Prefix`].
    pub delimiter: Option<String>,
    /// Resume at the first entry whose name is not below this.
    pub marker: Option<String>,
    /// Page size.
    pub max_results: usize,
}

/// One page of List Blobs.
#[derive(Debug, Clone)]
pub(crate) struct BlobPage {
    /// Entries in name (byte) order.
    pub entries: Vec<Listed>,
    /// Name of the first entry of the next page, when more remain.
    pub next_marker: Option<String>,
}

impl Store {
    /// Replaces a path's metadata (`x-ms-properties` form): the Blob API's Set Metadata, which
    /// clears what it does not name.
    pub(crate) fn replace_path_properties(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        properties: Option<String>,
        conditions: &Conditions,
    ) -> Result<PathMeta, ServiceError> {
        self.update_path(account, fs_name, path, conditions, |meta| {
            meta.properties = properties;
        })
    }

    /// Replaces a path's content headers: the Blob API's Set Blob Properties, which clears the
    /// headers it does not name.
    pub(crate) fn replace_path_content(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        content: ContentHeaders,
        conditions: &Conditions,
    ) -> Result<PathMeta, ServiceError> {
        self.update_path(account, fs_name, path, conditions, |meta| {
            meta.content = content;
        })
    }

    /// Applies a lease operation (`op`, given the lease slot and the time) to a path whose
    /// `If-*` conditions pass and commits it; a lease operation leaves the ETag as it is.
    pub(crate) fn lease_path<T>(
        &self,
        account: &str,
        fs_name: &str,
        path: Option<&str>,
        conditions: &Conditions,
        op: impl FnOnce(&mut Option<Lease>, u64) -> Result<T, ServiceError>,
    ) -> Result<(T, String, SystemTime), ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let (slot, etag, modified) = match path {
            None => {
                let (etag, modified) = (fs.etag.clone(), fs.last_modified());
                (&mut fs.lease, etag, modified)
            }
            Some(path) => {
                let meta = fs
                    .paths
                    .get_mut(path)
                    .ok_or_else(ServiceError::path_not_found)?;
                let (etag, modified) = (meta.etag.clone(), meta.last_modified());
                (&mut meta.lease, etag, modified)
            }
        };
        if conditions.evaluate(Some((&etag, modified)), false) != Outcome::Pass {
            return Err(ServiceError::condition_not_met());
        }
        let done = op(slot, lease::now())?;
        self.save(account, fs_name, fs)?;
        Ok((done, etag, modified))
    }

    /// A path's blob index tags, when its conditions pass (unmet ones answer 412, as on
    /// writes).
    pub(crate) fn path_tags(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        conditions: &Conditions,
    ) -> Result<Vec<(String, String)>, ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let meta = fs
            .paths
            .get(path)
            .ok_or_else(ServiceError::path_not_found)?;
        if conditions.evaluate(Some(meta.version()), false) != Outcome::Pass {
            return Err(ServiceError::condition_not_met());
        }
        lease::check(
            meta.lease.as_ref(),
            conditions.lease_id(),
            false,
            lease::now(),
        )?;
        Ok(meta.tags.clone())
    }

    /// Replaces a path's blob index tags; its ETag stays as it is.
    pub(crate) fn set_path_tags(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        tags: Vec<(String, String)>,
        conditions: &Conditions,
    ) -> Result<(), ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let meta = fs
            .paths
            .get_mut(path)
            .ok_or_else(ServiceError::path_not_found)?;
        if conditions.evaluate(Some(meta.version()), false) != Outcome::Pass {
            return Err(ServiceError::condition_not_met());
        }
        lease::check(
            meta.lease.as_ref(),
            conditions.lease_id(),
            false,
            lease::now(),
        )?;
        meta.tags = tags;
        self.save(account, fs_name, fs)
    }

    /// Applies `change` to a path whose conditions pass, stamps it modified and commits.
    fn update_path(
        &self,
        account: &str,
        fs_name: &str,
        path: &str,
        conditions: &Conditions,
        change: impl FnOnce(&mut PathMeta),
    ) -> Result<PathMeta, ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let meta = fs
            .paths
            .get_mut(path)
            .ok_or_else(ServiceError::path_not_found)?;
        meta.check_write(conditions)?;
        change(meta);
        meta.touch();
        let mut snapshot = meta.clone();
        snapshot.pending.clear();
        self.save(account, fs_name, fs)?;
        Ok(snapshot)
    }

    /// One page of List Blobs: every file and directory (directories are blobs too on a
    /// hierarchical namespace), by name.
    pub(crate) fn list_blobs(
        &self,
        account: &str,
        fs_name: &str,
        request: &BlobListRequest,
    ) -> Result<BlobPage, ServiceError> {
        let mut accounts = self.lock();
        let fs = fs_mut(&mut accounts, account, fs_name)?;
        let prefix = request.prefix.as_str();
        let delimiter = request.delimiter.as_deref().filter(|d| !d.is_empty());
        let mut entries: Vec<Listed> = Vec::new();
        let mut more = None;
        let names = fs
            .paths
            .range(prefix.to_string()..)
            .take_while(|(name, _)| name.starts_with(prefix));
        for (name, meta) in names {
            let collapsed = delimiter.and_then(|d| {
                name[prefix.len()..]
                    .find(d)
                    .map(|at| name[..prefix.len() + at + d.len()].to_string())
            });
            let entry = match collapsed {
                Some(p) if entries.last().is_some_and(|e| e.name() == p) => continue,
                Some(p) => Listed::Prefix(p),
                None => {
                    let mut meta = meta.clone();
                    meta.pending.clear();
                    Listed::Blob(name.clone(), Box::new(meta))
                }
            };
            if request.marker.as_deref().is_some_and(|m| entry.name() < m) {
                continue;
            }
            if entries.len() == request.max_results {
                more = Some(entry.name().to_string());
                break;
            }
            entries.push(entry);
        }
        Ok(BlobPage {
            entries,
            next_marker: more,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CreateRequest, StorageAccountConfig};
    use super::*;
    use crate::store::model::Kind;

    fn store(dir: &std::path::Path) -> Store {
        let accounts = [StorageAccountConfig {
            name: "acct1".into(),
            file_systems: vec!["fs1".into()],
            hierarchical_namespace: true,
        }];
        let s = Store::open(dir, &accounts).unwrap();
        for path in ["a/b/c.csv", "a/d.csv", "a-e.csv", "z.csv"] {
            let request = CreateRequest {
                kind: Kind::File,
                properties: None,
                content: ContentHeaders::default(),
                conditions: Conditions::default(),
                access: crate::store::NewAccess::default(),
                encryption_context: None,
                new_lease: None,
                expiry: None,
            };
            s.create_path("acct1", "fs1", path, request).unwrap();
        }
        s
    }

    fn page(s: &Store, prefix: &str, delimiter: Option<&str>, marker: Option<&str>) -> BlobPage {
        let request = BlobListRequest {
            prefix: prefix.into(),
            delimiter: delimiter.map(str::to_string),
            marker: marker.map(str::to_string),
            max_results: 2,
        };
        s.list_blobs("acct1", "fs1", &request).unwrap()
    }

    fn names(p: &BlobPage) -> Vec<String> {
        p.entries
            .iter()
            .map(|e| match e {
                Listed::Blob(n, _) => n.clone(),
                Listed::Prefix(n) => format!("prefix {n}"),
            })
            .collect()
    }

    #[test]
    fn flat_listing_is_in_byte_order_with_directories() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let first = page(&s, "", None, None);
        assert_eq!(names(&first), ["a", "a-e.csv"]);
        assert_eq!(first.next_marker.as_deref(), Some("a/b"));
        let second = page(&s, "", None, first.next_marker.as_deref());
        assert_eq!(names(&second), ["a/b", "a/b/c.csv"]);
        let third = page(&s, "", None, second.next_marker.as_deref());
        assert_eq!(names(&third), ["a/d.csv", "z.csv"]);
        assert!(third.next_marker.is_none());
    }

    #[test]
    fn delimiter_collapses_prefixes() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let first = page(&s, "", Some("/"), None);
        assert_eq!(names(&first), ["a", "a-e.csv"]);
        let second = page(&s, "", Some("/"), first.next_marker.as_deref());
        assert_eq!(names(&second), ["prefix a/", "z.csv"]);
        assert!(second.next_marker.is_none());
        let inside = page(&s, "a/", Some("/"), None);
        assert_eq!(names(&inside), ["a/b", "prefix a/b/"]);
        assert_eq!(inside.next_marker.as_deref(), Some("a/d.csv"));
    }

    #[test]
    fn replacing_clears_and_changes_the_etag() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let (before, _) = s.path("acct1", "fs1", "z.csv").unwrap();
        let content = ContentHeaders {
            content_type: Some("text/csv".into()),
            ..ContentHeaders::default()
        };
        let after = s
            .replace_path_content("acct1", "fs1", "z.csv", content, &Conditions::default())
            .unwrap();
        assert_ne!(after.etag, before.etag);
        assert_eq!(after.content.content_type.as_deref(), Some("text/csv"));
        let cleared = s
            .replace_path_properties("acct1", "fs1", "z.csv", None, &Conditions::default())
            .unwrap();
        assert!(cleared.properties.is_none());
        assert_eq!(
            s.replace_path_properties("acct1", "fs1", "nope", None, &Conditions::default())
                .unwrap_err()
                .code,
            "PathNotFound"
        );
    }
}
