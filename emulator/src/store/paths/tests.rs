//! Tests of the namespace operations.

use super::super::StorageAccountConfig;
use super::*;

fn store(dir: &std::path::Path) -> Store {
    let accounts = [StorageAccountConfig {
        name: "acct1".into(),
        file_systems: vec!["fs1".into()],
        hierarchical_namespace: true,
    }];
    Store::open(dir, &accounts).unwrap()
}

fn create(s: &Store, path: &str, kind: Kind) -> Result<PathMeta, ServiceError> {
    let request = CreateRequest {
        kind,
        properties: None,
        content: ContentHeaders::default(),
        conditions: Conditions::default(),
        access: NewAccess::default(),
        encryption_context: None,
        new_lease: None,
        expiry: None,
    };
    s.create_path("acct1", "fs1", path, request)
}

fn names(s: &Store, directory: Option<&str>, recursive: bool) -> Vec<String> {
    let request = ListRequest {
        directory: directory.map(str::to_string),
        recursive,
        max_results: 100,
        continuation: None,
        start_from: None,
    };
    s.list_paths("acct1", "fs1", &request)
        .unwrap()
        .paths
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

#[test]
fn create_makes_parents_and_refuses_file_parents() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    create(&s, "a/b/c.csv", Kind::File).unwrap();
    assert_eq!(names(&s, None, true), ["a", "a/b", "a/b/c.csv"]);
    assert_eq!(
        create(&s, "a/b/c.csv/d", Kind::File).unwrap_err().code,
        "PathConflict"
    );
    assert_eq!(
        create(&s, "a/b", Kind::File).unwrap_err().code,
        "PathConflict"
    );
    assert_eq!(names(&s, Some("a"), false), ["a/b"]);
}

#[test]
fn rename_moves_subtree() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    create(&s, "src/x/1.csv", Kind::File).unwrap();
    create(&s, "dst", Kind::Directory).unwrap();
    let request = |source: &str| RenameRequest {
        source_fs: "fs1".into(),
        source: source.into(),
        conditions: Conditions::default(),
        source_conditions: Conditions::default(),
        properties: None,
    };
    s.rename_path("acct1", "fs1", "dst/moved", request("src"))
        .unwrap();
    assert_eq!(
        names(&s, None, true),
        ["dst", "dst/moved", "dst/moved/x", "dst/moved/x/1.csv"]
    );
    let code = |r: Result<PathMeta, ServiceError>| r.unwrap_err().code;
    assert_eq!(
        code(s.rename_path("acct1", "fs1", "z", request("src"))),
        "SourcePathNotFound"
    );
    assert_eq!(
        code(s.rename_path("acct1", "fs1", "dst/moved/x/y", request("dst/moved"))),
        "InvalidRenameSourcePath"
    );
    assert_eq!(
        code(s.rename_path("acct1", "fs1", "nope/y", request("dst/moved"))),
        "RenameDestinationParentPathNotFound"
    );
}

#[test]
fn list_pages_in_depth_first_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    for p in ["a/b", "a-c", "a/a"] {
        create(&s, p, Kind::File).unwrap();
    }
    let mut request = ListRequest {
        recursive: true,
        max_results: 2,
        ..ListRequest::default()
    };
    let names = |p: &Page| p.paths.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let page = s.list_paths("acct1", "fs1", &request).unwrap();
    assert_eq!(names(&page), ["a", "a/a"]);
    request.continuation = page.continuation;
    let page = s.list_paths("acct1", "fs1", &request).unwrap();
    assert_eq!(names(&page), ["a/b", "a-c"]);
    assert!(page.continuation.is_none());

    // beginFrom is inclusive, relative to the listed directory, and kept across pages.
    let mut request = ListRequest {
        recursive: true,
        max_results: 1,
        start_from: Some("a/b".into()),
        ..ListRequest::default()
    };
    let page = s.list_paths("acct1", "fs1", &request).unwrap();
    assert_eq!(names(&page), ["a/b"]);
    request.continuation = page.continuation;
    let page = s.list_paths("acct1", "fs1", &request).unwrap();
    assert_eq!(names(&page), ["a-c"]);
    let request = ListRequest {
        directory: Some("a".into()),
        recursive: true,
        max_results: 10,
        start_from: Some("b".into()),
        ..ListRequest::default()
    };
    let page = s.list_paths("acct1", "fs1", &request).unwrap();
    assert_eq!(names(&page), ["a/b"]);
}
