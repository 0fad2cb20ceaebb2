//! Durability: concurrent appends, restarts, and what a crash mid-flush leaves behind.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::PathBuf;

use adls_writeback_emulator::{Fault, FaultPlan, FaultRule, Operation, well_known};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{Env, etag, expect_error, start};

#[tokio::test]
async fn thirty_two_concurrent_appends_at_distinct_positions() {
    let env = start().await;
    env.create_file("many.csv").await;
    // Chunks of different sizes, so that a misplaced one cannot go unnoticed.
    let chunks: Vec<Vec<u8>> = (0..32u8)
        .map(|i| vec![b'A' + (i % 26); 1000 + 37 * i as usize])
        .collect();
    let mut positions = Vec::new();
    let mut end = 0u64;
    for chunk in &chunks {
        positions.push(end);
        end += chunk.len() as u64;
    }
    // Sent all at once, in a scrambled order.
    let appends = (0..32usize).map(|k| {
        let i = (k * 13) % 32;
        env.append("many.csv", positions[i], chunks[i].clone())
    });
    for response in futures::future::join_all(appends).await {
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    assert_eq!(env.flush("many.csv", end).await.status(), StatusCode::OK);
    assert_eq!(env.read("many.csv").await, chunks.concat());
}

#[tokio::test]
async fn restart_keeps_what_a_dropped_response_committed() {
    let env = start().await;
    env.create_file("d.csv").await;
    env.append("d.csv", 0, b"flushed".to_vec()).await;
    let rule = FaultRule::new(Fault::DropResponse { body_bytes: None })
        .operation(Operation::Flush)
        .first(1);
    env.emulator.set_faults(FaultPlan::new(vec![rule])).unwrap();
    let flush = env
        .req(Method::PATCH, "writeback/d.csv?action=flush&position=7")
        .send()
        .await;
    assert!(flush.is_err(), "the client never saw the answer");

    let env = env.restart().await;
    assert_eq!(env.read("d.csv").await, b"flushed");
    assert_eq!(
        env.emulator.fault_counts().total(),
        0,
        "faults are not kept"
    );
}

/// The on-disk content file of `path` in the well-known container, from the index.
fn content_file(env: &Env, path: &str) -> PathBuf {
    let fs_dir = env
        .data
        .path()
        .join(well_known::ACCOUNT_NAME)
        .join(well_known::CONTAINER);
    let index: Value =
        serde_json::from_slice(&std::fs::read(fs_dir.join("index.json")).unwrap()).unwrap();
    let blob = index["paths"][path]["blob"].as_str().unwrap();
    fs_dir.join("blobs").join(blob)
}

#[tokio::test]
async fn a_crash_mid_flush_reads_back_the_previous_version() {
    let env = start().await;
    env.put_file("c.csv", b"version 1\n").await;
    let committed = etag(&env.head("c.csv").await);
    env.append("c.csv", 10, b"version 2\n".to_vec()).await;

    // What a crash between the content write and the index commit leaves: the new bytes after
    // the committed ones in the content file, and a half-written index beside the index.
    let content = content_file(&env, "c.csv");
    let fs_dir = content.parent().unwrap().parent().unwrap().to_path_buf();
    let env = env
        .restart_after(|_| {
            let mut file = OpenOptions::new().append(true).open(&content).unwrap();
            file.write_all(b"version 2\n").unwrap();
            std::fs::write(fs_dir.join("index.tmp-crash"), b"{\"etag\":\"0x8D").unwrap();
        })
        .await;

    assert_eq!(env.read("c.csv").await, b"version 1\n");
    assert_eq!(etag(&env.head("c.csv").await), committed);
    assert_eq!(std::fs::read(&content).unwrap(), b"version 1\n");
    assert!(!fs_dir.join("index.tmp-crash").exists());
    let lost = env.flush("c.csv", 20).await;
    expect_error(lost, StatusCode::BAD_REQUEST, "InvalidFlushPosition").await;
    env.append("c.csv", 10, b"version 3\n".to_vec()).await;
    assert_eq!(env.flush("c.csv", 20).await.status(), StatusCode::OK);
    assert_eq!(env.read("c.csv").await, b"version 1\nversion 3\n");
}
