//! Proxies: a run through `HTTPS_PROXY` and through the job's `[http] proxy` with Basic
//! credentials, each via a small CONNECT proxy on loopback that this test starts. The origin
//! policy applies to the target (the emulator), not to the proxy.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Cli, Harness, JobSpec};

const DATASET: &str = "845305d8-da3d-4107-a9d6-13ef3f86d4a4";
const CSV: &[u8] = b"a,b\n1,2\n";

/// A CONNECT proxy on loopback: tunnels to the target each CONNECT names, after checking
/// `Proxy-Authorization` when `credentials` are set (407 otherwise). Returns its URL and the
/// targets it tunnelled to.
async fn connect_proxy(credentials: Option<(&str, &str)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let expected = credentials.map(|(u, p)| {
        format!(
            "basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (log, expected) = (log.clone(), expected.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).to_string();
                let Some(target) = text
                    .strip_prefix("CONNECT ")
                    .and_then(|rest| rest.split_whitespace().next())
                else {
                    let _ = client
                        .write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                        .await;
                    return;
                };
                let authorized = expected.as_ref().is_none_or(|want| {
                    text.lines().any(|l| {
                        l.to_ascii_lowercase().trim()
                            == format!("proxy-authorization: {want}").to_ascii_lowercase()
                    })
                });
                if !authorized {
                    let _ = client
                        .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                }
                log.lock().unwrap().push(target.to_string());
                let Ok(mut upstream) = TcpStream::connect(target).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (url, seen)
}

fn dfs_authority(h: &Harness) -> String {
    h.emulator
        .dfs_url()
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_goes_through_https_proxy_from_the_environment() {
    let h = Harness::start_tls().await;
    h.add_dataset(DATASET, CSV, 27, &[]);
    let (proxy, seen) = connect_proxy(None).await;
    let ca = h.emulator.ca_file().unwrap();
    let job = h.write_job(&JobSpec {
        name: "env-proxy".into(),
        dataset_id: DATASET.into(),
        top: format!("ca_file = \"{}\"", ca.display()),
        ..Default::default()
    });
    let (code, report, stderr) = Cli::run_json(&job)
        .env("HTTPS_PROXY", &proxy)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .json()
        .await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(
        h.read_file(&format!("out/{DATASET}.csv")).await.unwrap(),
        CSV
    );
    let seen = seen.lock().unwrap().clone();
    assert!(seen.contains(&dfs_authority(&h)), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_proxy_key_carries_its_credentials_and_a_wrong_password_fails() {
    let h = Harness::start_tls().await;
    h.add_dataset(DATASET, CSV, 27, &[]);
    let (proxy, seen) = connect_proxy(Some(("writer", "pr0xy-pass"))).await;
    let ca = h.emulator.ca_file().unwrap();
    for (name, password, ok) in [
        ("proxy-ok", "pr0xy-pass", true),
        ("proxy-bad", "wrong", false),
    ] {
        let job = h.write_job(&JobSpec {
            name: name.into(),
            dataset_id: DATASET.into(),
            top: format!("ca_file = \"{}\"", ca.display()),
            tables: format!(
                "[http]\nproxy = \"{proxy}\"\nproxy_username = \"writer\"\n\
                 proxy_password = {{ file = \"proxy-password\" }}\nmax_retries = 0\n"
            ),
            ..Default::default()
        });
        std::fs::write(job.parent().unwrap().join("proxy-password"), password).unwrap();
        let (code, answer, stderr) = Cli::run_json(&job)
            .env_remove("HTTPS_PROXY")
            .env_remove("NO_PROXY")
            .json()
            .await;
        let text = format!("{answer}{stderr}");
        assert!(
            !text.contains(password),
            "{name}: the proxy password reached the output"
        );
        if ok {
            assert_eq!(code, 0, "{name}: {text}");
            assert_eq!(
                h.read_file(&format!("out/{DATASET}.csv")).await.unwrap(),
                CSV
            );
        } else {
            assert_eq!(code, 1, "{name}: {text}");
            assert!(
                text.contains("407") || text.to_lowercase().contains("proxy"),
                "{name}: {text}"
            );
        }
    }
    assert!(seen.lock().unwrap().contains(&dfs_authority(&h)));
}
