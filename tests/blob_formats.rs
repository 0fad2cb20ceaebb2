//! Encoded and split outputs through the Blob endpoint, into Azurite and into the emulator's
//! flat-namespace account: `csv.gz` read back through `gzip -d`, Parquet, a split output with its
//! manifest and marker, and a replace with fewer parts deleting the earlier set's extra
//! ones. Every file is read back through the Blob endpoint.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use adls_writeback_emulator::well_known;
use serde_json::Value;

use crate::support::azurite::{ACCOUNT, KEY};
use crate::support::blob::{BlobClient, SharedKeyJob, azurite_with_container, flat_emulator};
use crate::support::{Cli, generated_csv, md5_base64};

const CONTAINER: &str = "exports";

/// A job writing `data` into `out/` at `account_url` with `output` (keys added to the
/// job's `[output]`), signed with `key`; in `dir`.
fn job(dir: &Path, account_url: &str, key: &str, data: &[u8], output: Value) -> PathBuf {
    let path = SharedKeyJob {
        account_url,
        key,
        container: CONTAINER,
        update: "replace",
        block_size: 65536,
    }
    .write(dir, data);
    let mut document: toml::Table =
        toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let table = document["output"].as_table_mut().unwrap();
    for (key, value) in output.as_object().unwrap() {
        table.insert(key.clone(), toml::Value::try_from(value).unwrap());
    }
    std::fs::write(&path, toml::to_string(&document).unwrap()).unwrap();
    path
}

async fn run_verified(job: &Path) -> (i32, Value, String) {
    let args = [
        OsStr::new("run"),
        job.as_os_str(),
        OsStr::new("--json"),
        OsStr::new("--verify"),
    ];
    Cli::new(&args).json().await
}

/// `data` without its BOM and header record (ended by CRLF, as [`generated_csv`] writes it).
fn rows_of(data: &[u8]) -> &[u8] {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let end = data.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    &data[end..]
}

/// The blobs under `out/`, by name.
async fn listed(client: &BlobClient) -> Vec<String> {
    let answer = client
        .get(
            &format!("{CONTAINER}?restype=container&comp=list&prefix=out/"),
            &[],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let text = answer.text();
    let mut names: Vec<String> = text
        .split("<Name>")
        .skip(1)
        .map(|rest| rest.split("</Name>").next().unwrap().to_string())
        .collect();
    names.sort();
    names
}

async fn read(client: &BlobClient, name: &str) -> Vec<u8> {
    let got = client.get(&format!("{CONTAINER}/{name}"), &[]).await;
    assert_eq!(got.status, 200, "{name}: {}", got.text());
    got.body
}

async fn gzip_split_and_a_smaller_replace(account_url: &str, key: &str, client: &BlobClient) {
    let dir = tempfile::tempdir().unwrap();
    let csv = generated_csv(400_000, 21);
    // csv.gz, one file.
    let gz_job = job(
        dir.path(),
        account_url,
        key,
        &csv,
        serde_json::json!({"format": "csv.gz"}),
    );
    let (code, report, stderr) = run_verified(&gz_job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(
        (&report["endpoint"], &report["verified"]),
        (&"blob".into(), &true.into())
    );
    let gz = read(client, "out/sales.csv.gz").await;
    assert_eq!(report["md5"], md5_base64(&gz));
    let path = dir.path().join("sales.csv.gz");
    std::fs::write(&path, &gz).unwrap();
    let out = std::process::Command::new("gzip")
        .args(["-d", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout == csv,
        "gzip -d gives the CSV back"
    );
    let answer = client
        .get(&format!("{CONTAINER}/out/sales.csv.gz"), &[])
        .await;
    assert_eq!(answer.header("content-type"), Some("application/gzip"));
    assert_eq!(
        answer.header("x-ms-meta-rows"),
        Some(report["rows"].to_string().as_str())
    );
    // Parquet, one file (pyarrow reads it back in tests/parquet.rs; here, it is whole).
    let dir = tempfile::tempdir().unwrap();
    let pq_job = job(
        dir.path(),
        account_url,
        key,
        &csv,
        serde_json::json!({"format": "parquet"}),
    );
    let (code, report, stderr) = run_verified(&pq_job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    let parquet = read(client, "out/sales.parquet").await;
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"));
    assert_eq!(report["md5"], md5_base64(&parquet));
    let answer = client
        .get(&format!("{CONTAINER}/out/sales.parquet"), &[])
        .await;
    assert_eq!(
        answer.header("content-type"),
        Some("application/vnd.apache.parquet")
    );
    // A split output with its manifest and marker.
    let split = |max_rows: u64| serde_json::json!({"max_rows_per_file": max_rows, "manifest": true, "success_marker": true});
    let dir = tempfile::tempdir().unwrap();
    let (code, report, stderr) =
        run_verified(&job(dir.path(), account_url, key, &csv, split(2000))).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["verified"], true, "every part read back: {report}");
    let names = listed(client).await;
    let parts: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("out/sales-"))
        .collect();
    assert!(parts.len() > 2, "{names:?}");
    assert!(names.contains(&"out/_SUCCESS".to_string()), "{names:?}");
    let manifest: Value =
        serde_json::from_slice(&read(client, "out/_manifest.json").await).unwrap();
    assert_eq!(manifest["files"].as_array().unwrap().len(), parts.len());
    let mut rows = Vec::new();
    for (entry, part) in manifest["files"].as_array().unwrap().iter().zip(&parts) {
        assert_eq!(entry["path"], part.as_str());
        let bytes = read(client, part).await;
        assert_eq!(entry["md5"], md5_base64(&bytes).as_str(), "{part}");
        rows.extend_from_slice(rows_of(&bytes));
    }
    assert!(rows == rows_of(&csv), "the parts' rows are the source's");
    // Replace with fewer parts: the earlier set's extra ones go.
    let dir = tempfile::tempdir().unwrap();
    let (code, report, stderr) =
        run_verified(&job(dir.path(), account_url, key, &csv, split(1_000_000))).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(
        listed(client).await,
        [
            "out/_SUCCESS",
            "out/_manifest.json",
            "out/sales-00001.csv",
            "out/sales.csv.gz",
            "out/sales.parquet",
        ]
    );
    assert!(rows_of(&read(client, "out/sales-00001.csv").await) == rows_of(&csv));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoded_and_split_outputs_into_azurite_through_blob() {
    let (azurite, client) = azurite_with_container(CONTAINER).await;
    gzip_split_and_a_smaller_replace(&azurite.account_url(), KEY, &client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoded_and_split_outputs_into_the_emulators_flat_account() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = flat_emulator(dir.path(), CONTAINER).await;
    let url = emulator.account_endpoint(ACCOUNT);
    let client = BlobClient::new(&url, ACCOUNT, well_known::ACCOUNT_KEY);
    gzip_split_and_a_smaller_replace(&url, well_known::ACCOUNT_KEY, &client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_output_through_blob_lands_whole_under_faults() {
    use adls_writeback_emulator::{Fault, FaultPlan, FaultRule};
    let dir = tempfile::tempdir().unwrap();
    let emulator = flat_emulator(dir.path(), CONTAINER).await;
    let url = emulator.account_endpoint(ACCOUNT);
    let client = BlobClient::new(&url, ACCOUNT, well_known::ACCOUNT_KEY);
    let csv = generated_csv(600_000, 22);
    // Lost answers and busy refusals of Put Block and Put Block List alike.
    emulator
        .set_faults(FaultPlan::new(vec![
            FaultRule::new(Fault::DropResponse { body_bytes: None })
                .method("PUT")
                .nth([2, 7, 13, 19]),
            FaultRule::new(Fault::ServerBusy { retry_after: None })
                .method("PUT")
                .nth([4, 10, 16]),
        ]))
        .unwrap();
    let output = serde_json::json!({"max_rows_per_file": 3000, "manifest": true});
    let job_dir = tempfile::tempdir().unwrap();
    let job = job(job_dir.path(), &url, well_known::ACCOUNT_KEY, &csv, output);
    let (code, report, stderr) = run_verified(&job).await;
    let counts = emulator.fault_counts();
    emulator.set_faults(FaultPlan::default()).unwrap();
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(
        (counts.drop_response, counts.server_busy),
        (4, 3),
        "{counts:?}"
    );
    let manifest: Value =
        serde_json::from_slice(&read(&client, "out/_manifest.json").await).unwrap();
    let mut rows = Vec::new();
    for entry in manifest["files"].as_array().unwrap() {
        let bytes = read(&client, entry["path"].as_str().unwrap()).await;
        assert_eq!(entry["md5"], md5_base64(&bytes).as_str());
        rows.extend_from_slice(rows_of(&bytes));
    }
    assert!(rows == rows_of(&csv), "byte-exact under faults");
}
