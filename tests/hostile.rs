//! Hostile guests and the audit: each fixture of `fixtures/` is stopped or refused with a
//! clear error, the host stays healthy and runs the next job normally, and `audit` tells
//! which components this host would run.

mod audit;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Cli, Harness, JobSpec};
use adls_writeback_emulator::well_known;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const DATASET: &str = "845305d8-da3d-4107-a9d6-13ef3f86d4a4";
pub const OWNER: u64 = 27;
pub const SECRETS: [&str; 3] = [
    well_known::CLIENT_SECRET,
    well_known::DOMO_CLIENT_SECRET,
    well_known::DOMO_DEVELOPER_TOKEN,
];

/// A fixture component built by the host's build script.
pub fn fixture(name: &str) -> PathBuf {
    let path = Path::new(env!("ADLS_WRITEBACK_FIXTURES_DIR")).join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "fixture {} missing: the host's build script builds it unless ADLS_WRITEBACK_GUEST_WASM is set",
        path.display()
    );
    path
}

/// `adls-writeback ARGS` with extra environment variables: exit code, stdout, stderr.
pub async fn cli_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cli = Cli::new(args).env_remove("ADLS_WRITEBACK_HISTORY");
    for (name, value) in env {
        cli = cli.env(name, value);
    }
    cli.text().await
}

/// `run JOB --guest COMPONENT --json`: exit code, the JSON printed, stderr.
pub async fn run_guest(job: &Path, guest: &Path) -> (i32, Value, String) {
    let args = [
        "run",
        job.to_str().unwrap(),
        "--guest",
        guest.to_str().unwrap(),
        "--json",
    ];
    let (code, stdout, stderr) = cli_env(&args, &[]).await;
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (code, json, stderr)
}

/// A job named after the hostile behaviour it selects, with extra top-level TOML.
pub fn hostile_job(h: &Harness, behaviour: &str, top: &str) -> PathBuf {
    h.write_job(&JobSpec {
        name: behaviour.into(),
        dataset_id: DATASET.into(),
        top: top.into(),
        // Small blocks, so a 32 MiB cap is one the job may set (validation sizes the cap
        // from block_size × concurrency).
        output: "directory = \"out\"\nblock_size = 65536\nconcurrency = 1\n".into(),
        ..Default::default()
    })
}

pub async fn harness() -> Harness {
    let h = Harness::start().await;
    h.add_dataset(DATASET, b"a,b\n1,2\n", OWNER, &[]);
    h
}

/// Runs the hostile `behaviour`; asserts it failed with `kind` and a message holding every
/// needle, wrote nothing and took less than `within`. Returns the failure and stderr.
async fn expect_failure(
    h: &Harness,
    behaviour: &str,
    top: &str,
    kind: &str,
    needles: &[&str],
    within: Duration,
) -> (Value, String) {
    let job = hostile_job(h, behaviour, top);
    let started = Instant::now();
    let (code, failure, stderr) = run_guest(&job, &fixture("hostile")).await;
    let elapsed = started.elapsed();
    assert_eq!(code, 1, "{behaviour}: {failure}\n{stderr}");
    assert_eq!(failure["kind"], kind, "{behaviour}: {failure}");
    let message = failure["message"].as_str().unwrap();
    for needle in needles {
        assert!(
            message.contains(needle),
            "{behaviour}: `{needle}` not in `{message}`"
        );
    }
    assert!(elapsed < within, "{behaviour} took {elapsed:?}");
    assert!(h.list_files().await.is_empty(), "{behaviour} left a file");
    (failure, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_is_stopped_at_the_time_limit() {
    let h = harness().await;
    let top = "[limits]\ntimeout_secs = 2\n";
    let needles = ["time limit of 2 s", "[limits] timeout_secs"];
    let within = Duration::from_secs(20);
    expect_failure(&h, "endless-loop", top, "sandbox", &needles, within).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_is_stopped_at_the_memory_cap() {
    let h = harness().await;
    let top = "[limits]\nmemory_mib = 32\n";
    let needles = [
        "memory limit of 32 MiB reached: lower output.block_size × output.concurrency or raise \
         limits.memory_mib",
    ];
    let within = Duration::from_secs(20);
    expect_failure(&h, "memory-bomb", top, "sandbox", &needles, within).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_held_by_the_host_count_against_the_memory_cap() {
    let h = harness().await;
    let top = "[limits]\nmemory_mib = 32\n";
    let needles = [
        "memory limit of 32 MiB reached: lower output.block_size × output.concurrency or raise \
         limits.memory_mib",
        "request bodies the host holds for it",
    ];
    let within = Duration::from_secs(20);
    expect_failure(&h, "body-bomb", top, "sandbox", &needles, within).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fuel_budget_stops_a_busy_guest_and_a_large_one_lets_a_real_run_finish() {
    let h = harness().await;
    let top = "[limits]\nfuel = 50000000\ntimeout_secs = 120\n";
    let needles = ["fuel budget of 50000000", "[limits] fuel"];
    let within = Duration::from_secs(60);
    expect_failure(&h, "endless-loop", top, "sandbox", &needles, within).await;

    // The built-in guest with too little fuel is stopped too; with enough, it finishes.
    let tight = hostile_job(&h, "tight", "[limits]\nfuel = 1000\n");
    let (code, failure, _) = crate::support::run_json(&tight).await;
    assert_eq!(
        (code, failure["kind"].as_str()),
        (1, Some("sandbox")),
        "{failure}"
    );
    let roomy = hostile_job(&h, "roomy", "[limits]\nfuel = 100000000000\n");
    let (code, report, stderr) = crate::support::run_json(&roomy).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_origins_the_job_does_not_name_are_denied() {
    let h = harness().await;
    let endpoint = h.emulator.account_endpoint(well_known::ACCOUNT_NAME);
    let (scheme, rest) = endpoint.split_once("://").unwrap();
    let authority = rest.split('/').next().unwrap();
    let port: u16 = authority.rsplit_once(':').unwrap().1.parse().unwrap();
    let other_scheme = if scheme == "https" { "http" } else { "https" };
    let denied = [
        "https://evil.example/".to_string(),
        format!("{other_scheme}://{authority}/"),
        format!("{scheme}://127.0.0.1:{}/", port + 1),
        format!("{scheme}://localhost:{port}/"),
        format!("{scheme}://{authority}@evil.example/"),
        "pipeline".to_string(),
        "is not an origin this job grants".to_string(),
        "request denied by the sandbox".to_string(),
    ];
    let needles: Vec<&str> = denied.iter().map(String::as_str).collect();
    let within = Duration::from_secs(30);
    expect_failure(&h, "forbidden-url", "", "http", &needles, within).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_returned_to_the_guest_and_never_followed() {
    let h = harness().await;
    // `elsewhere` counts the connections it gets; `redirector` sends everyone there.
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere_url = format!("http://{}/stolen", elsewhere.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = elsewhere.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    let redirector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirector_url = format!("http://{}", redirector.local_addr().unwrap());
    let location = elsewhere_url.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = redirector.accept().await {
            let mut request = vec![0; 4096];
            let _ = socket.read(&mut request).await;
            let answer = format!(
                "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    let job = hostile_job(&h, "redirect", "");
    let text = std::fs::read_to_string(&job).unwrap();
    let endpoint = h.emulator.account_endpoint(well_known::ACCOUNT_NAME);
    std::fs::write(&job, text.replace(&endpoint, &redirector_url)).unwrap();
    let (code, failure, stderr) = run_guest(&job, &fixture("hostile")).await;
    assert_eq!(
        (code, failure["kind"].as_str()),
        (1, Some("storage")),
        "{failure}\n{stderr}"
    );
    let message = failure["message"].as_str().unwrap();
    assert!(
        message.contains("(302)") && message.contains(&elsewhere_url),
        "{message}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect was followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_credentials_and_datasets_the_job_does_not_grant_are_refused() {
    let h = harness().await;
    let within = Duration::from_secs(30);
    let needles = [
        "the request sets `Authorization`",
        "the component never holds a credential",
    ];
    expect_failure(&h, "own-credential", "", "http", &needles, within).await;
    let needles = [
        "00000000-0000-0000-0000-000000000000",
        "not the one this job names",
    ];
    expect_failure(&h, "other-dataset", "", "source", &needles, within).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_and_exits_are_reported_in_words() {
    let h = harness().await;
    let within = Duration::from_secs(30);
    let needles = ["the component panicked", "hostile guest panics on purpose"];
    expect_failure(&h, "panic", "", "sandbox", &needles, within).await;
    // WASI 0.2 has no exit codes: `exit(3)` arrives as a failed exit, status 1.
    let needles = ["exited with status 1"];
    expect_failure(&h, "exit", "", "sandbox", &needles, within).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_that_breaks_the_contract_is_not_trusted() {
    let h = harness().await;
    let needles = [
        "breaks the contract",
        "path `../../etc/passwd`",
        "file_system `someone-elses-filesystem`",
        "url `https://evil.example/exfiltrated`",
        "md5",
        "rows",
        "dataset_name",
    ];
    let within = Duration::from_secs(30);
    let (failure, _) = expect_failure(&h, "malformed", "", "contract", &needles, within).await;
    assert!(
        failure["message"].as_str().unwrap().len() < 4000,
        "{failure}"
    );

    // A guest's error text is data: capped, with its escapes and newlines made visible.
    let needles = ["\\u{1b}[2J", "[cut]"];
    let (failure, _) =
        expect_failure(&h, "malformed-error", "", "ownership", &needles, within).await;
    let message = failure["message"].as_str().unwrap();
    assert!(message.len() < 40_000, "{} bytes", message.len());
    assert!(!message.contains('\u{1b}') && !message.contains('\n'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_flood_is_bounded_and_counted() {
    let h = harness().await;
    let needles = ["log flood finished"];
    let within = Duration::from_secs(120);
    let (_, stderr) = expect_failure(&h, "log-flood", "", "ownership", &needles, within).await;
    let lines = stderr.matches("flood line").count();
    assert!(
        (9_000..=10_000).contains(&lines),
        "{lines} flood lines kept"
    );
    assert!(stderr.len() < 4 << 20, "stderr is {} bytes", stderr.len());
    assert!(
        stderr.contains("990064 more log lines from the component were dropped"),
        "{}",
        &stderr[stderr.len().saturating_sub(2000)..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_and_no_credential_reaches_the_guest() {
    let h = harness().await;
    let guest = fixture("hostile");
    // A bearer token (the default) and an account key: the guest's request is authorized
    // either way, and what it can dump holds neither.
    let kinds = [
        ("dump", ""),
        (
            "dump-keyed",
            "[account]\nauth = \"shared-key\"\naccount_key = { file = \"account-key\" }\n",
        ),
    ];
    for (name, tables) in kinds {
        let job = h.write_job(&JobSpec {
            name: "dump".into(),
            dataset_id: DATASET.into(),
            with_instance: true,
            tables: tables.into(),
            ..Default::default()
        });
        std::fs::write(
            job.parent().unwrap().join("account-key"),
            well_known::ACCOUNT_KEY,
        )
        .unwrap();
        let args = [
            "run",
            job.to_str().unwrap(),
            "--guest",
            guest.to_str().unwrap(),
        ];
        let env = [
            ("AZURE_CLIENT_SECRET", well_known::CLIENT_SECRET),
            ("DOMO_CLIENT_SECRET", well_known::DOMO_CLIENT_SECRET),
        ];
        let (code, stdout, stderr) = cli_env(&args, &env).await;
        assert_eq!(code, 1, "{name}: {stdout}\n{stderr}");
        for seen in [
            "DUMP job: Job {",
            "DUMP env: []",
            "DUMP args: []",
            "DUMP dataset: Ok(",
            "DUMP auth: Ok(1)",
            "DUMP request: Request {",
            // The host authorized the listing the guest sent without a credential.
            "DUMP response: 200",
        ] {
            assert!(stderr.contains(seen), "{name}: `{seen}` not in:\n{stderr}");
        }
        for secret in SECRETS.iter().chain(&[well_known::ACCOUNT_KEY]) {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "{name}: a secret reached the guest"
            );
        }
        // No token (a JWT starts `eyJ`), signature or authorization header either.
        for credential in ["eyJ", "Bearer ", "SharedKey ", "authorization", "x-ms-date"] {
            assert!(
                !stderr.to_lowercase().contains(&credential.to_lowercase()),
                "{name}: `{credential}` reached the guest:\n{stderr}"
            );
        }
    }
}

/// One process runs each hostile behaviour, then a real export with the built-in guest, and
/// the hostile sandbox still answers afterwards: nothing a guest does harms the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_runs_the_next_job_normally_after_each_hostile_one() {
    use adls_writeback::job::JobFile;
    use adls_writeback::runner::{RunOptions, Runner};
    use adls_writeback::sandbox::Sandbox;

    let h = harness().await;
    let hostile = Runner::new(Sandbox::from_file(&fixture("hostile")).unwrap()).unwrap();
    let builtin = Runner::new(Sandbox::builtin().unwrap()).unwrap();
    let load = |path: &Path| JobFile::load(path).unwrap().resolve().0;
    let normal = load(&h.write_job(&JobSpec {
        name: "normal".into(),
        dataset_id: DATASET.into(),
        ..Default::default()
    }));
    let behaviours = [
        ("endless-loop", "[limits]\ntimeout_secs = 2\n"),
        ("memory-bomb", "[limits]\nmemory_mib = 32\n"),
        ("body-bomb", "[limits]\nmemory_mib = 32\n"),
        ("endless-loop", "[limits]\nfuel = 50000000\n"),
        ("panic", ""),
        ("exit", ""),
        ("malformed", ""),
        ("log-flood", ""),
        ("forbidden-url", ""),
        ("own-credential", ""),
    ];
    for (i, (behaviour, top)) in behaviours.into_iter().enumerate() {
        let job = load(&hostile_job(&h, behaviour, top));
        let outcome = hostile
            .run(&job, &format!("hostile-{i}"), RunOptions::default())
            .await;
        let failure = outcome.unwrap().expect_err(behaviour);
        assert!(!failure.message.is_empty(), "{behaviour}");
        assert!(hostile.validate(&job, Vec::new()).await.unwrap().is_empty());

        let run_id = format!("normal-{i}");
        let report = builtin
            .run(&normal, &run_id, RunOptions::default())
            .await
            .unwrap();
        let report = report.unwrap_or_else(|f| panic!("after {behaviour}: {f}"));
        assert_eq!(report.rows, 1, "after {behaviour}");
    }
}
