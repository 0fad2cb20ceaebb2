//! The same guest component in another host: the Node.js example (`examples/embed-node/`)
//! transpiles it with jco and exports a local CSV to the emulator; the file it writes must be
//! byte-identical to the one the Rust CLI writes for the same job.
//!
//! Needs Node.js 20+ and npm: the example's pinned packages are installed with `npm ci` on
//! first use, so `cargo test` needs no manual step. Without Node these tests fail, saying so;
//! they do not skip.

use std::path::PathBuf;
use std::process::Command;

use crate::support::{Harness, JobSpec, generated_csv, run_json};
use adls_writeback_emulator::well_known;

/// The environment variable the Node host reads the client secret from.
const SECRET_VAR: &str = "EMBED_NODE_TEST_CLIENT_SECRET";

fn example_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/embed-node"
    ))
}

/// Fails with the set-up step when Node.js or the example's packages are missing.
fn require_node() {
    const SETUP: &str = "install Node.js 20+ and run `npm ci --prefix examples/embed-node` \
                         (from the repository root)";
    let version = Command::new("node").arg("--version").output();
    let version = match version {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => panic!("`node --version` failed ({}): {SETUP}", out.status),
        Err(e) => panic!("cannot run `node` ({e}): {SETUP}"),
    };
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(major >= 20, "Node.js {version} is too old: {SETUP}");
    // Both tests of this binary may get here at once: install once.
    static INSTALL: std::sync::Once = std::sync::Once::new();
    let jco = example_dir().join("node_modules/@bytecodealliance/jco/package.json");
    INSTALL.call_once(|| {
        if !jco.is_file() {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--prefix"])
                .arg(example_dir())
                .status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "`npm ci` failed: {SETUP}"
            );
        }
    });
    assert!(
        jco.is_file(),
        "examples/embed-node/node_modules is missing or incomplete: {SETUP}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_host_writes_the_same_bytes_as_the_rust_host() {
    require_node();
    let h = Harness::start().await;
    let csv = generated_csv(3 << 20, 7);
    let source = h.dir.path().join("tricky.csv");
    std::fs::write(&source, &csv).unwrap();
    // Small blocks, so both hosts send several `send-all` batches of four.
    let output =
        |dir: &str| format!("directory = \"{dir}\"\nblock_size = 262144\nconcurrency = 4\n");

    let job = h.write_job(&JobSpec {
        name: "rust".into(),
        local_file: Some(source.clone()),
        output: output("rust"),
        ..Default::default()
    });
    let (code, rust, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{rust}\n{stderr}");
    assert_eq!(rust["path"], "rust/tricky.csv");

    // The very component the Rust host embeds.
    let component = h.dir.path().join("guest.wasm");
    std::fs::write(&component, adls_writeback::sandbox::BUILTIN_GUEST).unwrap();
    let dfs = h.emulator.account_endpoint(well_known::ACCOUNT_NAME);
    let authority = h.emulator.authority_url();
    let node = tokio::process::Command::new("node")
        .arg(example_dir().join("run.mjs"))
        .arg("--component")
        .arg(&component)
        .args(["--dfs-endpoint", &dfs, "--authority-host", &authority])
        .args([
            "--tenant-id",
            well_known::TENANT_ID,
            "--client-id",
            well_known::CLIENT_ID,
        ])
        .args(["--client-secret-env", SECRET_VAR])
        .args([
            "--account",
            well_known::ACCOUNT_NAME,
            "--container",
            well_known::CONTAINER,
        ])
        .arg("--csv")
        .arg(&source)
        .args([
            "--directory",
            "node",
            "--block-size",
            "262144",
            "--concurrency",
            "4",
        ])
        .args(["--name", "node", "--json"])
        .env(SECRET_VAR, well_known::CLIENT_SECRET)
        .output()
        .await
        .expect("running node");
    let stdout = String::from_utf8_lossy(&node.stdout);
    let stderr = String::from_utf8_lossy(&node.stderr);
    assert!(
        node.status.success(),
        "the Node host failed ({}):\n{stdout}\n{stderr}",
        node.status
    );
    assert!(
        !stdout.contains(well_known::CLIENT_SECRET) && !stderr.contains(well_known::CLIENT_SECRET),
        "the Node host printed the client secret"
    );
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
    assert_eq!(report["path"], "node/tricky.csv");
    for key in ["rows", "bytes", "blocks", "md5", "ownership"] {
        assert_eq!(
            report[key], rust[key],
            "`{key}` differs:\nnode: {report}\nrust: {rust}"
        );
    }
    assert!(rust["blocks"].as_u64().unwrap() > 4, "{rust}");

    let from_rust = h
        .read_file("rust/tricky.csv")
        .await
        .expect("the Rust host's file");
    let from_node = h
        .read_file("node/tricky.csv")
        .await
        .expect("the Node host's file");
    assert!(
        from_rust == csv,
        "the Rust host's file differs from the source"
    );
    assert!(
        from_node == from_rust,
        "the Node host's file differs from the Rust host's ({} vs {} bytes)",
        from_node.len(),
        from_rust.len()
    );
    assert_eq!(
        h.list_files().await,
        ["node/tricky.csv", "rust/tricky.csv"],
        "no temporary file left"
    );
}

/// The Node host's own tests: its origin and scope policy, and that `send-all` runs
/// concurrently and answers in order.
#[test]
fn node_host_policy_tests_pass() {
    require_node();
    let out = Command::new("node")
        .args(["--test", "test/"])
        .current_dir(example_dir())
        .output()
        .expect("running node --test");
    assert!(
        out.status.success(),
        "node --test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Node host signs with the account key (SharedKey) and appends a SAS, as the Rust host
/// does: the emulator checks both, the file lands byte-exact, and no secret is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_host_writes_with_an_account_key_and_a_sas() {
    require_node();
    let h = Harness::start().await;
    let csv = generated_csv(300_000, 11);
    let source = h.dir.path().join("keyed.csv");
    std::fs::write(&source, &csv).unwrap();
    let component = h.dir.path().join("guest.wasm");
    std::fs::write(&component, adls_writeback::sandbox::BUILTIN_GUEST).unwrap();
    let dfs = h.emulator.account_endpoint(well_known::ACCOUNT_NAME);
    let hour = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    let sas = crate::credentials::container_sas(well_known::ACCOUNT_KEY, "racwdl", hour);
    for (auth, secret, dir) in [
        ("shared-key", well_known::ACCOUNT_KEY, "keyed"),
        ("sas", sas.as_str(), "sas"),
    ] {
        let node = tokio::process::Command::new("node")
            .arg(example_dir().join("run.mjs"))
            .arg("--component")
            .arg(&component)
            .args(["--auth", auth, "--secret-env", SECRET_VAR])
            .args(["--dfs-endpoint", &dfs])
            .args(["--account", well_known::ACCOUNT_NAME])
            .args(["--container", well_known::CONTAINER])
            .arg("--csv")
            .arg(&source)
            .args(["--directory", dir, "--block-size", "65536", "--json"])
            .env(SECRET_VAR, secret)
            .output()
            .await
            .expect("running node");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&node.stdout),
            String::from_utf8_lossy(&node.stderr),
        );
        assert!(node.status.success(), "{auth}: {stdout}\n{stderr}");
        let signature = secret.rsplit("sig=").next().unwrap();
        for text in [&stdout, &stderr] {
            assert!(
                !text.contains(secret) && !text.contains(signature),
                "{auth}: {text}"
            );
        }
        let file = format!("{dir}/keyed.csv");
        assert_eq!(h.read_file(&file).await.unwrap(), csv, "{auth}");
    }
    // A wrong key is refused by the service, explained, and writes nothing.
    let wrong = "d3Jvbmcta2V5LW9mLXRoZS1yaWdodC1sZW5ndGgtZm9yLWEtdGVzdA==";
    let node = tokio::process::Command::new("node")
        .arg(example_dir().join("run.mjs"))
        .arg("--component")
        .arg(&component)
        .args(["--auth", "shared-key", "--secret-env", SECRET_VAR])
        .args(["--dfs-endpoint", &dfs])
        .args(["--account", well_known::ACCOUNT_NAME])
        .args(["--container", well_known::CONTAINER])
        .arg("--csv")
        .arg(&source)
        .args(["--directory", "wrong", "--json"])
        .env(SECRET_VAR, wrong)
        .output()
        .await
        .expect("running node");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&node.stdout),
        String::from_utf8_lossy(&node.stderr)
    );
    assert_eq!(node.status.code(), Some(1), "{out}");
    assert!(out.contains("AuthenticationFailed"), "{out}");
    assert!(!out.contains(wrong), "{out}");
    assert_eq!(h.list_files().await, ["keyed/keyed.csv", "sas/keyed.csv"]);
}
