//! The audit: `audit` on the built-in guest and the fixtures, its JSON snapshot, the
//! built-in guest's exact imports, and `run --guest` refusing what the audit refuses.

use std::path::Path;

use adls_writeback_emulator::well_known;
use serde_json::Value;

use super::{DATASET, SECRETS, cli_env, fixture, harness, hostile_job, run_guest};
use crate::support::JobSpec;

/// The built-in guest's imports: the contract, and the WASI that Rust's standard library
/// cannot do without. A dependency that drags in more (files, sockets) fails here.
const BUILTIN_IMPORTS: &[&str] = &[
    "adls:writeback/auth@0.1.0",
    "adls:writeback/digest@0.1.0",
    "adls:writeback/errors@0.1.0",
    "adls:writeback/http@0.1.0",
    "adls:writeback/log@0.1.0",
    "adls:writeback/source@0.1.0",
    "adls:writeback/types@0.1.0",
    "wasi:cli/environment@0.2.6",
    "wasi:cli/exit@0.2.6",
    "wasi:cli/stderr@0.2.6",
    "wasi:cli/stdin@0.2.6",
    "wasi:cli/stdout@0.2.6",
    "wasi:cli/terminal-input@0.2.6",
    "wasi:cli/terminal-output@0.2.6",
    "wasi:cli/terminal-stderr@0.2.6",
    "wasi:cli/terminal-stdin@0.2.6",
    "wasi:cli/terminal-stdout@0.2.6",
    "wasi:io/error@0.2.6",
    "wasi:io/poll@0.2.6",
    "wasi:io/streams@0.2.6",
    // std's `HashMap` seed (the Parquet writer's column properties), not entropy the
    // output depends on.
    "wasi:random/insecure-seed@0.2.6",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_importing_what_this_host_refuses_are_neither_accepted_nor_run() {
    let h = harness().await;
    for (name, refused) in [
        ("uses-fs", "wasi:filesystem/preopens@0.2"),
        ("uses-net", "wasi:sockets/tcp@0.2"),
        ("unknown-import", "fixture:spy/exfiltrate"),
    ] {
        let path = fixture(name);
        let (code, stdout, stderr) =
            cli_env(&["audit", path.to_str().unwrap(), "--json"], &[]).await;
        assert_eq!(code, 1, "{name}: {stdout}\n{stderr}");
        let audit: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(audit["verdict"], "refused", "{name}");
        let problems = audit["problems"].to_string();
        assert!(problems.contains(refused), "{name}: {problems}");
        let (code, text, _) = cli_env(&["audit", path.to_str().unwrap()], &[]).await;
        assert_eq!(code, 1);
        assert!(
            text.contains("Verdict    refused") && text.contains("[NO] "),
            "{text}"
        );

        let job = hostile_job(&h, name, "");
        let (code, answer, stderr) = run_guest(&job, &path).await;
        assert_eq!(
            (code, answer["status"].as_str()),
            (2, Some("refused")),
            "{answer}\n{stderr}"
        );
        assert!(answer["problems"].to_string().contains(refused), "{answer}");
        assert!(h.list_files().await.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_accepts_the_builtin_and_hostile_guests_and_shows_a_jobs_grants() {
    let h = harness().await;
    let (code, text, stderr) = cli_env(&["audit"], &[]).await;
    assert_eq!(code, 0, "{text}\n{stderr}");
    assert!(
        text.contains("Verdict    accepted") && text.contains("source   built-in"),
        "{text}"
    );
    let hostile = fixture("hostile");
    let (code, text, _) = cli_env(&["audit", hostile.to_str().unwrap()], &[]).await;
    assert_eq!(code, 0, "{text}");

    let job = h.write_job(&JobSpec {
        dataset_id: DATASET.into(),
        ..Default::default()
    });
    let args = ["audit", "--job", job.to_str().unwrap(), "--json"];
    let (code, stdout, stderr) = cli_env(&args, &[]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let audit: Value = serde_json::from_str(&stdout).unwrap();
    let endpoint = h.emulator.account_endpoint(well_known::ACCOUNT_NAME);
    let origin = endpoint.trim_end_matches(&format!("/{}", well_known::ACCOUNT_NAME));
    assert_eq!(
        audit["job"]["origins"],
        serde_json::json!([origin]),
        "{stdout}"
    );
    assert_eq!(audit["job"]["credential"], "client-secret", "{stdout}");
    assert_eq!(audit["job"]["credential_seen_by_component"], false);
    let auth = audit["imports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "adls:writeback/auth@0.1.0")
        .unwrap();
    assert!(
        auth["policy"]
            .as_str()
            .unwrap()
            .contains("never leaves the host"),
        "{auth}"
    );
    let http = audit["imports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "adls:writeback/http@0.1.0")
        .unwrap();
    assert_eq!(http["grants"], serde_json::json!([origin]));
    for secret in SECRETS {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_json_of_the_builtin_guest_matches_its_snapshot() {
    let (code, stdout, stderr) = cli_env(&["audit", "--json"], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let mut audit: Value = serde_json::from_str(&stdout).unwrap();
    // The hash and size change with every guest build; the rest is the contract.
    audit["component"]["sha256"] = "<sha256>".into();
    audit["component"]["size_bytes"] = 0.into();
    let actual = serde_json::to_string_pretty(&audit).unwrap() + "\n";
    let snapshot =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/snapshots/audit-builtin.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&snapshot, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&snapshot)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 writes it)", snapshot.display()));
    assert!(
        actual == expected,
        "the audit of the built-in guest changed; if that is intended, rerun with \
         UPDATE_SNAPSHOTS=1 and review the diff of {}",
        snapshot.display()
    );
    for secret in SECRETS {
        assert!(!actual.contains(secret));
    }
}

#[test]
fn the_builtin_guest_imports_exactly_its_footprint() {
    let compiled =
        adls_writeback::sandbox::compile(adls_writeback::sandbox::BUILTIN_GUEST, "built-in")
            .unwrap();
    let audit = adls_writeback::sandbox::audit::audit(
        &compiled.engine,
        &compiled.component,
        compiled.info,
        None,
    );
    let imports: Vec<&str> = audit.imports.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        imports, BUILTIN_IMPORTS,
        "the built-in guest's imports changed: a new dependency may pull in WASI interfaces \
         (files, sockets); if the change is intended, update this list and docs/audit.md"
    );
    assert!(audit.accepted(), "{:?}", audit.problems);
}
