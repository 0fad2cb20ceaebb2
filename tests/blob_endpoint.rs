//! `account.endpoint`: which endpoint a run writes through, and what a Blob run's errors
//! point at.

use adls_writeback_emulator::well_known;

use crate::support::azurite::ACCOUNT;
use crate::support::blob::{BlobClient, SharedKeyJob, flat_emulator};
use crate::support::{Harness, JobSpec, md5_base64, run_json};

const DATASET: &str = "4b1c2a7e-0d5f-4e8a-9c3b-6f1e2d3c4b5a";
const OWNER: u64 = 27;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_picks_dfs_for_the_emulators_hierarchical_account() {
    let h = Harness::start().await;
    let csv = b"id,name\n1,alpha\n2,beta\n".to_vec();
    h.add_dataset(DATASET, &csv, OWNER, &[]);
    let job = h.write_job(&JobSpec {
        dataset_id: DATASET.into(),
        ..Default::default()
    });
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["endpoint"], "dfs", "{report}");
    assert_eq!(report["md5"], md5_base64(&csv));
    assert_eq!(
        h.read_file(&format!("out/{DATASET}.csv")).await.unwrap(),
        csv
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_endpoint_choice_fails_before_anything_is_written() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, b"id\n1\n", OWNER, &[]);
    let job = h.write_job(&JobSpec {
        dataset_id: DATASET.into(),
        tables: "[account]\nendpoint = \"adls\"\n".into(),
        ..Default::default()
    });
    let (code, report, stderr) = run_json(&job).await;
    assert_ne!(code, 0, "{report}");
    let text = format!("{report}{stderr}");
    assert!(text.contains("account.endpoint"), "{text}");
    assert!(h.list_files().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_run_into_a_missing_container_names_the_blob_endpoint_and_the_container() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = flat_emulator(dir.path(), "exports").await;
    let url = emulator.account_endpoint(ACCOUNT);
    for update in ["replace", "append"] {
        let job = SharedKeyJob {
            account_url: &url,
            key: well_known::ACCOUNT_KEY,
            container: "missing",
            update,
            block_size: 65536,
        }
        .write(dir.path(), b"id,name\n1,alpha\n");
        let (code, failure, stderr) = run_json(&job).await;
        assert_eq!(code, 1, "{update}: {failure}\n{stderr}");
        let message = failure["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("account.blob_endpoint") && message.contains("container `missing`"),
            "{update}: {failure}"
        );
        assert!(!message.contains("dfs_endpoint"), "{update}: {failure}");
        assert!(
            message.starts_with("put block failed"),
            "{update}: {failure}"
        );
    }
    let client = BlobClient::new(&url, ACCOUNT, well_known::ACCOUNT_KEY);
    let listed = client.get("?comp=list", &[]).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert!(
        !listed.text().contains("<Name>missing</Name>"),
        "{}",
        listed.text()
    );
}
