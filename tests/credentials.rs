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

pub(crate) const DATASET: &str = "845305d8-da3d-4107-a9d6-13ef3f86d4a4";
pub(crate) const OWNER: u64 = 27;
pub(crate) const CSV: &[u8] = b"region,amount\nnorth,1\n\"south, far\",2\n";

/// Writes `secret` beside the job `name` and the job, with `account` merged into
/// `[account]`.
pub(crate) fn job_with(h: &Harness, name: &str, account: &str, secret: &str) -> std::path::PathBuf {
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
pub(crate) fn container_sas(key: &str, permissions: &str, expiry: SystemTime) -> String {
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

pub(crate) fn assert_nothing_secret(text: &str, secret: &str) {
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

/// A service account token as the kubelet projects it (the emulator checks its claims).
pub(crate) fn service_account_token(subject: &str, expires_in: i64) -> String {
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let header = serde_json::json!({"alg": "RS256", "kid": "emulator"});
    let claims = serde_json::json!({
        "aud": ["api://AzureADTokenExchange"],
        "iss": well_known::FEDERATED_ISSUER,
        "sub": subject,
        "iat": now,
        "exp": now + expires_in,
    });
    format!("{}.{}.c2lnbmF0dXJl", b64(&header), b64(&claims))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_identity_exchanges_the_service_account_token_and_lands_the_file() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, CSV, OWNER, &[]);
    let account = "auth = \"workload-identity\"\nfederated_token_file = \"credential\"";
    let token = service_account_token(well_known::FEDERATED_SUBJECT, 3600);
    let job = job_with(&h, "workload", account, &token);
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(
        h.read_file(&format!("out/{DATASET}.csv")).await.unwrap(),
        CSV
    );
    assert_nothing_secret(&format!("{report}{stderr}"), &token);

    // Another service account: Entra ID's AADSTS70021, nothing written.
    let other = service_account_token("system:serviceaccount:default:intruder", 3600);
    let job = job_with(&h, "workload-other", account, &other);
    let (code, failure, stderr) = run_json(&job).await;
    assert_eq!(code, 1, "{failure}\n{stderr}");
    assert_eq!(failure["kind"], "auth", "{failure}");
    let message = failure["message"].as_str().unwrap();
    assert!(message.contains("AADSTS70021"), "{message}");
    assert!(
        message.contains("system:serviceaccount:default:intruder"),
        "{message}"
    );
    assert_eq!(h.list_files().await, [format!("out/{DATASET}.csv")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_federated_token_file_is_named_before_the_run() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, CSV, OWNER, &[]);
    let account = "auth = \"workload-identity\"\nfederated_token_file = \"no-such-token\"";
    let job = job_with(&h, "workload-missing", account, "");
    let (code, answer, stderr) = run_json(&job).await;
    assert_eq!(code, 2, "{answer}\n{stderr}");
    let text = format!("{answer}{stderr}");
    assert!(text.contains("account.federated_token_file"), "{text}");
    assert!(text.contains("no-such-token"), "{text}");
    assert_eq!(h.list_files().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_from_imds_and_app_service_lands_the_file() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, CSV, OWNER, &[]);
    let imds = format!(
        "{}/metadata/identity/oauth2/token",
        h.emulator.authority_url()
    );
    let account = format!("auth = \"managed-identity\"\nidentity_endpoint = \"{imds}\"");
    let job = job_with(&h, "imds", &account, "");
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(
        h.read_file(&format!("out/{DATASET}.csv")).await.unwrap(),
        CSV
    );

    // App Service / Functions: IDENTITY_ENDPOINT and IDENTITY_HEADER, as the platform sets them.
    let job = job_with(&h, "app-service", "auth = \"managed-identity\"", "");
    let endpoint = format!("{}/msi/token", h.emulator.authority_url());
    let (code, report, stderr) = crate::support::Cli::run_json(&job)
        .env("IDENTITY_ENDPOINT", &endpoint)
        .env("IDENTITY_HEADER", well_known::IDENTITY_HEADER)
        .json()
        .await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_nothing_secret(&format!("{report}{stderr}"), well_known::IDENTITY_HEADER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_identity_endpoint_the_run_fails_naming_it_and_writes_nothing() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, CSV, OWNER, &[]);
    // A loopback port nothing listens on stands for a machine without IMDS.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let endpoint = format!("http://{closed}/metadata/identity/oauth2/token");
    let account = format!("auth = \"managed-identity\"\nidentity_endpoint = \"{endpoint}\"\n");
    let spec_tables = format!("{account}[http]\nmax_retries = 0\n");
    let job = job_with(&h, "no-imds", &spec_tables, "");
    let (code, failure, stderr) = run_json(&job).await;
    assert_eq!(code, 1, "{failure}\n{stderr}");
    assert_eq!(failure["kind"], "auth", "{failure}");
    let message = failure["message"].as_str().unwrap();
    assert!(
        message.contains("cannot reach the managed identity endpoint"),
        "{message}"
    );
    assert!(message.contains(&endpoint), "{message}");
    assert_eq!(h.list_files().await, Vec::<String>::new());
}
