//! Blob index tags (`comp=tags`), a container's public access level and its stored access
//! policies (`restype=container&comp=acl`).

use reqwest::{Method, StatusCode};

use crate::blob_containers::{blob, expect_xml_error};
use crate::common::etag;

const TAGS: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Tags><TagSet>\
    <Tag><Key>tag1</Key><Value>first tag</Value></Tag>\
    <Tag><Key>team</Key><Value>sales/north</Value></Tag></TagSet></Tags>";

on_both_stores!(tags_are_stored_without_changing_the_etag, |env| {
    env.put_file("t.csv", b"t").await;
    let before = env.head("t.csv").await;
    let since = before.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_string();
    let set = blob(&env, Method::PUT, "writeback/t.csv?comp=tags")
        .body(TAGS)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::NO_CONTENT);
    let props = blob(&env, Method::HEAD, "writeback/t.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(etag(&props), etag(&before), "tags leave the ETag");
    assert_eq!(props.headers()["x-ms-tag-count"], "2");
    let got = blob(&env, Method::GET, "writeback/t.csv?comp=tags")
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    let text = got.text().await.unwrap();
    assert!(
        text.contains("<Tag><Key>tag1</Key><Value>first tag</Value></Tag><Tag><Key>team</Key>"),
        "{text}"
    );

    // Tags take the x-ms-blob-if-* conditions; unmet, reads answer 412 too.
    let unmodified = blob(&env, Method::GET, "writeback/t.csv?comp=tags")
        .header("x-ms-blob-if-modified-since", &since)
        .send()
        .await
        .unwrap();
    expect_xml_error(
        unmodified,
        StatusCode::PRECONDITION_FAILED,
        "ConditionNotMet",
    )
    .await;
    let stale = blob(&env, Method::PUT, "writeback/t.csv?comp=tags")
        .header("x-ms-blob-if-match", "\"0x8D0000000000000\"")
        .body(TAGS)
        .send()
        .await
        .unwrap();
    expect_xml_error(stale, StatusCode::PRECONDITION_FAILED, "ConditionNotMet").await;
    let bad = blob(&env, Method::PUT, "writeback/t.csv?comp=tags")
        .body("<Tags><TagSet><Tag><Key>no!</Key><Value>v</Value></Tag></TagSet></Tags>")
        .send()
        .await
        .unwrap();
    expect_xml_error(bad, StatusCode::BAD_REQUEST, "InvalidTag").await;
    let missing = blob(&env, Method::GET, "writeback/none.csv?comp=tags")
        .send()
        .await
        .unwrap();
    expect_xml_error(missing, StatusCode::NOT_FOUND, "BlobNotFound").await;
});

on_both_stores!(container_acl_and_public_access, |env| {
    let created = blob(&env, Method::PUT, "public?restype=container")
        .header("x-ms-blob-public-access", "blob")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let props = blob(&env, Method::HEAD, "public?restype=container")
        .send()
        .await
        .unwrap();
    assert_eq!(props.headers()["x-ms-blob-public-access"], "blob");
    assert_eq!(etag(&props), etag(&created));
    let listed = blob(&env, Method::GET, "?comp=list&prefix=pub")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listed.contains("<PublicAccess>blob</PublicAccess>"),
        "{listed}"
    );

    let policies = "<?xml version=\"1.0\" encoding=\"utf-8\"?><SignedIdentifiers>\
        <SignedIdentifier><Id>readers</Id><AccessPolicy><Start>2026-01-01T00:00:00Z</Start>\
        <Expiry>2026-01-02T00:00:00Z</Expiry><Permission>r</Permission></AccessPolicy>\
        </SignedIdentifier></SignedIdentifiers>";
    let set = blob(&env, Method::PUT, "public?restype=container&comp=acl")
        .header("x-ms-blob-public-access", "container")
        .body(policies)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    assert_ne!(etag(&set), etag(&created));
    let got = blob(&env, Method::GET, "public?restype=container&comp=acl")
        .send()
        .await
        .unwrap();
    assert_eq!(got.headers()["x-ms-blob-public-access"], "container");
    let text = got.text().await.unwrap();
    assert!(
        text.contains(
            "<SignedIdentifier><Id>readers</Id><AccessPolicy><Start>2026-01-01T00:00:00Z</Start>"
        ),
        "{text}"
    );

    // A set without the header makes the container private again.
    let private = blob(&env, Method::PUT, "public?restype=container&comp=acl")
        .send()
        .await
        .unwrap();
    assert_eq!(private.status(), StatusCode::OK);
    let got = blob(&env, Method::GET, "public?restype=container&comp=acl")
        .send()
        .await
        .unwrap();
    assert!(!got.headers().contains_key("x-ms-blob-public-access"));
    assert!(!got.text().await.unwrap().contains("<SignedIdentifier>"));
    let bad = blob(&env, Method::PUT, "public?restype=container&comp=acl")
        .header("x-ms-blob-public-access", "everyone")
        .send()
        .await
        .unwrap();
    expect_xml_error(bad, StatusCode::BAD_REQUEST, "InvalidHeaderValue").await;
});
