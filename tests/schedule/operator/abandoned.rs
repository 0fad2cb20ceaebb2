//! A run killed with SIGKILL leaves its history row `running`; the next `history` (or
//! `run`, or `serve`) finds its process gone and marks it `abandoned`, keeping the last
//! progress the run recorded.

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use adls_writeback::runner::history::{History, Record};
use adls_writeback_emulator::{
    Emulator, EmulatorConfig, Fault, FaultPlan, FaultRule, Operation, well_known,
};

use serde::Serialize;

use crate::schedule::{cli_env, text};
use crate::support::{AccountTable, SecretFile, SourceTable};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_is_marked_abandoned_with_its_last_progress() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(EmulatorConfig::well_known(dir.path().join("emulator")))
        .await
        .unwrap();
    // Every append goes through; the flush answers only after two minutes, so the run
    // is caught after its progress and before its outcome.
    let slow_flush = FaultRule::new(Fault::Slow { ms: 120_000 }).operation(Operation::Flush);
    emulator
        .set_faults(FaultPlan::new(vec![slow_flush]))
        .unwrap();

    let rows: u64 = 20_000;
    let mut csv = String::from("id,name,amount\n");
    for i in 0..rows {
        csv.push_str(&format!("{i},name {i},{}.{:02}\n", i * 7, i % 100));
    }
    std::fs::write(dir.path().join("rows.csv"), &csv).unwrap();
    std::fs::write(dir.path().join("secret"), well_known::CLIENT_SECRET).unwrap();
    let job = dir.path().join("killed.toml");
    let mut output = toml::Table::new();
    output.insert("directory".into(), "killed".into());
    output.insert("block_size".into(), 65536.into());
    output.insert("concurrency".into(), 2.into());
    let document = KilledJob {
        name: "killed",
        account: AccountTable {
            client_id: well_known::CLIENT_ID.into(),
            tenant_id: well_known::TENANT_ID.into(),
            client_secret: SecretFile::named("secret"),
            account_name: well_known::ACCOUNT_NAME.into(),
            container: well_known::CONTAINER.into(),
            dfs_endpoint: Some(emulator.account_endpoint(well_known::ACCOUNT_NAME)),
            authority_host: Some(emulator.authority_url()),
        },
        source: SourceTable {
            kind: "file",
            dataset_id: None,
            path: Some("rows.csv".into()),
            domo: None,
        },
        output,
    };
    std::fs::write(&job, toml::to_string(&document).unwrap()).unwrap();
    let history = dir.path().join("history.sqlite");
    let mut child = spawn_run(&job, &history);
    let pid = child.id().unwrap();
    let seen = wait_for_progress(&history, rows).await;
    assert_eq!(seen.pid, Some(pid), "{seen:?}");
    assert!(
        seen.host.is_some() && seen.progress_at.is_some(),
        "{seen:?}"
    );
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    // Nothing else has looked at the database since: still `running`.
    let before = History::open(&history)
        .unwrap()
        .list(Some("killed"), 1)
        .unwrap();
    assert_eq!(before[0].status.as_str(), "running");

    let env = [("ADLS_WRITEBACK_HISTORY", history.as_path())];
    let listed = cli_env(&["history", "killed", "--json"], &env, None).await;
    assert!(listed.status.success(), "{}", text(&listed));
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(
        stderr.contains("abandoned") && stderr.contains(&format!("process {pid}")),
        "a warning says so: {stderr}"
    );
    let value: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let row = &value[0];
    assert_eq!(row["status"], "abandoned", "{row}");
    assert_eq!(row["rows"], serde_json::json!(seen.rows), "{row}");
    assert_eq!(row["bytes"], serde_json::json!(seen.bytes), "{row}");
    assert_eq!(
        row["ended_at"],
        serde_json::json!(seen.progress_at),
        "{row}"
    );
    let error = row["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("last progress {} rows", seen.rows.unwrap())),
        "{error}"
    );

    // Once only: a second look changes nothing and warns no more.
    let again = cli_env(&["history", "killed", "--json"], &env, None).await;
    assert!(!String::from_utf8_lossy(&again.stderr).contains("abandoned"));
    let table = text(&cli_env(&["history"], &env, None).await);
    assert!(table.contains("abandoned"), "{table}");

    // `run` looks too: kill a second run, lift the fault, and the next run marks it.
    let mut child = spawn_run(&job, &history);
    let second = wait_for_progress(&history, rows).await;
    assert_ne!(second.run_id, seen.run_id);
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    emulator.set_faults(FaultPlan::default()).unwrap();
    let run = cli_env(&["run", job.to_str().unwrap()], &env, None).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        text(&run).contains(&format!("run {}: abandoned", second.run_id)),
        "{}",
        text(&run)
    );
    let all = History::open(&history)
        .unwrap()
        .list(Some("killed"), 10)
        .unwrap();
    let statuses: Vec<&str> = all.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["succeeded", "abandoned", "abandoned"], "{all:?}");
    emulator.shutdown().await;
}

/// The job file of the killed run: a local file to the test's emulator.
#[derive(Serialize)]
struct KilledJob {
    name: &'static str,
    account: AccountTable,
    source: SourceTable,
    output: toml::Table,
}

fn spawn_run(job: &Path, history: &Path) -> tokio::process::Child {
    crate::support::Cli::new(&[OsStr::new("run"), job.as_os_str()])
        .env("ADLS_WRITEBACK_HISTORY", history)
        .quiet()
        .spawn()
}

/// The newest row once it is `running` with at least `rows` rows appended (the last
/// progress before the flush).
async fn wait_for_progress(history: &Path, rows: u64) -> Record {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if history.exists() {
            let newest = History::open(history)
                .unwrap()
                .list(Some("killed"), 1)
                .unwrap();
            if let Some(r) = newest.into_iter().next()
                && r.status.as_str() == "running"
                && r.rows.is_some_and(|n| n >= rows)
            {
                return r;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the run never reported its progress"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
