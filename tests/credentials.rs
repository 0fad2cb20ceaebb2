//! Every credential kind end to end against the emulator: the file lands byte-exact with
//! a SharedKey signature and with SAS tokens, and a wrong key, an expired SAS or a SAS
//! without write permission fails naming its cause, leaving nothing written and no secret in
//! the output.

use std::time::{Duration, SystemTime};

use adls_writeback_emulator::well_known;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::support::{Harness, JobSpec, md5_base64, run_json};

const DATASET: &str = "845305d8-da3d-4107-a9d6-13ef3f86d4a4";
const OWNER: u64 = 27;
const CSV: &[u8] = b"region,amount\nnorth,1\n\"south, far\",2\n";

/// Writes `secret` beside the job `name` and the job, with `account` merged into
/// `[account]`.
fn job_with(h: &Harness, name: &str, account: &str, secret: &str) -> std::path::PathBuf {
    let spec = JobSpec {
        name: name.into(),
        dataset_id: DATASET.into(),
        tables: format!("[account]\n{account}\n"),
        ..Default::default()
    };
    let job = h.write_job(&spec);
    std::fs::write(job.parent().unwrap().join("credential"), secret).unwrap();
    job
}

/// A service SAS for the emulator's container, signed with `key`, as the service (and
/// `generate_file_system_sas`) computes it for version 2023-11-03.
fn container_sas(key: &str, permissions: &str, expiry: SystemTime) -> String {
    let se = humantime::format_rfc3339_seconds(expiry).to_string();
    let resource = format!(
        "/blob/{}/{}",
        well_known::ACCOUNT_NAME,
        well_known::CONTAINER
    );
    let sts = [
        permissions,
        "",
        &se,
        &resource,
        "",
        "",
        "",
        "2023-11-03",
        "c",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ]
    .join("\n");
    let mut mac = Hmac::<Sha256>::new_from_slice(&BASE64.decode(key).unwrap()).unwrap();
    mac.update(sts.as_bytes());
    let sig = BASE64.encode(mac.finalize().into_bytes());
    let sig: String = url::form_urlencoded::byte_serialize(sig.as_bytes()).collect();
    format!("sv=2023-11-03&sr=c&sp={permissions}&se={se}&sig={sig}")
}

fn assert_nothing_secret(text: &str, secret: &str) {
    assert!(
        !text.contains(secret),
        "a credential reached the output:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_key_signs_every_request_and_the_file_lands_byte_exact() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, CSV, OWNER, &[]);
    let account = "auth = \"shared-key\"\naccount_key = { file = \"credential\" }";
    let job = job_with(&h, "shared-key", account, well_known::ACCOUNT_KEY);
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["md5"], md5_base64(CSV));
    assert_eq!(
        h.read_file(&format!("out/{DATASET}.csv")).await.unwrap(),
        CSV
    );
    assert_nothing_secret(&format!("{report}{stderr}"), well_known::ACCOUNT_KEY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_account_key_fails_as_the_service_refuses_it_and_writes_nothing() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, CSV, OWNER, &[]);
    let wrong = BASE64.encode([7u8; 64]);
    let account = "auth = \"shared-key\"\naccount_key = { file = \"credential\" }";
    let job = job_with(&h, "wrong-key", account, &wrong);
    let (code, failure, stderr) = run_json(&job).await;
    assert_eq!(code, 1, "{failure}\n{stderr}");
    assert_eq!(failure["kind"], "storage", "{failure}");
    let message = failure["message"].as_str().unwrap();
    assert!(message.contains("AuthenticationFailed"), "{message}");
    assert!(message.contains("account.account_key"), "{message}");
    assert_nothing_secret(&format!("{failure}{stderr}"), &wrong);
    assert_eq!(h.list_files().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sas_is_appended_by_the_host_and_the_file_lands_byte_exact() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, CSV, OWNER, &[]);
    let in_a_day = SystemTime::now() + Duration::from_secs(86_400);
    let sas = container_sas(well_known::ACCOUNT_KEY, "racwdl", in_a_day);
    let account = "auth = \"sas\"\nsas_token = { file = \"credential\" }";
    let job = job_with(&h, "sas", account, &format!("?{sas}"));
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(
        h.read_file(&format!("out/{DATASET}.csv")).await.unwrap(),
        CSV
    );
    let sig = sas.rsplit("sig=").next().unwrap();
    assert_nothing_secret(&format!("{report}{stderr}"), sig);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_sas_is_refused_before_the_run() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, CSV, OWNER, &[]);
    let yesterday = SystemTime::now() - Duration::from_secs(86_400);
    let sas = container_sas(well_known::ACCOUNT_KEY, "racwdl", yesterday);
    let account = "auth = \"sas\"\nsas_token = { file = \"credential\" }";
    let job = job_with(&h, "expired-sas", account, &sas);
    let (code, answer, stderr) = run_json(&job).await;
    assert_eq!(code, 2, "{answer}\n{stderr}");
    let text = format!("{answer}{stderr}");
    assert!(text.contains("account.sas_token"), "{text}");
    assert!(text.contains("expired at"), "{text}");
    assert_nothing_secret(&text, sas.rsplit("sig=").next().unwrap());
    assert_eq!(h.list_files().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_sas_fails_naming_its_permissions_and_writes_nothing() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, CSV, OWNER, &[]);
    let in_a_day = SystemTime::now() + Duration::from_secs(86_400);
    let sas = container_sas(well_known::ACCOUNT_KEY, "rl", in_a_day);
    let account = "auth = \"sas\"\nsas_token = { file = \"credential\" }";
    let job = job_with(&h, "read-only-sas", account, &sas);
    let (code, failure, stderr) = run_json(&job).await;
    assert_eq!(code, 1, "{failure}\n{stderr}");
    let message = failure["message"].as_str().unwrap();
    assert!(
        message.contains("AuthorizationPermissionMismatch"),
        "{message}"
    );
    assert!(message.contains("permissions (sp)"), "{message}");
    assert_eq!(h.list_files().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sas_signed_with_another_key_is_refused_by_the_emulator() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, CSV, OWNER, &[]);
    let in_a_day = SystemTime::now() + Duration::from_secs(86_400);
    let sas = container_sas(&BASE64.encode([9u8; 64]), "racwdl", in_a_day);
    let account = "auth = \"sas\"\nsas_token = { file = \"credential\" }";
    let job = job_with(&h, "forged-sas", account, &sas);
    let (code, failure, stderr) = run_json(&job).await;
    assert_eq!(code, 1, "{failure}\n{stderr}");
    let message = failure["message"].as_str().unwrap();
    assert!(message.contains("AuthenticationFailed"), "{message}");
    assert!(message.contains("account.sas_token"), "{message}");
    assert_eq!(h.list_files().await, Vec::<String>::new());
}
