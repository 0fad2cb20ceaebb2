//! The block blob write path (Put Blob, Put Block, Put Block List, Get Block List) on both
//! kinds of account, and what an account without a hierarchical namespace refuses.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use reqwest::{Method, StatusCode};

use crate::blob_containers::{blob, expect_xml_error};
use crate::common::{Env, etag, start_with};

fn id(n: u32) -> String {
    STANDARD.encode(format!("blk-{n:04}"))
}

async fn put_block(env: &Env, path: &str, n: u32, data: &[u8]) -> reqwest::Response {
    blob(
        env,
        Method::PUT,
        &format!("writeback/{path}?comp=block&blockid={}", id(n)),
    )
    .header("content-md5", STANDARD.encode(Md5::digest(data)))
    .body(data.to_vec())
    .send()
    .await
    .unwrap()
}

fn block_list(entries: &[(&str, u32)]) -> String {
    let mut xml = String::from("<BlockList>");
    for (kind, n) in entries {
        xml.push_str(&format!("<{kind}>{}</{kind}>", id(*n)));
    }
    xml + "</BlockList>"
}

async fn commit(
    env: &Env,
    path: &str,
    entries: &[(&str, u32)],
    if_match: Option<&str>,
) -> reqwest::Response {
    let mut request = blob(
        env,
        Method::PUT,
        &format!("writeback/{path}?comp=blocklist"),
    )
    .header("x-ms-blob-content-type", "text/csv")
    .header("x-ms-meta-origin", "blocks")
    .body(block_list(entries));
    if let Some(etag) = if_match {
        request = request.header("if-match", etag);
    }
    request.send().await.unwrap()
}

async fn get(env: &Env, path: &str) -> (StatusCode, Vec<u8>) {
    let response = blob(env, Method::GET, &format!("writeback/{path}"))
        .send()
        .await
        .unwrap();
    (response.status(), response.bytes().await.unwrap().to_vec())
}

on_both_stores!(blocks_commit_at_once_and_append_under_if_match, |env| {
    assert_eq!(
        put_block(&env, "out/a.csv", 1, b"h1,h2\n").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        put_block(&env, "out/a.csv", 2, b"1,2\n").await.status(),
        StatusCode::CREATED
    );
    // Uncommitted blocks are invisible, to the Blob and the DFS endpoint alike.
    assert_eq!(get(&env, "out/a.csv").await.0, StatusCode::NOT_FOUND);
    assert_eq!(env.head("out/a.csv").await.status(), StatusCode::NOT_FOUND);
    let listed = blob(
        &env,
        Method::GET,
        "writeback/out/a.csv?comp=blocklist&blocklisttype=all",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let text = listed.text().await.unwrap();
    assert!(
        text.contains(&format!(
            "<UncommittedBlocks><Block><Name>{}</Name><Size>6</Size></Block>",
            id(1)
        )),
        "{text}"
    );

    let first = commit(&env, "out/a.csv", &[("Latest", 1), ("Latest", 2)], None).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let v1 = etag(&first);
    assert_eq!(env.read("out/a.csv").await, b"h1,h2\n1,2\n");
    // The hierarchical namespace made the parent a directory.
    assert_eq!(
        env.head("out").await.headers()["x-ms-resource-type"],
        "directory"
    );

    // Append: the committed blocks plus a new one, conditioned on the ETag.
    assert_eq!(
        put_block(&env, "out/a.csv", 3, b"3,4\n").await.status(),
        StatusCode::CREATED
    );
    let stale = commit(
        &env,
        "out/a.csv",
        &[("Committed", 1), ("Committed", 2), ("Uncommitted", 3)],
        Some("\"0x8D0\""),
    )
    .await;
    expect_xml_error(stale, StatusCode::PRECONDITION_FAILED, "ConditionNotMet").await;
    assert_eq!(get(&env, "out/a.csv").await.1, b"h1,h2\n1,2\n");
    let appended = commit(
        &env,
        "out/a.csv",
        &[("Committed", 1), ("Committed", 2), ("Uncommitted", 3)],
        Some(&v1),
    )
    .await;
    assert_eq!(appended.status(), StatusCode::CREATED);
    let (status, bytes) = get(&env, "out/a.csv").await;
    assert_eq!(
        (status, bytes.as_slice()),
        (StatusCode::OK, b"h1,h2\n1,2\n3,4\n".as_slice())
    );
    let committed = blob(&env, Method::GET, "writeback/out/a.csv?comp=blocklist")
        .send()
        .await
        .unwrap();
    assert_eq!(committed.headers()["x-ms-blob-content-length"], "14");
    let text = committed.text().await.unwrap();
    assert_eq!(text.matches("<Block>").count(), 3, "{text}");
    assert!(!text.contains("UncommittedBlocks"), "{text}");
    // The commit discarded the blob's other uncommitted blocks.
    assert_eq!(
        put_block(&env, "out/a.csv", 4, b"x").await.status(),
        StatusCode::CREATED
    );
    let replaced = commit(&env, "out/a.csv", &[("Latest", 3)], None).await;
    assert_eq!(replaced.status(), StatusCode::CREATED);
    let gone = commit(&env, "out/a.csv", &[("Uncommitted", 4)], None).await;
    expect_xml_error(gone, StatusCode::BAD_REQUEST, "InvalidBlockList").await;
    assert_eq!(get(&env, "out/a.csv").await.1, b"3,4\n");
});

on_both_stores!(block_rules_are_enforced, |env| {
    let wrong = blob(
        &env,
        Method::PUT,
        &format!("writeback/b.csv?comp=block&blockid={}", id(1)),
    )
    .header("content-md5", STANDARD.encode(Md5::digest(b"other")))
    .body("data")
    .send()
    .await
    .unwrap();
    expect_xml_error(wrong, StatusCode::BAD_REQUEST, "Md5Mismatch").await;
    assert_eq!(
        put_block(&env, "b.csv", 1, b"data").await.status(),
        StatusCode::CREATED
    );
    // Every block ID of one blob has the same length.
    let longer = STANDARD.encode("a-longer-id");
    let mixed = blob(
        &env,
        Method::PUT,
        &format!("writeback/b.csv?comp=block&blockid={longer}"),
    )
    .body("x")
    .send()
    .await
    .unwrap();
    expect_xml_error(mixed, StatusCode::BAD_REQUEST, "InvalidBlobOrBlock").await;
    let too_long = STANDARD.encode([1u8; 65]);
    let refused = blob(
        &env,
        Method::PUT,
        &format!("writeback/b.csv?comp=block&blockid={too_long}"),
    )
    .body("x")
    .send()
    .await
    .unwrap();
    expect_xml_error(
        refused,
        StatusCode::BAD_REQUEST,
        "InvalidQueryParameterValue",
    )
    .await;
    let mut long_list = String::from("<BlockList>");
    for _ in 0..50_001 {
        long_list.push_str(&format!("<Latest>{}</Latest>", id(1)));
    }
    long_list.push_str("</BlockList>");
    let too_many = blob(&env, Method::PUT, "writeback/b.csv?comp=blocklist")
        .body(long_list)
        .send()
        .await
        .unwrap();
    expect_xml_error(too_many, StatusCode::BAD_REQUEST, "BlockListTooLong").await;
    // Put Blob keeps the body's MD5 and refuses to replace under `If-None-Match: *`.
    let put = blob(&env, Method::PUT, "writeback/b.csv")
        .header("x-ms-blob-type", "BlockBlob")
        .body("whole")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    let md5 = STANDARD.encode(Md5::digest(b"whole"));
    assert_eq!(put.headers()["content-md5"], md5.as_str());
    let head = blob(&env, Method::HEAD, "writeback/b.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["content-md5"], md5.as_str());
    assert_eq!(head.headers()["content-type"], "application/octet-stream");
    let again = blob(&env, Method::PUT, "writeback/b.csv")
        .header("x-ms-blob-type", "BlockBlob")
        .header("if-none-match", "*")
        .body("new")
        .send()
        .await
        .unwrap();
    expect_xml_error(again, StatusCode::CONFLICT, "BlobAlreadyExists").await;
    // Put Blob discarded the uncommitted block.
    let listed = blob(
        &env,
        Method::GET,
        "writeback/b.csv?comp=blocklist&blocklisttype=uncommitted",
    )
    .send()
    .await
    .unwrap();
    assert!(!listed.text().await.unwrap().contains("<Block>"));
});

async fn flat(in_memory: bool) -> Env {
    start_with(|config| {
        config.in_memory = in_memory;
        for account in &mut config.accounts {
            account.hierarchical_namespace = false;
        }
    })
    .await
}

async fn flat_account_is_a_plain_blob_account(env: Env) {
    let info = env
        .req(Method::GET, "?restype=account&comp=properties")
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), StatusCode::OK);
    assert_eq!(info.headers()["x-ms-is-hns-enabled"], "false");
    // Get Account Information answers on a blob URL too.
    let on_blob = env
        .req(Method::GET, "writeback/x?restype=account&comp=properties")
        .send()
        .await
        .unwrap();
    assert_eq!(on_blob.headers()["x-ms-is-hns-enabled"], "false");

    for name in ["dir/a.csv", "dir/sub/b.csv", "dir", "top.csv"] {
        let put = env
            .req(Method::PUT, &format!("writeback/{name}"))
            .header("x-ms-blob-type", "BlockBlob")
            .body(name.to_string())
            .send()
            .await
            .unwrap();
        // A blob named like a "directory" of others is just another blob.
        assert_eq!(put.status(), StatusCode::CREATED, "{name}");
    }
    // A bare GET is a Blob request on a flat account.
    let read = env
        .req(Method::GET, "writeback/dir/a.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    // No owner, permissions or resource type without a hierarchical namespace.
    for name in [
        "x-ms-resource-type",
        "x-ms-owner",
        "x-ms-permissions",
        "x-ms-acl",
    ] {
        assert!(!read.headers().contains_key(name), "{name}");
    }
    assert_eq!(read.text().await.unwrap(), "dir/a.csv");
    let list = blob(
        &env,
        Method::GET,
        "writeback?restype=container&comp=list&delimiter=/",
    )
    .send()
    .await
    .unwrap();
    let text = list.text().await.unwrap();
    let names: Vec<&str> = text
        .split("<Name>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap())
        .collect();
    assert_eq!(names, ["dir", "dir/", "top.csv"], "{text}");
    assert!(
        text.contains("<BlobPrefix><Name>dir/</Name></BlobPrefix>"),
        "{text}"
    );

    // The DFS endpoint refuses paths, access control and renames; file systems it serves.
    let dfs = env.create_file("new.csv").await;
    assert_eq!(dfs.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        dfs.headers()["x-ms-error-code"],
        "HierarchicalNamespaceNotEnabled"
    );
    let rename = env
        .req(Method::PUT, "writeback/moved.csv?mode=legacy")
        .header("x-ms-rename-source", "/writeback/top.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(
        rename.headers()["x-ms-error-code"],
        "HierarchicalNamespaceNotEnabled"
    );
    let acl = env
        .req(Method::HEAD, "writeback?action=getAccessControl")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.status(), StatusCode::BAD_REQUEST);
    let filesystems = env
        .req(Method::GET, "?resource=account")
        .send()
        .await
        .unwrap();
    assert_eq!(filesystems.status(), StatusCode::OK);
}

#[tokio::test]
async fn flat_account_is_a_plain_blob_account_on_disk() {
    flat_account_is_a_plain_blob_account(flat(false).await).await
}

#[tokio::test]
async fn flat_account_is_a_plain_blob_account_in_memory() {
    flat_account_is_a_plain_blob_account(flat(true).await).await
}

#[tokio::test]
async fn committed_block_lists_survive_a_restart_and_uncommitted_blocks_do_not() {
    let env = crate::common::start().await;
    assert_eq!(
        put_block(&env, "kept.csv", 1, b"a").await.status(),
        StatusCode::CREATED
    );
    let first = commit(&env, "kept.csv", &[("Latest", 1)], None).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(
        put_block(&env, "kept.csv", 2, b"b").await.status(),
        StatusCode::CREATED
    );
    let env = env.restart().await;
    let listed = blob(
        &env,
        Method::GET,
        "writeback/kept.csv?comp=blocklist&blocklisttype=all",
    )
    .send()
    .await
    .unwrap();
    let text = listed.text().await.unwrap();
    assert!(
        text.contains(&format!(
            "<CommittedBlocks><Block><Name>{}</Name><Size>1</Size></Block></CommittedBlocks>\
             <UncommittedBlocks></UncommittedBlocks>",
            id(1)
        )),
        "{text}"
    );
    // The kept block can still be committed again after the restart.
    let again = commit(
        &env,
        "kept.csv",
        &[("Committed", 1), ("Committed", 1)],
        None,
    )
    .await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(get(&env, "kept.csv").await.1, b"aa");
}
