//! Structured-message bodies (`x-ms-structured-body: XSM/1.0; properties=crc64`): appends
//! that send one are checked and decoded; reads that ask for one get their content in one.

use reqwest::{Method, StatusCode};

use crate::blob_containers::blob;
use crate::common::{Env, expect_error};

const FORMAT: &str = "XSM/1.0; properties=crc64";

/// CRC-64/NVME, bit by bit: an independent check of the emulator's.
fn crc64(data: &[u8]) -> u64 {
    let mut crc = u64::MAX;
    for &byte in data {
        crc ^= u64::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x9A6C_9329_AC4B_C9B5
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `content` as a one-segment structured message.
fn message(content: &[u8]) -> Vec<u8> {
    let total = 13 + 10 + content.len() + 8 + 8;
    let mut out = vec![1];
    out.extend_from_slice(&(total as u64).to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&(content.len() as u64).to_le_bytes());
    out.extend_from_slice(content);
    out.extend_from_slice(&crc64(content).to_le_bytes());
    out.extend_from_slice(&crc64(content).to_le_bytes());
    out
}

async fn append_structured(env: &Env, body: Vec<u8>, content_len: usize) -> reqwest::Response {
    env.req(Method::PATCH, "writeback/s.csv?action=append&position=0")
        .header("x-ms-structured-body", FORMAT)
        .header("x-ms-structured-content-length", content_len.to_string())
        .body(body)
        .send()
        .await
        .unwrap()
}

on_both_stores!(structured_appends_and_reads, |env| {
    let content = b"region,total\nnorth,10\nsouth,20\n";
    assert_eq!(env.create_file("s.csv").await.status(), StatusCode::CREATED);
    let mut damaged = message(content);
    damaged[30] ^= 1;
    let refused = append_structured(&env, damaged, content.len()).await;
    expect_error(refused, StatusCode::BAD_REQUEST, "Crc64Mismatch").await;
    let short = append_structured(&env, message(content), content.len() - 1).await;
    expect_error(short, StatusCode::BAD_REQUEST, "InvalidStructuredMessage").await;

    let appended = append_structured(&env, message(content), content.len()).await;
    assert_eq!(appended.status(), StatusCode::ACCEPTED);
    assert_eq!(appended.headers()["x-ms-structured-body"], FORMAT);
    let flushed = env.flush("s.csv", content.len() as u64).await;
    assert_eq!(flushed.status(), StatusCode::OK);
    assert_eq!(env.read("s.csv").await, content);

    for request in [
        env.req(Method::GET, "writeback/s.csv"),
        blob(&env, Method::GET, "writeback/s.csv"),
    ] {
        let read = request
            .header("x-ms-structured-body", FORMAT)
            .header("x-ms-range", "bytes=13-21")
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(read.headers()["x-ms-structured-body"], FORMAT);
        assert_eq!(read.headers()["x-ms-structured-content-length"], "9");
        let body = read.bytes().await.unwrap();
        assert_eq!(body.as_ref(), message(&content[13..22]).as_slice());
    }
    let unknown = env
        .req(Method::GET, "writeback/s.csv")
        .header("x-ms-structured-body", "XSM/2.0")
        .send()
        .await
        .unwrap();
    expect_error(unknown, StatusCode::BAD_REQUEST, "InvalidHeaderValue").await;
});
