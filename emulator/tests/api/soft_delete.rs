//! Soft delete: with the delete retention policy on, deleted paths are listed
//! (`showonly=deleted`) and restored (`comp=undelete`); with it off, deletes are permanent.

use reqwest::{Method, StatusCode};

use crate::blob_containers::blob;
use crate::common::Env;

async fn set_retention(env: &Env, enabled: bool) {
    let policy = if enabled {
        "<Enabled>true</Enabled><Days>7</Days>"
    } else {
        "<Enabled>false</Enabled>"
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><StorageServiceProperties>\
         <DeleteRetentionPolicy>{policy}</DeleteRetentionPolicy></StorageServiceProperties>"
    );
    let response = blob(env, Method::PUT, "?restype=service&comp=properties")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

async fn delete(env: &Env, path: &str) -> Option<String> {
    let response = env
        .req(Method::DELETE, &format!("writeback/{path}?recursive=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response
        .headers()
        .get("x-ms-deletion-id")
        .map(|v| v.to_str().unwrap().to_string())
}

/// `(name, deletion id)` of each `<Blob>` of a `showonly=deleted` listing, and `NextMarker`.
async fn deleted(env: &Env, query: &str) -> (Vec<(String, String)>, String) {
    let response = blob(
        env,
        Method::GET,
        &format!("writeback?restype=container&comp=list&showonly=deleted{query}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let field = |blob: &str, tag: &str| {
        // An empty element is written `<Tag />`.
        let Some(start) = blob.find(&format!("<{tag}>")) else {
            assert!(blob.contains(&format!("<{tag} />")), "{tag} in {blob}");
            return String::new();
        };
        let start = start + tag.len() + 2;
        let end = blob.find(&format!("</{tag}>")).unwrap();
        blob[start..end].to_string()
    };
    let entries = text
        .split("<Blob>")
        .skip(1)
        .map(|blob| {
            assert!(blob.contains("<Deleted>true</Deleted>"), "{blob}");
            assert_eq!(field(blob, "RemainingRetentionDays"), "7");
            (field(blob, "Name"), field(blob, "DeletionId"))
        })
        .collect();
    (entries, field(&text, "NextMarker"))
}

on_both_stores!(deleted_paths_are_listed_and_restored, |env| {
    env.put_file("gone.csv", b"first").await;
    assert_eq!(delete(&env, "gone.csv").await, None, "permanent by default");
    assert!(deleted(&env, "").await.0.is_empty());

    set_retention(&env, true).await;
    env.put_file("a.csv", b"one").await;
    let first = delete(&env, "a.csv").await.unwrap();
    env.put_file("a.csv", b"two").await;
    let second = delete(&env, "a.csv").await.unwrap();
    assert_ne!(first, second);
    env.put_file("dir/sub/b.csv", b"b").await;
    let dir = delete(&env, "dir").await.unwrap();
    assert_eq!(
        env.head("dir/sub/b.csv").await.status(),
        StatusCode::NOT_FOUND
    );

    let (all, _) = deleted(&env, "").await;
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a.csv", "a.csv", "dir"]);
    let (page, marker) = deleted(&env, "&maxresults=2").await;
    assert_eq!(page.len(), 2);
    let (rest, end) = deleted(&env, &format!("&maxresults=2&marker={marker}")).await;
    assert_eq!(rest, [("dir".to_string(), dir.clone())]);
    assert!(end.is_empty());
    assert_eq!(deleted(&env, "&prefix=di").await.0.len(), 1);

    // The first deletion of a.csv comes back with its own content.
    let restored = blob(&env, Method::PUT, "writeback/a.csv?comp=undelete")
        .header("x-ms-undelete-source", format!("a.csv?deletionid={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(restored.status(), StatusCode::OK);
    assert_eq!(restored.headers()["x-ms-resource-type"], "file");
    assert_eq!(env.read("a.csv").await, b"one");
    let taken = blob(&env, Method::PUT, "writeback/a.csv?comp=undelete")
        .header("x-ms-undelete-source", format!("a.csv?deletionid={second}"))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), StatusCode::CONFLICT);

    let restored = blob(&env, Method::PUT, "writeback/dir?comp=undelete")
        .header("x-ms-undelete-source", format!("dir?deletionid={dir}"))
        .send()
        .await
        .unwrap();
    assert_eq!(restored.headers()["x-ms-resource-type"], "directory");
    assert_eq!(env.read("dir/sub/b.csv").await, b"b");
    let names: Vec<String> = deleted(&env, "")
        .await
        .0
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["a.csv"]);
    let unknown = blob(&env, Method::PUT, "writeback/nope?comp=undelete")
        .header("x-ms-undelete-source", "nope?deletionid=1")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    set_retention(&env, false).await;
    assert_eq!(delete(&env, "a.csv").await, None);
});
