//! Writes through the Blob endpoint end to end, signed with SharedKey: into Azurite with its
//! well-known key, and into the emulator's flat-namespace account. Every file is read back
//! through the Blob endpoint byte-exact.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use adls_writeback_emulator::well_known;
use serde_json::Value;

use crate::support::azurite::{ACCOUNT, KEY};
use crate::support::blob::{BlobClient, SharedKeyJob, azurite_with_container, flat_emulator};
use crate::support::{Cli, generated_csv, md5_base64};

const CONTAINER: &str = "exports";
/// The blob the jobs write, from the account URL.
const BLOB: &str = "exports/out/sales.csv";

/// A job writing `data` to `out/sales.csv` at `account_url` with `update`, through
/// `endpoint = "auto"`, signed with `key`; in `dir`.
fn job(dir: &Path, account_url: &str, key: &str, data: &[u8], update: &str) -> PathBuf {
    SharedKeyJob {
        account_url,
        key,
        container: CONTAINER,
        update,
        block_size: 65536,
    }
    .write(dir, data)
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

/// `data` without its header record (ended by CRLF, as [`generated_csv`] writes it).
fn rows_of(data: &[u8]) -> &[u8] {
    let end = data.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    &data[end..]
}

/// Replace twice, append, then an append that fails after staging blocks: each read back.
async fn replace_append_and_a_failed_append(account_url: &str, key: &str, client: &BlobClient) {
    let dir = tempfile::tempdir().unwrap();
    let first = generated_csv(300_000, 11);
    let (code, report, stderr) =
        run_verified(&job(dir.path(), account_url, key, &first, "replace")).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(
        report["endpoint"], "blob",
        "auto picks Blob for a flat account: {report}"
    );
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(report["md5"], md5_base64(&first));
    assert!(report["blocks"].as_u64().unwrap() >= 4, "{report}");
    let got = client.get(BLOB, &[]).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert!(got.body == first, "the first export is not byte-exact");
    assert_eq!(got.header("content-md5"), Some(md5_base64(&first).as_str()));
    assert_eq!(got.header("content-type"), Some("text/csv"));
    // The properties every written file carries, as Blob metadata.
    let rows = report["rows"].as_u64().unwrap().to_string();
    assert_eq!(
        got.header("x-ms-meta-rows"),
        Some(rows.as_str()),
        "{report}"
    );
    assert_eq!(got.header("x-ms-meta-sha256"), report["sha256"].as_str());
    assert_eq!(got.header("x-ms-meta-run_id"), report["run_id"].as_str());
    assert!(got.header("x-ms-meta-dataset_id").is_some());

    let second = generated_csv(200_000, 12);
    let (code, report, stderr) =
        run_verified(&job(dir.path(), account_url, key, &second, "replace")).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    let second_run_id = report["run_id"].as_str().map(str::to_owned);
    assert!(
        client.get(BLOB, &[]).await.body == second,
        "the replace is not byte-exact"
    );

    let third = generated_csv(150_000, 13);
    let (code, report, stderr) =
        run_verified(&job(dir.path(), account_url, key, &third, "append")).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    let mut appended = second.clone();
    appended.extend_from_slice(rows_of(&third));
    assert_eq!(report["file_size"], appended.len() as u64, "{report}");
    let before = client.get(BLOB, &[]).await;
    assert!(before.body == appended, "the append is not byte-exact");
    assert_eq!(
        before.header("x-ms-meta-run_id"),
        second_run_id.as_deref(),
        "an append keeps the metadata of the run that wrote the blob whole"
    );

    // Rows enough for several blocks, then a record whose quote never closes: the run fails
    // after staging blocks, before committing any.
    let mut broken = generated_csv(200_000, 14);
    broken.extend_from_slice(b"999999,name-x,\"never closed,1.00\r\n");
    let (code, failure, stderr) =
        run_verified(&job(dir.path(), account_url, key, &broken, "append")).await;
    assert_eq!(code, 1, "{failure}\n{stderr}");
    assert_eq!(failure["kind"], "data", "{failure}");
    let after = client.get(BLOB, &[]).await;
    assert!(after.body == appended, "a failed append changed the blob");
    assert_eq!(after.header("etag"), before.header("etag"));
    assert!(
        !format!("{failure}{stderr}").contains(key),
        "the key leaked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_into_azurite_through_blob_land_byte_exact() {
    let (azurite, client) = azurite_with_container(CONTAINER).await;
    replace_append_and_a_failed_append(&azurite.account_url(), KEY, &client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_into_the_emulators_flat_account_go_through_blob() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = flat_emulator(dir.path(), CONTAINER).await;
    let url = emulator.account_endpoint(ACCOUNT);
    assert_eq!(ACCOUNT, well_known::ACCOUNT_NAME);
    let client = BlobClient::new(&url, ACCOUNT, well_known::ACCOUNT_KEY);
    replace_append_and_a_failed_append(&url, well_known::ACCOUNT_KEY, &client).await;
}
