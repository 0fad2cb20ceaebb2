//! `account.endpoint`: which endpoint a run writes through, and the Blob path end to end.

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
