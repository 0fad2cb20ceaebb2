//! Append, flush and read.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use reqwest::{Method, StatusCode};

use crate::common::{etag, expect_error};

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

on_both_stores!(out_of_order_concurrent_appends_round_trip, |env| {
    env.create_file("dir/data.csv").await;
    let data = pattern(40_000, 7);
    let chunks: Vec<(u64, Vec<u8>)> = data
        .chunks(10_000)
        .enumerate()
        .map(|(i, c)| ((i * 10_000) as u64, c.to_vec()))
        .rev()
        .collect();
    let appends = chunks
        .into_iter()
        .map(|(pos, chunk)| env.append("dir/data.csv", pos, chunk));
    for response in futures::future::join_all(appends).await {
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let flushed = env.flush("dir/data.csv", data.len() as u64).await;
    assert_eq!(flushed.status(), StatusCode::OK);
    assert_eq!(flushed.headers()["content-length"], "0");
    assert!(flushed.headers().contains_key("last-modified"));
    assert_eq!(env.read("dir/data.csv").await, data);

    let head = env.head("dir/data.csv").await;
    assert_eq!(head.headers()["content-length"], "40000");
    assert_eq!(head.headers()["x-ms-resource-type"], "file");
    assert_eq!(etag(&head), etag(&flushed));

    let ranged = env
        .req(Method::GET, "writeback/dir/data.csv")
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.headers()["content-range"], "bytes 100-199/40000");
    assert_eq!(
        ranged.bytes().await.unwrap().to_vec(),
        data[100..200].to_vec()
    );
    let beyond = env
        .req(Method::GET, "writeback/dir/data.csv")
        .header("x-ms-range", "bytes=40000-")
        .send()
        .await
        .unwrap();
    expect_error(beyond, StatusCode::RANGE_NOT_SATISFIABLE, "InvalidRange").await;
});

on_both_stores!(appended_data_is_invisible_until_flushed, |env| {
    env.put_file("f.csv", b"committed,").await;
    assert_eq!(
        env.append("f.csv", 10, b"staged".to_vec()).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(env.head("f.csv").await.headers()["content-length"], "10");
    assert_eq!(env.read("f.csv").await, b"committed,");
    assert_eq!(env.flush("f.csv", 16).await.status(), StatusCode::OK);
    assert_eq!(env.read("f.csv").await, b"committed,staged");
});

on_both_stores!(flush_positions_must_tile_the_staged_data, |env| {
    env.create_file("gap.csv").await;
    env.append("gap.csv", 0, b"abcd".to_vec()).await;
    env.append("gap.csv", 8, b"ijkl".to_vec()).await;
    expect_error(
        env.flush("gap.csv", 12).await,
        StatusCode::BAD_REQUEST,
        "InvalidFlushPosition",
    )
    .await;
    expect_error(
        env.flush("gap.csv", 5).await,
        StatusCode::BAD_REQUEST,
        "InvalidFlushPosition",
    )
    .await;
    assert_eq!(env.flush("gap.csv", 4).await.status(), StatusCode::OK);
    // The data past the flush position was discarded (no retainUncommittedData).
    env.append("gap.csv", 4, b"efgh".to_vec()).await;
    expect_error(
        env.flush("gap.csv", 12).await,
        StatusCode::BAD_REQUEST,
        "InvalidFlushPosition",
    )
    .await;
    expect_error(
        env.flush("gap.csv", 2).await,
        StatusCode::BAD_REQUEST,
        "InvalidFlushPosition",
    )
    .await;
    assert_eq!(env.read("gap.csv").await, b"abcd");
});

on_both_stores!(retain_uncommitted_data_keeps_later_ranges, |env| {
    env.create_file("r.csv").await;
    env.append("r.csv", 0, b"ab".to_vec()).await;
    env.append("r.csv", 2, b"cd".to_vec()).await;
    let retained = env
        .req(
            Method::PATCH,
            "writeback/r.csv?action=flush&position=2&retainUncommittedData=true",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(retained.status(), StatusCode::OK);
    assert_eq!(env.flush("r.csv", 4).await.status(), StatusCode::OK);
    assert_eq!(env.read("r.csv").await, b"abcd");
});

on_both_stores!(md5_of_an_append_is_checked, |env| {
    env.create_file("m.csv").await;
    let wrong = STANDARD.encode(Md5::digest(b"other"));
    let response = env
        .req(Method::PATCH, "writeback/m.csv?action=append&position=0")
        .header("content-md5", wrong)
        .body(b"data".to_vec())
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "Md5Mismatch").await;
    let right = STANDARD.encode(Md5::digest(b"data"));
    let response = env
        .req(Method::PATCH, "writeback/m.csv?action=append&position=0")
        .header("content-md5", right.clone())
        .body(b"data".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.headers()["content-md5"], right.as_str());
    // The rejected append left nothing behind: exactly one range covers [0, 4).
    assert_eq!(env.flush("m.csv", 4).await.status(), StatusCode::OK);
});

on_both_stores!(crc64_of_an_append_is_checked_and_echoed, |env| {
    env.create_file("k.csv").await;
    // CRC-64/NVME of "123456789" as Microsoft's azure-storage-extensions computes it.
    let right = "iJh5CoYUi64=";
    let append = |crc: Option<&'static str>, position: u64| {
        let mut request = env
            .req(
                Method::PATCH,
                &format!("writeback/k.csv?action=append&position={position}"),
            )
            .body(b"123456789".to_vec());
        if let Some(crc) = crc {
            request = request.header("x-ms-content-crc64", crc);
        }
        request.send()
    };
    let wrong = append(Some("AAAAAAAAAAA="), 0).await.unwrap();
    let body = expect_error(wrong, StatusCode::BAD_REQUEST, "Crc64Mismatch").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("The CRC64 value specified in the request did not match"),
        "{body}"
    );
    let malformed = append(Some("AAAA"), 0).await.unwrap();
    expect_error(malformed, StatusCode::BAD_REQUEST, "InvalidHeaderValue").await;
    let ok = append(Some(right), 0).await.unwrap();
    assert_eq!(ok.status(), StatusCode::ACCEPTED);
    assert_eq!(ok.headers()["x-ms-content-crc64"], right);
    assert!(
        !ok.headers().contains_key("content-md5"),
        "no MD5 asked for"
    );
    // Without a hash header the service still answers the CRC64 it computed.
    let unsent = append(None, 9).await.unwrap();
    assert_eq!(unsent.status(), StatusCode::ACCEPTED);
    assert_eq!(unsent.headers()["x-ms-content-crc64"], right);
    // The rejected appends left nothing behind: two ranges tile [0, 18).
    assert_eq!(env.flush("k.csv", 18).await.status(), StatusCode::OK);
    assert_eq!(env.read("k.csv").await, b"123456789123456789");
});

on_both_stores!(flush_conditions_headers_and_content_md5, |env| {
    let created = env.create_file("c.csv").await;
    let stale = etag(&created);
    env.append("c.csv", 0, b"x,y\n".to_vec()).await;
    let md5 = STANDARD.encode(Md5::digest(b"x,y\n"));
    let flush = |tag: String| {
        env.req(
            Method::PATCH,
            "writeback/c.csv?action=flush&position=4&close=true",
        )
        .header("if-match", tag)
        .header("x-ms-content-md5", md5.clone())
        .header("x-ms-content-type", "text/csv")
    };
    let first = flush(stale.clone()).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_ne!(etag(&first), stale);
    let again = flush(stale).send().await.unwrap();
    expect_error(again, StatusCode::PRECONDITION_FAILED, "ConditionNotMet").await;

    let read = env
        .req(Method::GET, "writeback/c.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(read.headers()["content-md5"], md5.as_str());
    assert_eq!(read.headers()["content-type"], "text/csv");
    assert_eq!(read.headers()["accept-ranges"], "bytes");

    let not_modified = env
        .req(Method::GET, "writeback/c.csv")
        .header("if-none-match", etag(&first))
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);

    let with_body = env
        .req(Method::PATCH, "writeback/c.csv?action=flush&position=4")
        .body("x")
        .send()
        .await
        .unwrap();
    expect_error(
        with_body,
        StatusCode::BAD_REQUEST,
        "ContentLengthMustBeZero",
    )
    .await;
});

on_both_stores!(append_with_flush_and_to_missing_paths, |env| {
    env.create_file("af.csv").await;
    let response = env
        .req(
            Method::PATCH,
            "writeback/af.csv?action=append&position=0&flush=true",
        )
        .body(b"one".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(response.headers().contains_key("etag"));
    assert_eq!(env.read("af.csv").await, b"one");
    let missing = env.append("nope.csv", 0, b"x".to_vec()).await;
    expect_error(missing, StatusCode::NOT_FOUND, "PathNotFound").await;
    env.req(Method::PUT, "writeback/adir?resource=directory")
        .send()
        .await
        .unwrap();
    let on_dir = env.append("adir", 0, b"x".to_vec()).await;
    expect_error(on_dir, StatusCode::NOT_FOUND, "PathNotFound").await;
    let no_position = env
        .req(Method::PATCH, "writeback/af.csv?action=flush")
        .send()
        .await
        .unwrap();
    expect_error(
        no_position,
        StatusCode::BAD_REQUEST,
        "MissingRequiredQueryParameter",
    )
    .await;
});

on_both_stores!(fifty_megabytes_in_four_mebibyte_appends, |env| {
    env.create_file("big.csv").await;
    let block = 4 * 1024 * 1024;
    let total = 50 * 1000 * 1000;
    let data = pattern(total, 3);
    let mut position = 0;
    for (i, chunk) in data.chunks(block).enumerate() {
        let response = env.append("big.csv", position as u64, chunk.to_vec()).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        position += chunk.len();
        if i % 4 == 3 {
            assert_eq!(
                env.flush("big.csv", position as u64).await.status(),
                StatusCode::OK
            );
        }
    }
    assert_eq!(
        env.flush("big.csv", total as u64).await.status(),
        StatusCode::OK
    );
    let read = env.read("big.csv").await;
    assert_eq!(read.len(), total);
    assert!(read == data, "content differs");
});
