//! HTTPS on all three listeners, with a certificate from the emulator's own CA.

use adls_writeback_emulator::{Emulator, EmulatorConfig, well_known};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{client_for, start_with, storage_token};

#[tokio::test]
async fn all_listeners_serve_https_with_a_trusted_ca() {
    let env = start_with(|c| c.tls = true).await;
    let emulator = &env.emulator;
    let ca = emulator.ca_file().expect("a CA with TLS on");
    assert_eq!(ca, env.data.path().join("tls").join("ca.pem"));
    for url in [
        emulator.dfs_url(),
        emulator.authority_url(),
        emulator.domo_url(),
    ] {
        assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    }

    // The token came over HTTPS (start_with); the DFS and Blob APIs answer over it too.
    env.put_file("secure.csv", b"a,b\n").await;
    assert_eq!(env.read("secure.csv").await, b"a,b\n");
    let listed = env
        .req(Method::GET, "?comp=list")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let endpoint = format!(
        "ServiceEndpoint=\"{}/\"",
        emulator.account_endpoint(well_known::ACCOUNT_NAME)
    );
    assert!(listed.contains(&endpoint), "{listed}");

    // URLs in answers name the https authority.
    let config: Value = env
        .client
        .get(format!(
            "{}/{}/v2.0/.well-known/openid-configuration",
            emulator.authority_url(),
            well_known::TENANT_ID
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let base = format!("{}/{}", emulator.authority_url(), well_known::TENANT_ID);
    assert_eq!(
        config["token_endpoint"],
        format!("{base}/oauth2/v2.0/token")
    );
    assert_eq!(config["issuer"], format!("{base}/v2.0"));
    let challenge = env
        .client
        .get(format!("{}/writeback/secure.csv", emulator.dfs_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(challenge.status(), StatusCode::UNAUTHORIZED);
    let www = challenge.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        www.contains(&format!("authorization_uri={}/", emulator.authority_url())),
        "{www}"
    );

    let domo = env
        .client
        .post(format!(
            "{}/oauth/token?grant_type=client_credentials&scope=data",
            emulator.domo_url()
        ))
        .basic_auth(
            well_known::DOMO_CLIENT_ID,
            Some(well_known::DOMO_CLIENT_SECRET),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(domo.status(), StatusCode::OK);

    // A client that does not trust the CA cannot connect; plain HTTP gets no answer.
    let untrusting = reqwest::Client::new();
    assert!(untrusting.get(emulator.dfs_url()).send().await.is_err());
    let plain = emulator.dfs_url().replace("https://", "http://");
    assert!(untrusting.get(plain).send().await.is_err());
}

#[tokio::test]
async fn certificates_are_reused_after_a_restart() {
    let env = start_with(|c| c.tls = true).await;
    env.put_file("kept.csv", b"1\n").await;
    let ca = std::fs::read(env.emulator.ca_file().unwrap()).unwrap();
    let tls_dir = env.data.path().join("tls");
    let server = std::fs::read(tls_dir.join("server.pem")).unwrap();
    let client = env.client.clone();
    let data = env.data;
    env.emulator.shutdown().await;

    let mut config = EmulatorConfig::well_known(data.path());
    config.tls = true;
    let emulator = Emulator::start(config).await.unwrap();
    assert_eq!(std::fs::read(emulator.ca_file().unwrap()).unwrap(), ca);
    assert_eq!(std::fs::read(tls_dir.join("server.pem")).unwrap(), server);
    // The client built for the first run still trusts the second.
    let token = storage_token(&client, &emulator, "https://storage.azure.com/.default").await;
    let read = client
        .get(format!(
            "{}/{}/kept.csv",
            emulator.account_endpoint(well_known::ACCOUNT_NAME),
            well_known::CONTAINER
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    // The certificate folder is not mistaken for a storage account.
    let tls_account = client
        .get(format!("{}/tls?resource=account", emulator.dfs_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(tls_account.status(), StatusCode::NOT_FOUND);
    assert_eq!(tls_account.headers()["x-ms-error-code"], "ResourceNotFound");
    emulator.shutdown().await;

    // Without TLS the same data folder serves plain HTTP and offers no CA.
    let plain = Emulator::start(EmulatorConfig::well_known(data.path()))
        .await
        .unwrap();
    assert!(plain.ca_file().is_none());
    assert!(plain.dfs_url().starts_with("http://"));
    let token = storage_token(
        &client_for(&plain),
        &plain,
        "https://storage.azure.com/.default",
    )
    .await;
    assert!(!token.is_empty());
}
