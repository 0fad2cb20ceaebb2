//! Restarting with the same data folder.

use adls_writeback_emulator::{Emulator, EmulatorConfig};
use reqwest::{Method, StatusCode};

use crate::common::{Env, etag, start, start_in_memory, storage_token};

#[tokio::test]
async fn restart_keeps_flushed_data_and_drops_staged_data() {
    let env = start().await;
    env.put_file("keep/data.csv", b"a,b\n1,2\n").await;
    let props = env
        .req(Method::PUT, "writeback/keep/empty-dir?resource=directory")
        .header("x-ms-properties", "k=dg==")
        .send()
        .await
        .unwrap();
    assert_eq!(props.status(), StatusCode::CREATED);
    env.append("keep/data.csv", 8, b"staged".to_vec()).await;
    let file_etag = etag(&env.head("keep/data.csv").await);

    let Env {
        emulator,
        data,
        datasets,
        client,
        ..
    } = env;
    emulator.shutdown().await;
    let emulator = Emulator::start(EmulatorConfig::well_known(data.path()))
        .await
        .unwrap();
    let token = storage_token(&client, &emulator, "https://storage.azure.com/.default").await;
    let env = Env {
        emulator,
        data,
        datasets,
        client,
        token,
    };

    assert_eq!(env.read("keep/data.csv").await, b"a,b\n1,2\n");
    assert_eq!(etag(&env.head("keep/data.csv").await), file_etag);
    let dir = env.head("keep/empty-dir").await;
    assert_eq!(dir.headers()["x-ms-resource-type"], "directory");
    assert_eq!(dir.headers()["x-ms-properties"], "k=dg==");
    let flush_staged = env.flush("keep/data.csv", 14).await;
    assert_eq!(
        flush_staged.status(),
        StatusCode::BAD_REQUEST,
        "staged data does not survive"
    );
}

#[tokio::test]
async fn in_memory_store_writes_nothing_and_forgets_at_stop() {
    let env = start_in_memory().await;
    env.put_file("mem/data.csv", b"a,b\n1,2\n").await;
    let renamed = env
        .req(Method::PUT, "writeback/mem/moved.csv")
        .header("x-ms-rename-source", "/writeback/mem/data.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::CREATED);
    assert_eq!(env.read("mem/moved.csv").await, b"a,b\n1,2\n");
    let entries: Vec<_> = std::fs::read_dir(env.data.path()).unwrap().collect();
    assert!(entries.is_empty(), "nothing on disk: {entries:?}");

    let env = env.restart_after(|_| {}).await;
    let gone = env.head("mem/moved.csv").await;
    assert_eq!(
        gone.status(),
        StatusCode::NOT_FOUND,
        "a restart on disk does not see the in-memory data"
    );
}

#[tokio::test]
async fn a_rename_across_file_systems_survives_a_restart() {
    let env = start().await;
    let made = env
        .req(Method::PUT, "second?resource=filesystem")
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    env.put_file("d/f.csv", b"kept").await;
    let moved = env
        .req(Method::PUT, "second/f.csv")
        .header("x-ms-rename-source", "/writeback/d/f.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::CREATED);
    let env = env.restart().await;
    let read = env.req(Method::GET, "second/f.csv").send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.bytes().await.unwrap().as_ref(), b"kept");
    assert_eq!(env.head("d/f.csv").await.status(), StatusCode::NOT_FOUND);
}
