//! Restarting with the same data folder.

use adls_writeback_emulator::{Emulator, EmulatorConfig};
use reqwest::{Method, StatusCode};

use crate::common::{Env, etag, start, storage_token};

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
