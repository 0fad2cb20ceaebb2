//! End-to-end: `serve` over the scheduled examples, `run` and `history` (saved accounts in
//! `accounts`), with the real binary against the emulator. The scheduler's timing rules (no overlap,
//! retries, catch-up, shutdown) are tested on a manual clock in
//! `host/src/commands/serve/dispatcher/tests.rs`.
//! The operator's conveniences (next runs, colours, abandoned runs, completions, man pages,
//! the Kubernetes example) are in `operator/`.

mod accounts;
mod operator;

use crate::support::Cli;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use adls_writeback::runner::history::{History, Record};
use tokio::io::AsyncReadExt;

const DATASET: &str = "845305d8-da3d-4107-a9d6-13ef3f86d4a4";

/// The CLI with `env` set (the run history as the test says) and `stdin` fed in.
async fn cli_env(args: &[&str], env: &[(&str, &Path)], stdin: Option<&str>) -> Output {
    let mut cli = Cli::new(args).env_remove("ADLS_WRITEBACK_HISTORY");
    for (name, value) in env {
        cli = cli.env(name, value);
    }
    if let Some(text) = stdin {
        cli = cli.stdin(text);
    }
    cli.output().await
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Polls the history until `done` holds, or panics at the deadline.
async fn wait_for_history(
    path: &Path,
    deadline: Duration,
    done: impl Fn(&[Record]) -> bool,
) -> Vec<Record> {
    let start = Instant::now();
    loop {
        if path.exists() {
            let rows = History::open(path).unwrap().list(None, 100).unwrap();
            if done(&rows) {
                return rows;
            }
        }
        assert!(
            start.elapsed() < deadline,
            "the history did not get there in {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_scheduled_examples_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.sqlite");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/scheduled");
    let jobs = ["sales-every-15-minutes", "sales-weekdays-berlin"];

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_adls-writeback"))
        .args([
            "serve",
            examples.to_str().unwrap(),
            "--poll-secs",
            "1",
            "--grace-secs",
            "30",
        ])
        .env("ADLS_WRITEBACK_HISTORY", &history)
        .env("ADLS_WRITEBACK_ACCOUNTS", dir.path().join("accounts.toml"))
        .env("ADLS_WRITEBACK_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let log = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });

    // A fresh history and a `start` in the past: each job makes one catch-up run at once.
    let finished = |rows: &[Record]| {
        jobs.iter().all(|j| {
            rows.iter()
                .any(|r| r.job == *j && r.status.as_str() != "running")
        })
    };
    let rows = wait_for_history(&history, Duration::from_secs(180), finished).await;

    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .unwrap()
        .unwrap();
    let log = log.await.unwrap();
    assert!(status.success(), "serve exited with {status}:\n{log}");
    assert!(log.contains("stopping"), "{log}");
    // At start, each job's next run, in its zone's wall clock and in UTC.
    let berlin = log
        .lines()
        .find(|l| l.contains("job `sales-weekdays-berlin`"))
        .unwrap_or_else(|| panic!("no start line for the Berlin job:\n{log}"));
    assert!(
        berlin.contains("next run now, catching up (missed ")
            && berlin.contains("; then ")
            && berlin.contains(" 06:00:00 CE")
            && berlin.contains(" UTC"),
        "{berlin}"
    );

    for job in jobs {
        let runs: Vec<&Record> = rows.iter().filter(|r| r.job == job).collect();
        assert_eq!(runs.len(), 1, "{job}: {runs:?}\n{log}");
        let r = runs[0];
        assert_eq!(
            (r.status.as_str(), r.trigger.as_str(), r.attempt),
            ("succeeded", "catch-up", 1),
            "{r:?}\n{log}"
        );
        assert_eq!(r.rows, Some(120));
        assert_eq!(r.bytes, Some(8049));
        assert!(r.md5.as_deref().is_some_and(|m| m.len() == 24), "{r:?}");
        assert!(
            r.component_sha256.as_deref().is_some_and(|s| s.len() == 64),
            "{r:?}"
        );
        assert!(r.scheduled_for.is_some() && r.ended_at.is_some(), "{r:?}");
        assert!(r.error.is_none(), "{r:?}");
    }
    let files: Vec<&str> = rows
        .iter()
        .flat_map(|r| r.files.iter().map(String::as_str))
        .collect();
    assert!(
        files.contains(&"writeback/scheduled/weekdays/regional-sales.csv"),
        "{files:?}"
    );
    assert!(
        files.contains(&format!("writeback/scheduled/every-15-minutes/{DATASET}.csv").as_str()),
        "{files:?}"
    );

    // `history` prints the same rows.
    let env = [("ADLS_WRITEBACK_HISTORY", history.as_path())];
    let output = cli_env(
        &["history", "sales-weekdays-berlin", "--json", "--limit", "5"],
        &env,
        None,
    )
    .await;
    assert!(output.status.success(), "{}", text(&output));
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["status"], "succeeded");
    let table = cli_env(&["history"], &env, None).await;
    let table = text(&table);
    assert!(
        table.contains("catch-up") && table.contains("sales-every-15-minutes"),
        "{table}"
    );
}
