//! `adls-writeback serve JOBS_DIR`: runs every job file in a folder on its schedule until
//! SIGTERM or Ctrl-C (see [`crate::commands::serve::dispatcher`] for the rules).

pub mod dispatcher;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Args;

use crate::commands::serve::dispatcher::{AttemptRequest, Config, Dispatcher, RunFn};
use crate::runner::attempts::{Summary, summarize};
use crate::runner::clock::SystemClock;
use crate::runner::history::History;
use crate::runner::{RunOptions, Runner};
use crate::sandbox::Sandbox;

/// Options of `adls-writeback serve`.
#[derive(Debug, Args)]
#[command(after_help = "\
Every *.toml file directly in JOBS_DIR is a job; its [schedule] table says when it runs
(none: manual, run it with `adls-writeback run`). The folder is checked for changes every
--poll-secs. Each attempt reads its job file afresh and is recorded in the run history
(`adls-writeback history`). SIGTERM or Ctrl-C stops starting runs, gives running ones
--grace-secs to finish, then cancels them (nothing partial is published). See
docs/scheduling.md.")]
pub struct ServeArgs {
    /// The folder of job files.
    pub jobs_dir: PathBuf,
    /// Runs in flight at once, across all jobs.
    #[arg(long, default_value_t = 2)]
    pub max_concurrent: usize,
    /// Seconds running jobs get to finish after SIGTERM, before they are cancelled.
    #[arg(long, default_value_t = 120)]
    pub grace_secs: u32,
    /// Seconds between checks of the folder for new, changed or removed job files.
    #[arg(long, default_value_t = 5)]
    pub poll_secs: u32,
}

/// Serves until a stop signal; exit code 0 after a clean stop.
pub async fn main(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let history = History::open_default()?.ok_or_else(|| {
        anyhow::anyhow!("`serve` needs the run history: ADLS_WRITEBACK_HISTORY is `off`")
    })?;
    tracing::info!(
        "serving {} (history {}); stop with SIGTERM or Ctrl-C",
        args.jobs_dir.display(),
        history.path().display()
    );
    let runner = Arc::new(Runner::new(Sandbox::builtin()?)?);
    let config = Config {
        jobs_dir: args.jobs_dir,
        max_concurrent: args.max_concurrent.max(1),
        grace: chrono::Duration::seconds(args.grace_secs.into()),
        poll: chrono::Duration::seconds(args.poll_secs.max(1).into()),
    };
    let dispatcher = Dispatcher::new(
        config,
        Arc::new(SystemClock),
        Arc::new(history),
        sandboxed(runner),
    );
    dispatcher
        .serve(async {
            if let Err(e) = crate::runner::recorded::stop_signal().await {
                tracing::error!("cannot listen for stop signals: {e}");
                std::future::pending::<()>().await;
            }
        })
        .await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The runner `serve` gives the dispatcher: each attempt loads and validates the job file,
/// starts its in-process emulator if it has an `[emulator]` table (one at a time per data
/// folder), and runs it in the sandbox.
pub fn sandboxed(runner: Arc<Runner>) -> RunFn {
    let emulator_locks: Arc<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = Arc::default();
    Arc::new(move |request: AttemptRequest| {
        let (runner, locks) = (runner.clone(), emulator_locks.clone());
        Box::pin(async move { attempt(&runner, &locks, &request).await })
    })
}

async fn attempt(
    runner: &Runner,
    locks: &Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    request: &AttemptRequest,
) -> Summary {
    let (mut job, host_problems) = match super::load_job(&request.path) {
        Ok(loaded) => loaded,
        Err(e) => return Summary::failed(format!("invalid: {e:#}"), false),
    };
    let problems = match runner.validate(&job, host_problems).await {
        Ok(problems) => problems,
        Err(e) => return Summary::failed(format!("sandbox: {e:#}"), true),
    };
    if !problems.is_empty() {
        let list: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect();
        return Summary::failed(format!("invalid: {}", list.join("; ")), false);
    }
    let options = RunOptions {
        progress: false,
        verify: false,
    };
    let result = match job.emulator.clone() {
        None => runner.run(&job, &request.run_id, options).await,
        Some(section) => {
            let data_dir = job
                .base_dir
                .join(section.data_dir.unwrap_or_else(|| ".adls-emulator".into()));
            let lock = locks
                .lock()
                .expect("not poisoned")
                .entry(data_dir)
                .or_default()
                .clone();
            let _one_at_a_time = lock.lock().await;
            let emulator = match crate::commands::in_process_emulator::start_for(&mut job).await {
                Ok(emulator) => emulator,
                Err(e) => return Summary::failed(format!("emulator: {e:#}"), true),
            };
            let result = runner.run(&job, &request.run_id, options).await;
            emulator.shutdown().await;
            result
        }
    };
    match &result {
        Ok(Ok(report)) => tracing::info!(
            job = job.name,
            "run {} exported {} rows to {}/{}",
            report.run_id,
            report.rows,
            report.file_system,
            report.path
        ),
        Ok(Err(failure)) => tracing::warn!(job = job.name, "{failure}"),
        Err(e) => tracing::warn!(job = job.name, "run {} failed: {e:#}", request.run_id),
    }
    summarize(&result)
}
