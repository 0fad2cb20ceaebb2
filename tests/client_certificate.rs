//! `auth = "client-certificate"` end to end against the emulator: the host signs an Entra ID
//! client assertion with the app's certificate key and the file lands byte-exact; a
//! certificate not registered for the app is refused with Entra ID's AADSTS700027 and nothing
//! is written; a missing, unreadable or keyless PEM is a validation error naming the field.

use adls_writeback_emulator::well_known;

use crate::credentials::{CSV, DATASET, OWNER, assert_nothing_secret, job_with};
use crate::support::{Harness, md5_base64, run_json};

/// A certificate and key of the same shape as the well-known one, registered nowhere.
const UNREGISTERED: &str = include_str!("support/unregistered-client-certificate.pem");

const ACCOUNT: &str =
    "auth = \"client-certificate\"\nclient_certificate = { file = \"credential\" }";

/// The base64 body of the PEM's private key block: what must never be printed.
fn key_body(pem: &str) -> &str {
    let body = pem.split("-----BEGIN PRIVATE KEY-----").nth(1).unwrap();
    body.trim().lines().nth(1).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_signs_the_assertion_and_the_file_lands_byte_exact() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, CSV, OWNER, &[]);
    let job = job_with(
        &h,
        "certificate",
        ACCOUNT,
        well_known::CLIENT_CERTIFICATE_PEM,
    );
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["md5"], md5_base64(CSV));
    assert_eq!(
        h.read_file(&format!("out/{DATASET}.csv")).await.unwrap(),
        CSV
    );
    let output = format!("{report}{stderr}");
    assert_nothing_secret(&output, key_body(well_known::CLIENT_CERTIFICATE_PEM));
    assert_nothing_secret(&output, "PRIVATE KEY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_not_registered_for_the_app_fails_naming_it_and_writes_nothing() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, CSV, OWNER, &[]);
    let job = job_with(&h, "wrong-certificate", ACCOUNT, UNREGISTERED);
    let (code, failure, stderr) = run_json(&job).await;
    assert_eq!(code, 1, "{failure}\n{stderr}");
    assert_eq!(failure["kind"], "auth", "{failure}");
    let message = failure["message"].as_str().unwrap();
    assert!(message.contains("AADSTS700027"), "{message}");
    assert!(
        message.contains("not registered on application"),
        "{message}"
    );
    assert!(message.contains("account.client_certificate"), "{message}");
    assert_nothing_secret(&format!("{failure}{stderr}"), key_body(UNREGISTERED));
    assert_eq!(h.list_files().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_unreadable_or_keyless_pem_is_named_before_the_run() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, CSV, OWNER, &[]);
    let certificate_only = well_known::CLIENT_CERTIFICATE_PEM
        .split("-----BEGIN PRIVATE KEY-----")
        .next()
        .unwrap();
    let cases = [
        (
            "auth = \"client-certificate\"\nclient_certificate = { file = \"no-such.pem\" }",
            "",
            "no-such.pem",
        ),
        (ACCOUNT, certificate_only, "no private key"),
        (ACCOUNT, "not a PEM file", "no certificate"),
    ];
    for (i, (account, pem, cause)) in cases.into_iter().enumerate() {
        let job = job_with(&h, &format!("bad-pem-{i}"), account, pem);
        let (code, answer, stderr) = run_json(&job).await;
        assert_eq!(code, 2, "{answer}\n{stderr}");
        let text = format!("{answer}{stderr}");
        assert!(text.contains("account.client_certificate"), "{text}");
        assert!(text.contains(cause), "{cause}: {text}");
    }
    assert_eq!(h.list_files().await, Vec::<String>::new());
}
