//! The Blob endpoint's operations on files and directories, and List Blobs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use reqwest::{Method, StatusCode};

use crate::blob_containers::{blob, expect_xml_error};
use crate::common::etag;

on_both_stores!(head_and_get_show_committed_data_only, |env| {
    let data = b"region,total\nnorth,10\nsouth,20\n";
    let md5 = STANDARD.encode(Md5::digest(data));
    env.put_file("dir/data.csv", data).await;
    let flush = env
        .req(
            Method::PATCH,
            &format!(
                "writeback/dir/data.csv?action=flush&position={}",
                data.len()
            ),
        )
        .header("x-ms-content-md5", &md5)
        .header("x-ms-content-type", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(flush.status(), StatusCode::OK);
    env.append("dir/data.csv", data.len() as u64, b"staged".to_vec())
        .await;

    let head = blob(&env, Method::HEAD, "writeback/dir/data.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let h = head.headers();
    assert_eq!(h["content-length"], data.len().to_string().as_str());
    assert_eq!(h["content-md5"], md5.as_str());
    assert_eq!(h["content-type"], "text/csv");
    assert_eq!(h["etag"], etag(&flush).as_str());
    for (name, value) in [
        ("x-ms-blob-type", "BlockBlob"),
        ("x-ms-resource-type", "file"),
        ("x-ms-lease-state", "available"),
        ("x-ms-lease-status", "unlocked"),
        ("x-ms-server-encrypted", "true"),
        ("accept-ranges", "bytes"),
        ("x-ms-permissions", "rw-r-----"),
        ("x-ms-acl", "user::rw-,group::r--,other::---"),
        ("server", "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0"),
    ] {
        assert_eq!(h[name], value, "{name}");
    }
    assert!(h.contains_key("x-ms-creation-time") && h.contains_key("last-modified"));

    let whole = blob(&env, Method::GET, "writeback/dir/data.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-md5"], md5.as_str());
    assert_eq!(
        whole.bytes().await.unwrap().as_ref(),
        data,
        "no staged bytes"
    );

    let range = blob(&env, Method::GET, "writeback/dir/data.csv")
        .header("x-ms-range", "bytes=13-21")
        .header("x-ms-range-get-content-md5", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), StatusCode::PARTIAL_CONTENT);
    let total = data.len();
    assert_eq!(
        range.headers()["content-range"],
        format!("bytes 13-21/{total}").as_str()
    );
    assert_eq!(range.headers()["x-ms-blob-content-md5"], md5.as_str());
    let part_md5 = STANDARD.encode(Md5::digest(&data[13..22]));
    assert_eq!(range.headers()["content-md5"], part_md5.as_str());
    assert_eq!(range.bytes().await.unwrap().as_ref(), &data[13..22]);

    let beyond = blob(&env, Method::GET, "writeback/dir/data.csv")
        .header("range", format!("bytes={total}-"))
        .send()
        .await
        .unwrap();
    expect_xml_error(beyond, StatusCode::RANGE_NOT_SATISFIABLE, "InvalidRange").await;

    let dir = blob(&env, Method::HEAD, "writeback/dir")
        .send()
        .await
        .unwrap();
    assert_eq!(dir.headers()["x-ms-meta-hdi_isfolder"], "true");
    assert_eq!(dir.headers()["x-ms-resource-type"], "directory");
    assert_eq!(dir.headers()["content-length"], "0");

    let missing = blob(&env, Method::HEAD, "writeback/dir/none.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()["x-ms-error-code"], "BlobNotFound");
    assert!(missing.bytes().await.unwrap().is_empty());
    let missing = blob(&env, Method::GET, "writeback/dir/none.csv")
        .send()
        .await
        .unwrap();
    expect_xml_error(missing, StatusCode::NOT_FOUND, "BlobNotFound").await;
});

on_both_stores!(metadata_is_the_dfs_properties, |env| {
    let created = env
        .req(Method::PUT, "writeback/m.csv?resource=file")
        .header("x-ms-properties", "origin=ZG9tbw==")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let head = blob(&env, Method::HEAD, "writeback/m.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["x-ms-meta-origin"], "domo");

    let set = blob(&env, Method::PUT, "writeback/m.csv?comp=metadata")
        .header("x-ms-meta-owner", "dana")
        .header("if-match", etag(&head))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    assert_ne!(etag(&set), etag(&head));
    let dfs = env.head("m.csv").await;
    assert_eq!(
        dfs.headers()["x-ms-properties"],
        "owner=ZGFuYQ==",
        "replaced, not merged"
    );
    let stale = blob(&env, Method::PUT, "writeback/m.csv?comp=metadata")
        .header("x-ms-meta-owner", "chris")
        .header("if-match", etag(&head))
        .send()
        .await
        .unwrap();
    expect_xml_error(stale, StatusCode::PRECONDITION_FAILED, "ConditionNotMet").await;
    let not_modified = blob(&env, Method::HEAD, "writeback/m.csv")
        .header("if-none-match", etag(&set))
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);

    let headers = blob(&env, Method::PUT, "writeback/m.csv?comp=properties")
        .header("x-ms-blob-content-type", "application/json")
        .header("x-ms-blob-cache-control", "no-cache")
        .send()
        .await
        .unwrap();
    assert_eq!(headers.status(), StatusCode::OK);
    let dfs = env.head("m.csv").await;
    assert_eq!(dfs.headers()["content-type"], "application/json");
    assert_eq!(dfs.headers()["cache-control"], "no-cache");
    let bad_md5 = blob(&env, Method::PUT, "writeback/m.csv?comp=properties")
        .header("x-ms-blob-content-md5", "not-md5")
        .send()
        .await
        .unwrap();
    expect_xml_error(bad_md5, StatusCode::BAD_REQUEST, "InvalidHeaderValue").await;
});

on_both_stores!(delete_refuses_non_empty_directories, |env| {
    env.put_file("d/f.csv", b"x").await;
    let refused = blob(&env, Method::DELETE, "writeback/d")
        .send()
        .await
        .unwrap();
    expect_xml_error(refused, StatusCode::CONFLICT, "DirectoryIsNotEmpty").await;
    let file = blob(&env, Method::DELETE, "writeback/d/f.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::ACCEPTED);
    let dir = blob(&env, Method::DELETE, "writeback/d")
        .send()
        .await
        .unwrap();
    assert_eq!(dir.status(), StatusCode::ACCEPTED);
    let gone = blob(&env, Method::DELETE, "writeback/d")
        .send()
        .await
        .unwrap();
    expect_xml_error(gone, StatusCode::NOT_FOUND, "BlobNotFound").await;
});

async fn list(env: &crate::common::Env, query: &str) -> String {
    let response = blob(
        env,
        Method::GET,
        &format!("writeback?restype=container&comp=list{query}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/xml");
    response.text().await.unwrap()
}

on_both_stores!(list_blobs_with_delimiter_metadata_and_paging, |env| {
    for path in ["a/b/c.csv", "a/d.csv", "a-e.csv"] {
        env.put_file(path, b"1,2\n").await;
    }
    let flat = list(&env, "&include=metadata").await;
    assert!(flat.contains(" ContainerName=\"writeback\">"), "{flat}");
    let names: Vec<&str> = flat
        .split("<Name>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap())
        .collect();
    assert_eq!(names, ["a", "a-e.csv", "a/b", "a/b/c.csv", "a/d.csv"]);
    assert!(flat.contains("<Blob><Name>a-e.csv</Name><Properties><Creation-Time>"));
    assert!(flat.contains("<ResourceType>file</ResourceType><Content-Length>4</Content-Length><Content-Type>application/octet-stream</Content-Type>"));
    assert!(flat.contains("<BlobType>BlockBlob</BlobType>"));
    assert!(flat.contains("<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>"));
    assert!(flat.contains("<ResourceType>directory</ResourceType>"));
    assert!(flat.contains("<Metadata><hdi_isfolder>true</hdi_isfolder></Metadata>"));
    assert!(!flat.contains("<Etag>\""), "unquoted ETags in List Blobs");
    assert!(flat.ends_with("</Blobs><NextMarker /></EnumerationResults>"));

    let top = list(&env, "&delimiter=/").await;
    assert!(top.contains("<Delimiter>/</Delimiter>"));
    assert!(top.contains("<BlobPrefix><Name>a/</Name></BlobPrefix>"));
    assert!(!top.contains("<Name>a/d.csv</Name>") && !top.contains("<Metadata>"));

    let inside = list(&env, "&delimiter=/&prefix=a/&maxresults=2").await;
    assert!(inside.contains("<Prefix>a/</Prefix>"));
    assert!(inside.contains("<Blob><Name>a/b</Name>"));
    assert!(inside.contains("<BlobPrefix><Name>a/b/</Name></BlobPrefix>"));
    assert!(
        inside.contains("<NextMarker>a/d.csv</NextMarker>"),
        "{inside}"
    );
    let rest = list(&env, "&delimiter=/&prefix=a/&maxresults=2&marker=a/d.csv").await;
    assert!(rest.contains("<Marker>a/d.csv</Marker>"));
    assert!(rest.contains("<Blob><Name>a/d.csv</Name>"));
    assert!(rest.ends_with("<NextMarker /></EnumerationResults>"));

    let missing = blob(&env, Method::GET, "nosuchfs?restype=container&comp=list")
        .send()
        .await
        .unwrap();
    expect_xml_error(missing, StatusCode::NOT_FOUND, "ContainerNotFound").await;
});
