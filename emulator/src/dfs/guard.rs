//! The POSIX permission check of a DFS or Blob request made for a checked principal (a user
//! delegation SAS with `suoid`, see `crate::caller`): which permission each operation needs
//! of which path ([`Need`]), checked by `crate::store::posix` before the operation runs.
//! Requests of the superuser (account key, tokens, other SAS) are not checked.
//!
//! Account and file system operations are governed by roles, not ACLs, and are not checked
//! here, nor is anything on an account without a hierarchical namespace; `setAccessControlRecursive` checks each path as it goes (`crate::store`).

use axum::http::{HeaderMap, Method};
use percent_encoding::percent_decode_str;

use super::{DfsState, Query, Target, header_str};
use crate::caller::Caller;
use crate::errors::ServiceError;
use crate::store::posix::Need;

/// What a DFS request on `path` (`None`: the file system or its root) needs.
pub(crate) fn dfs_need(
    method: &Method,
    query: &Query,
    headers: &HeaderMap,
    path: Option<&str>,
) -> Option<Need> {
    let action = query.get("action");
    if path.is_none() {
        return match (method, action) {
            (&Method::PATCH, Some("setAccessControl")) => Some(ownership(headers)),
            (&Method::HEAD, Some(_)) => Some(Need::Traverse),
            (&Method::GET, _) if query.get("resource") == Some("filesystem") => Some(Need::List),
            _ => None,
        };
    }
    Some(match (method, action) {
        (&Method::PUT, _) => Need::CreateOrWrite,
        (&Method::PATCH, Some("setAccessControl")) => ownership(headers),
        (&Method::PATCH, Some("setAccessControlRecursive")) => Need::Traverse,
        (&Method::PATCH, _) => Need::Write,
        (&Method::GET, _) => Need::Read,
        (&Method::HEAD, _) => Need::Traverse,
        (&Method::DELETE, _) => Need::Delete,
        _ => return None,
    })
}

/// Changing an owner or owning group is the superuser's; permissions and ACLs the owner's.
fn ownership(headers: &HeaderMap) -> Need {
    if headers.contains_key("x-ms-owner") || headers.contains_key("x-ms-group") {
        Need::Superuser
    } else {
        Need::Own
    }
}

/// What a Blob request on `path` (`None`: the container) needs.
pub(crate) fn blob_need(method: &Method, query: &Query, path: Option<&str>) -> Option<Need> {
    if path.is_none() {
        return (*method == Method::GET && query.get("comp") == Some("list")).then_some(Need::List);
    }
    Some(match *method {
        Method::GET => Need::Read,
        Method::HEAD => Need::Traverse,
        Method::DELETE => Need::Delete,
        Method::PUT => Need::CreateOrWrite,
        Method::POST if query.get("comp") == Some("query") => Need::Read,
        _ => return None,
    })
}

/// The file system and path a rename's `x-ms-rename-source` (`/{filesystem}/{path}[?…]`)
/// names.
fn rename_source(headers: &HeaderMap) -> Option<(String, String)> {
    let source = header_str(headers, "x-ms-rename-source")?;
    let source = source.split('?').next().unwrap_or_default();
    let decoded = percent_decode_str(source).decode_utf8().ok()?;
    let (fs, path) = decoded.trim_start_matches('/').split_once('/')?;
    let path = super::normalize_path(path).ok()??;
    Some((fs.to_string(), path))
}

/// Checks a request of `caller` on `target` (`need` says what it needs); a rename also needs
/// to delete its source, and a DFS listing lists its `directory` (or the root).
pub(crate) fn check(
    state: &DfsState,
    caller: &Caller,
    target: &Target,
    (headers, query): (&HeaderMap, &Query),
    need: Option<Need>,
) -> Result<(), ServiceError> {
    let (Some(oid), Some(need), Some(fs)) = (
        caller.checked_principal(),
        need,
        target.filesystem.as_deref(),
    ) else {
        return Ok(());
    };
    if !state.store.is_hierarchical(&target.account) {
        // Without a hierarchical namespace there are no ACLs: roles alone decide.
        return Ok(());
    }
    if let Some((source_fs, source)) = rename_source(headers) {
        state.store.check_posix(
            &target.account,
            &source_fs,
            Some(&source),
            oid,
            Need::Delete,
        )?;
    }
    let listed = match (need, &target.path, query.get("directory")) {
        (Need::List, None, Some(dir)) => super::normalize_path(dir)?,
        _ => target.path.clone(),
    };
    state
        .store
        .check_posix(&target.account, fs, listed.as_deref(), oid, need)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn operations_map_to_what_they_need() {
        let q = |s: &str| Query::parse(Some(s));
        let none = HeaderMap::new();
        assert_eq!(
            dfs_need(&Method::GET, &q(""), &none, Some("a")),
            Some(Need::Read)
        );
        assert_eq!(
            dfs_need(&Method::GET, &q("resource=filesystem"), &none, None),
            Some(Need::List)
        );
        assert_eq!(
            dfs_need(&Method::PUT, &q("resource=filesystem"), &none, None),
            None
        );
        assert_eq!(
            dfs_need(
                &Method::PATCH,
                &q("action=setAccessControl"),
                &none,
                Some("a")
            ),
            Some(Need::Own)
        );
        let mut chown = HeaderMap::new();
        chown.insert("x-ms-owner", HeaderValue::from_static("o"));
        assert_eq!(
            dfs_need(
                &Method::PATCH,
                &q("action=setAccessControl"),
                &chown,
                Some("a")
            ),
            Some(Need::Superuser)
        );
        assert_eq!(
            dfs_need(&Method::PATCH, &q("action=append"), &none, Some("a")),
            Some(Need::Write)
        );
        assert_eq!(
            dfs_need(&Method::DELETE, &q(""), &none, Some("a")),
            Some(Need::Delete)
        );
        assert_eq!(
            blob_need(&Method::GET, &q("restype=container&comp=list"), None),
            Some(Need::List)
        );
        assert_eq!(
            blob_need(&Method::PUT, &q(""), Some("a")),
            Some(Need::CreateOrWrite)
        );
    }

    #[test]
    fn a_rename_source_names_its_file_system_and_path() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-ms-rename-source",
            HeaderValue::from_static("/fs/dir%20a/b.csv?sv=x"),
        );
        assert_eq!(
            rename_source(&h),
            Some(("fs".to_string(), "dir a/b.csv".to_string()))
        );
    }
}
