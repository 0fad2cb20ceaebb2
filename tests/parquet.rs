//! Parquet output end to end: a typed Domo dataset exported as Parquet against the
//! emulator and read back with pyarrow (values, types, nulls), a value not of its
//! column's type failing the run with nothing written, and split Parquet parts.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{Harness, JobSpec, md5_base64, run_json};

const DATASET: &str = "3f9d7c2e-5a41-4b8e-9c07-d2b6e1a8f345";
const OWNER: u64 = 27;
const COLUMNS: [(&str, &str); 6] = [
    ("name", "STRING"),
    ("count", "LONG"),
    ("ratio", "DOUBLE"),
    ("amount", "DECIMAL"),
    ("day", "DATE"),
    ("at", "DATETIME"),
];

/// The test venv's Python with pyarrow, made once for the module's tests.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        crate::conformance::python_with_requirements(
            "tests/parquet/requirements.txt",
            "parquet-venv",
        )
    })
}

/// What pyarrow reads from each of `files` (name and bytes): see tests/parquet/read.py.
fn pyarrow_reads(files: &[(&str, Vec<u8>)]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, bytes) in files {
        let path = dir.path().join(name.replace('/', "_"));
        std::fs::write(&path, bytes).unwrap();
        paths.push(path);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/parquet/read.py");
    let out = std::process::Command::new(python())
        .arg(script)
        .args(&paths)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pyarrow could not read the output: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn job(h: &Harness, name: &str, output: &str) -> PathBuf {
    h.write_job(&JobSpec {
        name: name.into(),
        dataset_id: DATASET.into(),
        output: format!("format = \"parquet\"\nselect_filename = \"file-name\"\n{output}"),
        ..Default::default()
    })
}

/// A typed CSV: quoted commas, doubled quotes and newlines, non-ASCII, nulls in every
/// column, negative and fractional numbers, dates and datetimes with and without offsets.
const TYPED_CSV: &str = "\u{feff}name,count,ratio,amount,day,at\r\n\
    \"Zoë, \"\"the\"\" café\nsecond line\",-7,2.5,-1234.5,2024-02-29,2024-02-29T13:45:00.5+01:00\r\n\
    ,,,,,\r\n\
    日本語 ✓,9223372036854775807,1e-3,0.000000001,1969-12-31,2024-01-31 23:59:59\r\n\
    plain,0,-0.25,12345678901234567890123456789.123456789,1970-01-01,1970-01-01T00:00:00Z\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_reads_back_through_pyarrow_with_its_types_and_nulls() {
    typed_export_reads_back("", "SNAPPY").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_parquet_reads_back_through_pyarrow_with_the_same_values() {
    typed_export_reads_back("parquet_compression = \"zstd\"\n", "ZSTD").await;
}

/// Exports the typed dataset with `options` and checks what pyarrow reads: the schema, the
/// pages' `codec` and every value.
async fn typed_export_reads_back(options: &str, codec: &str) {
    let h = Harness::start().await;
    h.add_typed_dataset(DATASET, TYPED_CSV.as_bytes(), OWNER, &COLUMNS);
    let job = job(
        &h,
        "typed",
        &format!("file_name = \"typed.csv\"\n{options}"),
    );
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["path"], "typed.parquet");
    assert_eq!(report["rows"], 4);
    let bytes = h.read_file("typed.parquet").await.unwrap();
    assert_eq!(report["md5"], md5_base64(&bytes));
    let props = h.properties("typed.parquet").await;
    assert_eq!(props["content-type"], "application/vnd.apache.parquet");
    let read = &pyarrow_reads(&[("typed.parquet", bytes)])[0];
    assert_eq!(
        read["schema"],
        serde_json::json!([
            ["name", "string"],
            ["count", "int64"],
            ["ratio", "double"],
            ["amount", "decimal128(38, 9)"],
            ["day", "date32[day]"],
            ["at", "timestamp[us, tz=UTC]"],
        ])
    );
    assert_eq!(read["compression"], codec);
    assert_eq!(
        read["rows"],
        serde_json::json!([
            [
                "Zoë, \"the\" café\nsecond line",
                "-7",
                "2.5",
                "-1234.500000000",
                "2024-02-29",
                "2024-02-29 12:45:00.500000+00:00"
            ],
            [null, null, null, null, null, null],
            [
                "日本語 ✓",
                "9223372036854775807",
                "0.001",
                "1E-9",
                "1969-12-31",
                "2024-01-31 23:59:59+00:00"
            ],
            [
                "plain",
                "0",
                "-0.25",
                "12345678901234567890123456789.123456789",
                "1970-01-01",
                "1970-01-01 00:00:00+00:00"
            ],
        ])
    );
    assert_eq!(h.list_files().await, ["typed.parquet"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_not_of_its_type_fails_naming_line_column_and_value_and_writes_nothing() {
    let h = Harness::start().await;
    let mut csv = TYPED_CSV.to_string();
    csv.push_str("late,12,1.5,3,2024-06-31,2024-06-01T00:00:00\r\n");
    // A first run publishes a file the failing one must leave as it is.
    h.add_typed_dataset(DATASET, TYPED_CSV.as_bytes(), OWNER, &COLUMNS);
    let job = job(&h, "bad", "file_name = \"typed\"\n");
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    let before = h.read_file("typed.parquet").await.unwrap();
    h.add_typed_dataset(DATASET, csv.as_bytes(), OWNER, &COLUMNS);
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 1, "{report}\n{stderr}");
    assert_eq!(report["kind"], "data", "{report}");
    let message = report["message"].as_str().unwrap();
    // The first record spans lines 2 and 3: the bad one is on line 7.
    assert!(message.contains("line 7"), "{message}");
    assert!(
        message.contains("column `day` (DATE) is `2024-06-31`"),
        "{message}"
    );
    assert_eq!(h.read_file("typed.parquet").await.unwrap(), before);
    assert_eq!(h.list_files().await, ["typed.parquet"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_parquet_parts_are_each_a_complete_file_and_the_manifest_lists_them() {
    let h = Harness::start().await;
    let mut csv = String::from("id,label,day\n");
    for i in 0..25_000 {
        let label = if i % 10 == 0 {
            String::new()
        } else {
            format!("\"label, {i}\"")
        };
        csv.push_str(&format!("{i},{label},2024-01-{:02}\n", i % 28 + 1));
    }
    let columns = [("id", "LONG"), ("label", "STRING"), ("day", "DATE")];
    h.add_typed_dataset(DATASET, csv.as_bytes(), OWNER, &columns);
    let job = job(
        &h,
        "split",
        "file_name = \"sales\"\ndirectory = \"parts\"\nmax_rows_per_file = 10000\n\
         parquet_row_group_rows = 4000\nparquet_compression = \"none\"\nmanifest = true\n",
    );
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    let parts = [
        "parts/sales-00001.parquet",
        "parts/sales-00002.parquet",
        "parts/sales-00003.parquet",
    ];
    let mut listed = parts.map(String::from).to_vec();
    listed.push("parts/_manifest.json".into());
    listed.sort();
    assert_eq!(h.list_files().await, listed);
    let manifest: Value =
        serde_json::from_slice(&h.read_file("parts/_manifest.json").await.unwrap()).unwrap();
    assert_eq!(manifest["format"], "parquet");
    assert_eq!(manifest["rows"], 25_000);
    assert_eq!(manifest["schema"][0]["name"], "id");
    assert_eq!(manifest["schema"][0]["source_type"], "LONG");
    assert_eq!(manifest["schema"][2]["parquet_type"], "INT32 (DATE)");
    let mut files = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let bytes = h.read_file(part).await.unwrap();
        let entry = &manifest["files"][i];
        assert_eq!(entry["path"], *part);
        assert_eq!(entry["format"], "parquet");
        assert_eq!(entry["bytes"], bytes.len() as u64);
        assert_eq!(entry["md5"], md5_base64(&bytes).as_str());
        assert_eq!(
            h.properties(part).await["content-type"],
            "application/vnd.apache.parquet"
        );
        files.push((*part, bytes));
    }
    let read = pyarrow_reads(&files);
    let groups: Vec<&Value> = read.iter().map(|r| &r["row_groups"]).collect();
    assert_eq!(
        groups,
        [
            &serde_json::json!([4000, 4000, 2000]),
            &serde_json::json!([4000, 4000, 2000]),
            &serde_json::json!([4000, 1000]),
        ]
    );
    assert!(read.iter().all(|r| r["compression"] == "UNCOMPRESSED"));
    let rows: Vec<&Value> = read
        .iter()
        .flat_map(|r| r["rows"].as_array().unwrap())
        .collect();
    assert_eq!(rows.len(), 25_000);
    for (i, row) in rows.iter().enumerate() {
        let label = match i % 10 {
            0 => Value::Null,
            _ => Value::from(format!("label, {i}")),
        };
        let day = format!("2024-01-{:02}", i % 28 + 1);
        assert_eq!(
            **row,
            serde_json::json!([i.to_string(), label, day]),
            "row {i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parquet_example_runs_against_the_embedded_emulator() {
    let job = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/parquet.toml");
    let (code, report, stderr) = crate::support::Cli::run_json(Path::new(job)).json().await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    let path = report["path"].as_str().unwrap();
    assert!(path.starts_with("sales-parquet/"), "{path}");
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "120 rows in parts of 50: {report}");
    assert_eq!(
        files[0]["path"],
        format!("{path}/sales-00001.parquet").as_str()
    );
    assert_eq!(files[2]["rows"], 20);
    assert_eq!(report["rows"], 120);
}
