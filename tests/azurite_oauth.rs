//! Azurite with OAuth: `--oauth basic` over HTTPS, with the emulator's server certificate
//! (signed by the emulator's CA, which the job trusts through `ca_file`), and bearer tokens
//! from the emulator's Entra ID endpoint (`auth = "client-secret"`, `authority_host` = the
//! emulator). Azurite checks a token's audience (`https://storage.azure.com`), issuer
//! (`https://sts.windows.net/…`) and lifetime but not its signature; the emulator's tokens
//! have that shape, as the real Entra ID's v1 storage tokens do.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use adls_writeback_emulator::well_known;
use serde_json::Value;

use crate::support::azurite::{ACCOUNT, Azurite, KEY};
use crate::support::blob::BlobClient;
use crate::support::{Cli, Harness, JobSpec, generated_csv, md5_base64};

/// The emulator's TLS folder: its CA, and the server certificate and key Azurite serves.
fn tls_dir(h: &Harness) -> PathBuf {
    h.emulator
        .ca_file()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A token from the emulator's Entra ID endpoint for `scope`, as any client gets one.
async fn token_for(h: &Harness, scope: &str) -> String {
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        h.emulator.authority_url(),
        well_known::TENANT_ID
    );
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", well_known::CLIENT_ID),
        ("client_secret", well_known::CLIENT_SECRET),
        ("scope", scope),
    ];
    let answer: Value = h
        .client
        .post(url)
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

/// A client-secret job exporting `data` (a local file) into Azurite at `account_url` with
/// `update`, trusting the emulator's CA.
fn job(h: &Harness, name: &str, account_url: &str, data: &[u8], update: &str) -> PathBuf {
    let dir = h.dir.path().join("sources").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("sales.csv");
    std::fs::write(&source, data).unwrap();
    let ca = h.emulator.ca_file().unwrap();
    h.write_job(&JobSpec {
        name: name.into(),
        local_file: Some(source),
        top: format!("ca_file = \"{}\"", ca.display()),
        output: format!(
            "directory = \"out\"\nupdate = \"{update}\"\nblock_size = 65536\nconcurrency = 4\n"
        ),
        tables: format!(
            "[account]\nauth = \"client-secret\"\nendpoint = \"auto\"\n\
             dfs_endpoint = \"{account_url}\"\nblob_endpoint = \"{account_url}\"\n"
        ),
        ..Default::default()
    })
}

/// Runs `job` with `--verify`.
async fn run_verified(job: &Path) -> (i32, Value, String) {
    Cli::new(&[
        OsStr::new("run"),
        job.as_os_str(),
        OsStr::new("--json"),
        OsStr::new("--verify"),
    ])
    .json()
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_into_azurite_with_entra_tokens_over_https_through_blob() {
    let h = Harness::start_tls().await;
    let tls = tls_dir(&h);
    let azurite = Azurite::start_oauth(&tls.join("server.pem"), &tls.join("server-key.pem"));
    let url = azurite.account_url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let keyed = BlobClient::shared_key_with(h.client.clone(), &url, ACCOUNT, KEY);
    let container = format!("{}?restype=container", well_known::CONTAINER);
    let created = keyed.put(&container, &[], b"").await;
    assert_eq!(created.status, 201, "{}", created.text());

    // Azurite takes the emulator's storage token, and refuses one for another audience:
    // it does check what it says it checks.
    let token = token_for(&h, "https://storage.azure.com/.default").await;
    let bearer = BlobClient::bearer_with(h.client.clone(), &url, &token);
    let listed = bearer.get(&format!("{container}&comp=list"), &[]).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let other = token_for(&h, "https://example.com/.default").await;
    let refused = BlobClient::bearer_with(h.client.clone(), &url, &other)
        .get(&format!("{container}&comp=list"), &[])
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(refused.error_code(), Some("AuthenticationFailed"));
    assert!(refused.text().contains("audience"), "{}", refused.text());
    // And one already expired (a token of no lifetime: its `exp` is the second it was
    // issued in).
    h.emulator.set_token_lifetime(std::time::Duration::ZERO);
    let expired = token_for(&h, "https://storage.azure.com/.default").await;
    h.emulator
        .set_token_lifetime(std::time::Duration::from_secs(3600));
    let refused = BlobClient::bearer_with(h.client.clone(), &url, &expired)
        .get(&format!("{container}&comp=list"), &[])
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(refused.text().contains("expired"), "{}", refused.text());

    let blob = format!("{}/out/sales.csv", well_known::CONTAINER);
    let first = generated_csv(300_000, 31);
    let (code, report, stderr) = run_verified(&job(&h, "oauth-1", &url, &first, "replace")).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(
        report["endpoint"], "blob",
        "auto picks Blob on Azurite: {report}"
    );
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(report["md5"], md5_base64(&first));
    assert!(report["blocks"].as_u64().unwrap() >= 4, "{report}");
    for (how, client) in [("SharedKey", &keyed), ("bearer", &bearer)] {
        let got = client.get(&blob, &[]).await;
        assert_eq!(got.status, 200, "{how}: {}", got.text());
        assert!(got.body == first, "read back with {how}: not byte-exact");
        assert_eq!(got.header("content-md5"), Some(md5_base64(&first).as_str()));
        assert_eq!(got.header("content-type"), Some("text/csv"));
    }

    let second = generated_csv(200_000, 32);
    let (code, report, stderr) = run_verified(&job(&h, "oauth-2", &url, &second, "replace")).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert!(
        bearer.get(&blob, &[]).await.body == second,
        "the replace is not byte-exact"
    );

    let third = generated_csv(150_000, 33);
    let (code, report, stderr) = run_verified(&job(&h, "oauth-3", &url, &third, "append")).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    let header = third.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    let appended = [&second[..], &third[header..]].concat();
    assert!(
        bearer.get(&blob, &[]).await.body == appended,
        "the append is not byte-exact"
    );
    assert!(
        !format!("{report}{stderr}").contains(well_known::CLIENT_SECRET),
        "the client secret leaked"
    );
}
