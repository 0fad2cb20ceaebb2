//! A run as `run` makes it: the job's attempts under one run ID, each recorded in the
//! history, stopped by SIGINT or SIGTERM; and the stop signal that `run` and `serve` share.

use std::time::Instant;

use crate::job::Job;
use crate::runner::attempts::{Attempts, Ended, Stop, summarize};
use crate::runner::clock::SystemClock;
use crate::runner::history::{History, Trigger};
use crate::runner::report::{FailureKind, RunFailure, RunMeta, RunReport};
use crate::runner::{RunOptions, Runner, new_run_id};

/// Runs `job` as `run` does: its `[retry]` policy under one run ID, each attempt a history
/// row (trigger `manual`, then `retry`). Ctrl-C or SIGTERM cancels the attempt in flight
/// (nothing is published) and is recorded as such; the signal is returned beside the
/// outcome. A history that cannot be opened is warned about and the run goes on without it.
pub async fn run_recorded(
    runner: &Runner,
    job: &Job,
    options: RunOptions,
) -> anyhow::Result<(Result<RunReport, RunFailure>, Option<StopSignal>)> {
    let history = History::open_default().unwrap_or_else(|e| {
        tracing::warn!("run history: {e:#}; this run is not recorded");
        None
    });
    let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
    let caught = std::sync::Arc::new(std::sync::OnceLock::new());
    let signals = tokio::spawn({
        let caught = caught.clone();
        async move {
            if let Ok(signal) = stop_signal().await {
                let _ = caught.set(signal);
                let _ = cancel_tx.send(true);
            }
        }
    });
    let run_id = new_run_id();
    let started = Instant::now();
    let attempts = Attempts {
        job: &job.name,
        run_id: &run_id,
        trigger: Trigger::Manual,
        scheduled_for: None,
        policy: job.retry,
        clock: &SystemClock,
        history: history.as_ref(),
        permits: None,
        stop: Stop::new(cancel.clone(), cancel),
        events: None,
    };
    let ended = attempts
        .run(|_| runner.run(job, &run_id, options), summarize)
        .await;
    signals.abort();
    let signal = caught.get().copied();
    match ended {
        Ended::Finished(outcome) => Ok((outcome?, signal)),
        Ended::NotStarted | Ended::Cancelled => {
            let meta = RunMeta {
                job: &job.name,
                run_id: &run_id,
                component_sha256: runner.component_sha256(),
            };
            let by = signal.map_or("a signal", StopSignal::name);
            let message = format!(
                "the run was stopped by {by} before it finished; nothing was published (the \
                 data went to a temporary name, which the job's next run removes)"
            );
            let failure = RunFailure::new(meta, FailureKind::Cancelled, message, started.elapsed());
            Ok((Err(failure), signal))
        }
    }
}

/// The signal that stops a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (how Kubernetes and service managers stop a process).
    Terminate,
}

impl StopSignal {
    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        }
    }

    /// The shell's convention for a process ended by the signal: 128 + its number (130 for
    /// SIGINT, 143 for SIGTERM).
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        }
    }
}

/// Ctrl-C, or SIGTERM (how Kubernetes and service managers stop a process).
pub async fn stop_signal() -> std::io::Result<StopSignal> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.map(|()| StopSignal::Interrupt),
        _ = terminate.recv() => Ok(StopSignal::Terminate),
    }
}
