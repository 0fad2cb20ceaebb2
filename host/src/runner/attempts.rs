//! The attempts of one run under the job's `[retry]` policy ([`crate::job::retry`]): a history row per attempt, the same
//! run ID throughout (so a retry writes the same paths and never duplicates output), waits
//! on an injected [`Clock`], and stopping or cancelling from outside. `run` and `serve`
//! both go through [`Attempts::run`].

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, watch};

use crate::job::retry::RetryPolicy;
use crate::runner::clock::Clock;
use crate::runner::events::{Event, Events};
use crate::runner::history::{Begin, History, Outcome, Status, Trigger};
use crate::runner::report::{FailureKind, RunFailure, RunReport};

/// What an attempt came to, as the history records it.
#[derive(Debug, Clone)]
pub struct Summary {
    /// `Succeeded` or `Failed`.
    pub status: Status,
    /// Rows, bytes, files, MD5, component, error.
    pub outcome: Outcome,
    /// Whether another attempt could do better (an invalid job file cannot).
    pub retryable: bool,
}

impl Summary {
    /// A failure with `message`.
    pub fn failed(message: impl Into<String>, retryable: bool) -> Summary {
        Summary {
            status: Status::Failed,
            outcome: Outcome {
                error: Some(message.into()),
                ..Outcome::default()
            },
            retryable,
        }
    }
}

/// The summary of a sandboxed run's result.
pub fn summarize(result: &anyhow::Result<Result<RunReport, RunFailure>>) -> Summary {
    match result {
        Ok(Ok(r)) => Summary {
            status: Status::Succeeded,
            outcome: Outcome {
                rows: Some(r.rows),
                bytes: Some(r.bytes),
                files: r
                    .files
                    .iter()
                    .map(|f| format!("{}/{}", r.file_system, f.path))
                    .collect(),
                md5: Some(r.md5.clone()),
                component_sha256: Some(r.component_sha256.clone()),
                error: None,
            },
            retryable: true,
        },
        Ok(Err(f)) => Summary {
            status: Status::Failed,
            outcome: Outcome {
                component_sha256: Some(f.component_sha256.clone()),
                error: Some(format!("{}: {}", f.kind, f.message)),
                ..Outcome::default()
            },
            retryable: f.kind != FailureKind::Invalid,
        },
        Err(e) => Summary::failed(format!("{e:#}"), true),
    }
}

/// Signals from outside a run: `stopping` (start no new attempt, stop waiting to retry)
/// and `cancel` (drop the attempt in flight).
#[derive(Clone)]
pub struct Stop {
    stopping: watch::Receiver<bool>,
    cancel: watch::Receiver<bool>,
}

impl Stop {
    /// Signals driven by the two receivers.
    pub fn new(stopping: watch::Receiver<bool>, cancel: watch::Receiver<bool>) -> Stop {
        Stop { stopping, cancel }
    }

    /// Never fires.
    pub fn never() -> Stop {
        let (_, rx) = watch::channel(false);
        Stop::new(rx.clone(), rx)
    }

    async fn fired(rx: &mut watch::Receiver<bool>) {
        if rx.wait_for(|v| *v).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// How a run's attempts ended.
#[derive(Debug)]
pub enum Ended<T> {
    /// The last attempt's output (a success, or the failure that was not retried).
    Finished(T),
    /// Stopping came before the first attempt could start.
    NotStarted,
    /// The attempt in flight was cancelled; nothing was published.
    Cancelled,
}

/// One run of a job and its retries.
pub struct Attempts<'a> {
    /// The job's name.
    pub job: &'a str,
    /// The run's ID, the same for every attempt.
    pub run_id: &'a str,
    /// What started the first attempt (the others are retries).
    pub trigger: Trigger,
    /// The schedule's run time this run stands for.
    pub scheduled_for: Option<DateTime<Utc>>,
    /// Retries and their interval.
    pub policy: RetryPolicy,
    /// Time, and the waits between attempts.
    pub clock: &'a dyn Clock,
    /// Where attempts are recorded (none: not recorded).
    pub history: Option<&'a History>,
    /// Bounds attempts in flight across runs (none: unbounded).
    pub permits: Option<Arc<Semaphore>>,
    /// Stopping and cancelling.
    pub stop: Stop,
    /// Where progress is reported (tests wait on it).
    pub events: Option<&'a Events>,
}

impl Attempts<'_> {
    /// Runs `attempt(n)` for n = 1, 2, … until one succeeds, one fails for good, or the
    /// policy's retries are spent; records each in the history.
    pub async fn run<T, F, Fut>(
        &self,
        mut attempt: F,
        summarize: impl Fn(&T) -> Summary,
    ) -> Ended<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = T>,
    {
        let mut stop = self.stop.clone();
        let mut n = 1;
        loop {
            let trigger = if n == 1 { self.trigger } else { Trigger::Retry };
            let _permit = match &self.permits {
                None => None,
                Some(permits) => tokio::select! {
                    permit = permits.clone().acquire_owned() => permit.ok(),
                    _ = Stop::fired(&mut stop.stopping) => return Ended::NotStarted,
                },
            };
            let started_at = self.clock.now();
            let row = self.history.and_then(|h| {
                let begin = Begin {
                    job: self.job,
                    run_id: self.run_id,
                    attempt: n,
                    trigger,
                    scheduled_for: self.scheduled_for,
                    started_at,
                };
                h.begin(&begin)
                    .map_err(|e| tracing::warn!("run history: cannot record the attempt: {e:#}"))
                    .ok()
            });
            self.emit(Event::Started {
                job: self.job.into(),
                run_id: self.run_id.into(),
                attempt: n,
                trigger,
            });
            let output = tokio::select! {
                output = attempt(n) => output,
                _ = Stop::fired(&mut stop.cancel) => {
                    let outcome = Outcome {
                        error: Some("cancelled at shutdown after the grace period; nothing was published".into()),
                        ..Outcome::default()
                    };
                    self.finish(row, n, Status::Cancelled, &outcome);
                    return Ended::Cancelled;
                }
            };
            let summary = summarize(&output);
            self.finish(row, n, summary.status, &summary.outcome);
            if summary.status == Status::Succeeded || !summary.retryable || n > self.policy.retries
            {
                return Ended::Finished(output);
            }
            drop(_permit);
            let at = self.clock.now() + self.policy.interval;
            tracing::info!(
                job = self.job,
                run_id = self.run_id,
                "attempt {n} failed; retrying at {}",
                crate::runner::history::format_time(at)
            );
            self.emit(Event::RetryAt {
                job: self.job.into(),
                run_id: self.run_id.into(),
                at,
            });
            tokio::select! {
                _ = self.clock.sleep_until(at) => {}
                _ = Stop::fired(&mut stop.stopping) => return Ended::Finished(output),
            }
            n += 1;
        }
    }

    fn finish(&self, row: Option<i64>, attempt: u32, status: Status, outcome: &Outcome) {
        if let (Some(history), Some(id)) = (self.history, row)
            && let Err(e) = history.finish(id, status, self.clock.now(), outcome)
        {
            tracing::warn!("run history: cannot record the attempt's end: {e:#}");
        }
        self.emit(Event::Finished {
            job: self.job.into(),
            run_id: self.run_id.into(),
            attempt,
            status,
        });
    }

    fn emit(&self, event: Event) {
        if let Some(events) = self.events {
            let _ = events.send(event);
        }
    }
}
