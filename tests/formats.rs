//! Output options end to end: name templates, `csv.gz`, split outputs with a manifest,
//! their atomic replace, and what is set on every file, against the emulator.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{Harness, JobSpec, generated_csv, md5_base64, run_json, sha256_base64};

const DATASET: &str = "845305d8-da3d-4107-a9d6-13ef3f86d4a4";
const OWNER: u64 = 27;

fn job(h: &Harness, name: &str, output: &str) -> std::path::PathBuf {
    h.write_job(&JobSpec {
        name: name.into(),
        dataset_id: DATASET.into(),
        output: output.into(),
        ..Default::default()
    })
}

/// `run JOB --json --verify`: the parts read back and checked against the report.
async fn run_verified(job: &std::path::Path) -> (i32, Value, String) {
    crate::support::Cli::new(&[
        std::ffi::OsStr::new("run"),
        job.as_os_str(),
        std::ffi::OsStr::new("--json"),
        std::ffi::OsStr::new("--verify"),
    ])
    .json()
    .await
}

/// The data records of a CSV file (after its BOM and header line; the generated data has
/// no newline inside its header).
fn rows_of(file: &[u8]) -> &[u8] {
    let file = file.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(file);
    let end = file.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    &file[end..]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_template_lands_in_the_run_date_directory() {
    let h = Harness::start().await;
    let csv = generated_csv(10_000, 3);
    h.add_dataset(DATASET, &csv, OWNER, &[]);
    let job = job(
        &h,
        "dated",
        "directory = \"sales/{yyyy}/{mm}/{dd}\"\nselect_filename = \"file-name\"\n\
         file_name = \"{dataset_name}_{date}\"\n",
    );
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    // The run ID starts with the run's start in UTC: 20261128T224100Z-…
    let run_id = report["run_id"].as_str().unwrap();
    let (y, m, d) = (&run_id[0..4], &run_id[4..6], &run_id[6..8]);
    let want = format!("sales/{y}/{m}/{d}/Dataset {DATASET}_{y}-{m}-{d}.csv");
    assert_eq!(report["path"], want.as_str());
    assert_eq!(h.read_file(&want).await.unwrap(), csv);
    assert_eq!(h.list_files().await, [want]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_templates_are_refused_by_field_and_write_nothing() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, &generated_csv(1000, 1), OWNER, &[]);
    for (output, field, words) in [
        (
            "directory = \"sales/{year}\"\n",
            "output.directory",
            "`{year}` is not a token",
        ),
        ("directory = \"../{yyyy}\"\n", "output.directory", "`..`"),
        (
            "select_filename = \"file-name\"\nfile_name = \"x{date\"\n",
            "output.file_name",
            "never closed",
        ),
        ("time_zone = \"Mars/Olympus\"\n", "output.time_zone", "IANA"),
        (
            "format = \"parquet\"\nparquet_compression = \"brotli\"\n",
            "output.parquet_compression",
            "`brotli` is not a Parquet compression",
        ),
        (
            "parquet_row_group_rows = 10\n",
            "output.parquet_row_group_rows",
            "Parquet output only",
        ),
        (
            "format = \"parquet\"\nparquet_row_group_rows = 0\n",
            "output.parquet_row_group_rows",
            "at least 1",
        ),
        (
            "max_rows_per_file = 10\n",
            "output.directory",
            "directory of its own",
        ),
    ] {
        let job = job(&h, "bad", output);
        let (code, report, stderr) = run_json(&job).await;
        assert_eq!(code, 2, "{output}: {report}\n{stderr}");
        let fields = report["problems"]
            .as_array()
            .unwrap_or_else(|| panic!("{output}: {report}"));
        assert!(
            fields
                .iter()
                .any(|f| f["field"] == field && f["message"].as_str().unwrap().contains(words)),
            "{output}: {report}"
        );
    }
    assert_eq!(h.list_files().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_gz_reads_back_through_gzip_as_the_csv_output() {
    let h = Harness::start().await;
    let csv = generated_csv(6 << 20, 11);
    h.add_dataset(DATASET, &csv, OWNER, &[]);
    let job = job(
        &h,
        "gz",
        "select_filename = \"file-name\"\nfile_name = \"sales\"\nformat = \"csv.gz\"\n\
         block_size = 1048576\n",
    );
    let (code, report, stderr) = run_verified(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(report["path"], "sales.csv.gz");
    let gz = h.read_file("sales.csv.gz").await.unwrap();
    assert!(gz.len() < csv.len() / 2, "{} of {}", gz.len(), csv.len());
    assert_eq!(report["bytes"], gz.len() as u64);
    assert_eq!(report["md5"], md5_base64(&gz));
    assert_eq!(report["rows"], report["files"][0]["rows"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.csv.gz");
    std::fs::write(&path, &gz).unwrap();
    let out = std::process::Command::new("gzip")
        .arg("-d")
        .arg("-c")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == csv, "gzip -d gives other bytes than the CSV");
    let props = h.properties("sales.csv.gz").await;
    assert_eq!(props["content-type"], "application/gzip");
    let meta = &props["x-ms-properties"];
    assert_eq!(meta["dataset_id"], DATASET);
    assert_eq!(meta["run_id"], report["run_id"]);
    assert_eq!(meta["rows"], report["rows"].to_string().as_str());
    assert_eq!(meta["sha256"], sha256_base64(&gz).as_str());
    assert_eq!(h.list_files().await, ["sales.csv.gz"]);
}

/// Checks a split output in `dir` against its source and its manifest; returns the parts.
async fn check_split(h: &Harness, dir: &str, csv: &[u8], report: &Value) -> Vec<String> {
    let files = h.list_files().await;
    let parts: Vec<String> = files
        .iter()
        .filter(|f| f.starts_with(&format!("{dir}/sales-")))
        .cloned()
        .collect();
    assert!(parts.len() > 1, "{files:?}");
    assert_eq!(
        files.len(),
        parts.len() + 2,
        "the parts, the manifest and _SUCCESS only: {files:?}"
    );
    let manifest: Value =
        serde_json::from_slice(&h.read_file(&format!("{dir}/_manifest.json")).await.unwrap())
            .unwrap();
    assert_eq!(manifest["run_id"], report["run_id"]);
    assert_eq!(manifest["dataset"]["id"], DATASET);
    assert_eq!(manifest["files"].as_array().unwrap().len(), parts.len());
    assert_eq!(h.read_file(&format!("{dir}/_SUCCESS")).await.unwrap(), b"");
    let header = &csv[..csv.len() - rows_of(csv).len()];
    let mut rows = Vec::new();
    let mut total = 0;
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(part, &format!("{dir}/sales-{:05}.csv", i + 1));
        let bytes = h.read_file(part).await.unwrap();
        assert!(bytes.starts_with(header), "{part} starts with the header");
        let entry = &manifest["files"][i];
        assert_eq!(entry["path"], part.as_str());
        assert_eq!(entry["bytes"], bytes.len() as u64);
        assert_eq!(entry["md5"], md5_base64(&bytes).as_str());
        assert_eq!(entry["sha256"], sha256_base64(&bytes).as_str());
        assert_eq!(entry["format"], "csv");
        assert_eq!(report["files"][i]["path"], part.as_str());
        total += entry["rows"].as_u64().unwrap();
        rows.extend_from_slice(rows_of(&bytes));
    }
    assert_eq!(manifest["rows"], total);
    assert_eq!(report["rows"], total);
    assert!(rows == rows_of(csv), "the parts' rows are the source's");
    parts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_megabytes_split_by_rows_and_by_bytes() {
    let h = Harness::start().await;
    let csv = generated_csv(60 << 20, 5);
    h.add_dataset(DATASET, &csv, OWNER, &[]);
    let common = "select_filename = \"file-name\"\nfile_name = \"sales\"\nmanifest = true\n\
                  success_marker = true\n";
    let by_rows = job(
        &h,
        "rows",
        &format!("{common}directory = \"by-rows\"\nmax_rows_per_file = 250000\n"),
    );
    let (code, report, stderr) = run_verified(&by_rows).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["verified"], true, "every part read back: {report}");
    assert_eq!(report["path"], "by-rows");
    let parts = check_split(&h, "by-rows", &csv, &report).await;
    let manifest: Value =
        serde_json::from_slice(&h.read_file("by-rows/_manifest.json").await.unwrap()).unwrap();
    for entry in &manifest["files"].as_array().unwrap()[..parts.len() - 1] {
        assert_eq!(entry["rows"], 250000);
    }
    for f in h.list_files().await {
        h.delete(&f).await;
    }
    let by_bytes = job(
        &h,
        "bytes",
        &format!("{common}directory = \"by-bytes\"\nmax_bytes_per_file = 16777216\n"),
    );
    let (code, report, stderr) = run_json(&by_bytes).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    let parts = check_split(&h, "by-bytes", &csv, &report).await;
    assert_eq!(parts.len(), 4, "60 MiB in parts of 16 MiB");
    for part in &parts {
        let size = h.read_file(part).await.unwrap().len();
        assert!(size <= 16 << 20, "{part}: {size}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_sees_the_old_parts_or_the_new_during_a_replace() {
    let h = Harness::start().await;
    let csv = generated_csv(8 << 20, 9);
    h.add_dataset(DATASET, &csv, OWNER, &[]);
    let output = |name: &str| {
        format!(
            "directory = \"split\"\nselect_filename = \"file-name\"\nfile_name = \"{name}\"\n\
             max_rows_per_file = 20000\nmanifest = true\nblock_size = 262144\n"
        )
    };
    let (code, report, stderr) = run_json(&job(&h, "old", &output("old"))).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    let old: BTreeSet<String> = h.list_files().await.into_iter().collect();
    let new_job = job(&h, "new", &output("new"));
    let mut run = crate::support::spawn_run(&new_job);
    let mut seen = BTreeSet::new();
    let status = loop {
        let listed: BTreeSet<String> = h.list_files().await.into_iter().collect();
        let visible: BTreeSet<String> = listed
            .into_iter()
            .filter(|f| {
                !f.split('/')
                    .any(|s| s.starts_with('_') && s != "_manifest.json")
            })
            .collect();
        let which = if visible == old {
            "old"
        } else if visible.is_empty() {
            "none"
        } else if visible
            .iter()
            .all(|f| f.starts_with("split/new-") || f == "split/_manifest.json")
        {
            "new"
        } else {
            panic!("a mix of the old and the new output: {visible:?}")
        };
        seen.insert(which);
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
    };
    assert!(status.success());
    let new: BTreeSet<String> = h.list_files().await.into_iter().collect();
    assert!(
        new.iter()
            .all(|f| f.starts_with("split/new-") || f == "split/_manifest.json"),
        "{new:?}"
    );
    assert!(seen.contains("old"), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partitioned_example_runs_against_the_embedded_emulator() {
    let job = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/partitioned.toml");
    let (code, report, stderr) = crate::support::Cli::run_json(std::path::Path::new(job))
        .json()
        .await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    let run_id = report["run_id"].as_str().unwrap();
    let (y, m, d) = (&run_id[0..4], &run_id[4..6], &run_id[6..8]);
    // Paris is ahead of UTC: the directory is the UTC date or the next one.
    let path = report["path"].as_str().unwrap();
    assert!(path >= format!("sales/{y}/{m}/{d}").as_str(), "{path}");
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "120 rows in parts of 50: {report}");
    assert_eq!(
        files[0]["path"],
        format!("{path}/Regional Sales _sample_-00001.csv.gz").as_str()
    );
    assert_eq!(report["rows"], 120);
}

/// `x-ms-permissions` and `x-ms-acl` of `path`, as `getAccessControl` reports them.
async fn access_control(h: &Harness, path: &str) -> (String, String) {
    let response = h
        .client
        .head(format!("{}?action=getAccessControl", h.path_url(path)))
        .bearer_auth(h.storage_token().await)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    let header = |name: &str| {
        let value = response.headers().get(name);
        value
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    (header("x-ms-permissions"), header("x-ms-acl"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_get_the_jobs_permissions_and_acl_and_bad_ones_write_nothing() {
    let h = Harness::start().await;
    let csv = generated_csv(50_000, 9);
    h.add_dataset(DATASET, &csv, OWNER, &[]);
    let reader = "11111111-2222-3333-4444-555555555555";
    let acl = format!("user::rw-,group::r--,other::---,user:{reader}:r--");
    // One file, then a split output (a directory of parts and a manifest).
    for (name, output) in [
        (
            "single",
            "directory = \"secured\"\npermissions = \"0640\"\n".to_string(),
        ),
        (
            "parts",
            format!(
                "directory = \"secured-parts\"\nmax_rows_per_file = 300\nmanifest = true\n\
                 umask = \"0077\"\nacl = \"{acl}\"\n"
            ),
        ),
    ] {
        let (code, report, stderr) = run_json(&job(&h, name, &output)).await;
        assert_eq!(code, 0, "{name}: {report}\n{stderr}");
    }
    let (permissions, _) = access_control(&h, &format!("secured/{DATASET}.csv")).await;
    assert_eq!(permissions, "rw-r-----");
    assert_eq!(
        h.read_file(&format!("secured/{DATASET}.csv"))
            .await
            .unwrap(),
        csv
    );
    let parts: Vec<String> = h
        .list_files()
        .await
        .into_iter()
        .filter(|f| f.starts_with("secured-parts/"))
        .collect();
    assert!(parts.len() > 2, "{parts:?}");
    for part in &parts {
        let (permissions, got) = access_control(&h, part).await;
        // The ACL names a user, so the group bits show the mask, and `+` marks extended entries.
        assert!(got.contains(&format!("user:{reader}:r--")), "{part}: {got}");
        assert!(permissions.starts_with("rw-r--"), "{part}: {permissions}");
    }
    // The umask applies to the directory the run created: 0777 & !0077.
    let (directory, _) = access_control(&h, "secured-parts").await;
    assert!(directory.starts_with("rwx------"), "{directory}");

    // A bad spelling is refused by field before anything is written.
    let before = h.list_files().await;
    for (output, field) in [
        (
            "directory = \"bad\"\npermissions = \"rw-rw-rw\"\n",
            "output.permissions",
        ),
        ("directory = \"bad\"\numask = \"27\"\n", "output.umask"),
        ("directory = \"bad\"\nacl = \"owner::rwx\"\n", "output.acl"),
    ] {
        let (code, answer, stderr) = run_json(&job(&h, "bad-access", output)).await;
        assert_eq!(code, 2, "{answer}\n{stderr}");
        assert!(
            format!("{answer}{stderr}").contains(field),
            "{answer}\n{stderr}"
        );
    }
    assert_eq!(h.list_files().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_killed_runs_left_beside_a_split_output_is_removed() {
    let h = Harness::start().await;
    let csv = generated_csv(20_000, 4);
    h.add_dataset(DATASET, &csv, OWNER, &[]);
    // A run killed while writing, and one killed between the two renames of its swap.
    let token = h.storage_token().await;
    for left in [
        "_split.20260101T000000Z-dead0001.tmp/part-00001.csv",
        "_split.20260101T000000Z-dead0002.old/part-00001.csv",
        "_split.20260101T000000Z-dead0003.tmp.keep/other.csv",
    ] {
        let url = format!("{}?resource=file", h.path_url(left));
        let response = h.client.put(url).bearer_auth(&token).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{left}: {}",
            response.status()
        );
    }
    let output = "directory = \"split\"\nmax_rows_per_file = 100\nmanifest = true\n";
    let (code, report, stderr) = run_json(&job(&h, "leftovers", output)).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    let files = h.list_files().await;
    assert!(
        files
            .iter()
            .all(|f| f.starts_with("split/") || f.contains(".tmp.keep/")),
        "{files:?}"
    );
    let parts = report["files"].as_array().unwrap().len();
    assert_eq!(
        files.len(),
        parts + 2,
        "the parts, the manifest and the unrelated file"
    );
}
