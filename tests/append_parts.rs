//! Appends to a split output, against the emulator: new parts numbered after the existing
//! ones and the manifest extended; a new header that does not match, parts without a
//! manifest, and a manifest changed by another writer mid-run all leave the output as it was;
//! a lost rename response is recognised.

use std::time::Duration;

use adls_writeback_emulator::{Fault, FaultPlan, FaultRule, Operation, Service};
use serde_json::Value;

use crate::support::{Harness, JobSpec, generated_csv, md5_base64, run_json};

const DATASET: &str = "5d1c7a3e-0b8f-4c2e-9a61-3f7d2b9e4c10";
const OWNER: u64 = 27;

/// A split output of `sales` parts of 5,000 rows, with manifest and marker, appended to.
fn append_job(h: &Harness, name: &str, extra: &str) -> std::path::PathBuf {
    h.write_job(&JobSpec {
        name: name.into(),
        dataset_id: DATASET.into(),
        output: format!(
            "directory = \"sales\"\nselect_filename = \"file-name\"\nfile_name = \"sales\"\n\
             max_rows_per_file = 5000\nmanifest = true\nsuccess_marker = true\n\
             update = \"append\"\nblock_size = 262144\n{extra}"
        ),
        ..Default::default()
    })
}

/// The data records of a CSV file (after its BOM and its CRLF-ended header).
fn rows_of(file: &[u8]) -> &[u8] {
    let file = file.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(file);
    let end = file.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    &file[end..]
}

async fn manifest(h: &Harness) -> Value {
    serde_json::from_slice(&h.read_file("sales/_manifest.json").await.unwrap()).unwrap()
}

/// Writes `data` at `path` (create, one append, flush), as another writer would.
async fn write_as_another_writer(h: &Harness, path: &str, data: &[u8]) {
    let url = h.path_url(path);
    let token = h.storage_token().await;
    let steps = [
        (
            reqwest::Method::PUT,
            format!("{url}?resource=file"),
            Vec::new(),
        ),
        (
            reqwest::Method::PATCH,
            format!("{url}?action=append&position=0"),
            data.to_vec(),
        ),
        (
            reqwest::Method::PATCH,
            format!("{url}?action=flush&position={}", data.len()),
            vec![],
        ),
    ];
    for (method, url, body) in steps {
        let response = h.client.request(method, url).bearer_auth(&token).body(body);
        let status = response.send().await.unwrap().status();
        assert!(status.is_success(), "writing {path}: {status}");
    }
}

/// Runs the first export (the directory does not exist: written whole) and returns its
/// source.
async fn first_run(h: &Harness) -> Vec<u8> {
    let first = generated_csv(1 << 20, 1);
    h.add_dataset(DATASET, &first, OWNER, &[]);
    let (code, report, stderr) = run_json(&append_job(h, "first", "")).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_add_parts_after_the_existing_ones_and_extend_the_manifest() {
    let h = Harness::start().await;
    let first = first_run(&h).await;
    let before = h.list_files().await;
    let first_parts = before.len() - 2;
    assert!(first_parts > 1, "{before:?}");
    let second = generated_csv(600 << 10, 2);
    h.add_dataset(DATASET, &second, OWNER, &[]);
    let (code, report, stderr) = crate::support::Cli::new(&[
        std::ffi::OsStr::new("run"),
        append_job(&h, "second", "").as_os_str(),
        std::ffi::OsStr::new("--json"),
        std::ffi::OsStr::new("--verify"),
    ])
    .json()
    .await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["verified"], true, "{report}");
    let files = h.list_files().await;
    let parts: Vec<&String> = files
        .iter()
        .filter(|f| f.starts_with("sales/sales-"))
        .collect();
    assert!(parts.len() > first_parts + 1, "{files:?}");
    assert_eq!(
        files.len(),
        parts.len() + 2,
        "the parts, the manifest, _SUCCESS: {files:?}"
    );
    let new: Vec<&Value> = report["files"].as_array().unwrap().iter().collect();
    assert_eq!(
        new.len(),
        parts.len() - first_parts,
        "the report lists this run's parts"
    );
    assert_eq!(
        new[0]["path"],
        format!("sales/sales-{:05}.csv", first_parts + 1)
    );
    let manifest = manifest(&h).await;
    assert_eq!(manifest["run_id"], report["run_id"]);
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len(), parts.len());
    let mut rows = Vec::new();
    let mut total = 0;
    for (i, (entry, part)) in listed.iter().zip(&parts).enumerate() {
        assert_eq!(part.as_str(), format!("sales/sales-{:05}.csv", i + 1));
        assert_eq!(entry["path"], part.as_str());
        let bytes = h.read_file(part).await.unwrap();
        assert_eq!(entry["md5"], md5_base64(&bytes).as_str(), "{part}");
        total += entry["rows"].as_u64().unwrap();
        rows.extend_from_slice(rows_of(&bytes));
    }
    assert_eq!(manifest["rows"], total);
    let expected = [rows_of(&first), rows_of(&second)].concat();
    assert!(
        rows == expected,
        "the parts' rows are the first source's, then the second's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_that_cannot_extend_the_output_leaves_it_as_it_was() {
    let h = Harness::start().await;
    first_run(&h).await;
    let files = h.list_files().await;
    let manifest_before = h.read_file("sales/_manifest.json").await.unwrap();
    // Other columns than the manifest's.
    let other = b"id,email\r\n1,a@example.com\r\n2,b@example.com\r\n".to_vec();
    h.add_dataset(DATASET, &other, OWNER, &[]);
    let (code, report, stderr) = run_json(&append_job(&h, "columns", "")).await;
    assert_ne!(code, 0, "{report}");
    let error = report.to_string();
    assert!(
        error.contains("_manifest.json") && error.contains("email"),
        "{report}\n{stderr}"
    );
    assert_eq!(
        h.list_files().await,
        files,
        "nothing added, nothing left behind"
    );
    assert_eq!(
        h.read_file("sales/_manifest.json").await.unwrap(),
        manifest_before
    );
    // Parts without a manifest, and a job that asks for one.
    h.delete("sales/_manifest.json").await;
    let files = h.list_files().await;
    h.add_dataset(DATASET, &generated_csv(64 << 10, 3), OWNER, &[]);
    let (code, report, _) = run_json(&append_job(&h, "no-manifest", "")).await;
    assert_ne!(code, 0, "{report}");
    assert_eq!(report["kind"], "invalid", "{report}");
    let fields = report["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        fields.iter().any(|p| p["field"] == "output.manifest"),
        "{report}"
    );
    assert_eq!(h.list_files().await, files);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_changed_by_another_writer_mid_run_takes_the_parts_back() {
    let h = Harness::start().await;
    first_run(&h).await;
    let files = h.list_files().await;
    let new_part = format!("sales/sales-{:05}.csv", files.len() - 2 + 1);
    h.add_dataset(DATASET, &generated_csv(64 << 10, 4), OWNER, &[]);
    // One new part: its flush, then the new manifest's, which answers 4 s late: meanwhile
    // the parts are in, and another writer replaces the manifest.
    h.emulator
        .set_faults(FaultPlan::new(vec![
            FaultRule::new(Fault::Slow { ms: 4000 })
                .service(Service::Dfs)
                .operation(Operation::Flush)
                .nth([2]),
        ]))
        .unwrap();
    let run = crate::support::spawn_run(&append_job(&h, "raced", ""));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !h.list_files().await.contains(&new_part) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new part never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let theirs = b"{\"written by\": \"another writer\"}\n";
    write_as_another_writer(&h, "sales/_manifest.json", theirs).await;
    let ended = run.wait_with_output().await.unwrap();
    let report = String::from_utf8_lossy(&ended.stdout);
    assert!(!ended.status.success(), "{report}");
    assert!(
        report.contains("changed while this run wrote its parts"),
        "{report}"
    );
    h.emulator.set_faults(FaultPlan::default()).unwrap();
    assert_eq!(h.read_file("sales/_manifest.json").await.unwrap(), theirs);
    assert_eq!(
        h.list_files().await,
        files,
        "the part taken back, nothing left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_rename_responses_of_an_append_are_recognised() {
    let h = Harness::start().await;
    let first = first_run(&h).await;
    let second = generated_csv(200 << 10, 5);
    h.add_dataset(DATASET, &second, OWNER, &[]);
    // Every rename's first answer is lost: the part's and the manifest's retries find no
    // source and this run's file at the destination.
    h.emulator
        .set_faults(FaultPlan::new(vec![
            FaultRule::new(Fault::DropResponse { body_bytes: None })
                .service(Service::Dfs)
                .operation(Operation::Rename)
                .rate(1.0)
                .max(2),
        ]))
        .unwrap();
    let (code, report, stderr) = run_json(&append_job(&h, "lossy", "")).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(h.emulator.fault_counts().drop_response, 2);
    h.emulator.set_faults(FaultPlan::default()).unwrap();
    let manifest = manifest(&h).await;
    let listed = manifest["files"].as_array().unwrap();
    let mut rows = Vec::new();
    for entry in listed {
        let bytes = h.read_file(entry["path"].as_str().unwrap()).await.unwrap();
        assert_eq!(entry["md5"], md5_base64(&bytes).as_str());
        rows.extend_from_slice(rows_of(&bytes));
    }
    assert!(rows == [rows_of(&first), rows_of(&second)].concat());
}
