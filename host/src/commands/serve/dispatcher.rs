//! `serve`'s loop: every job file in a folder, run when its schedule says.
//!
//! - The folder is polled for changes (names, sizes and modification times of `*.toml`,
//!   every `poll`), and the jobs reloaded when it changes.
//! - At most `max_concurrent` attempts run at once (a semaphore), and never two runs of one
//!   job: a run that comes due while the job's previous run (or its retry) is still going is
//!   skipped, and the skip recorded.
//! - Runs missed while `serve` was down are not replayed: one catch-up run stands for them
//!   (`catch_up = false` in `[schedule]` turns that off). Where looking starts is the last
//!   run time recorded in the history, or the schedule's `start` for a job never run.
//! - Shutdown stops starting runs and retries, lets running attempts finish for `grace`,
//!   then cancels them (drops their futures: the guest publishes by rename at the end, so
//!   nothing partial is published), recording each as `cancelled`.
//!
//! Time comes from a [`Clock`] and runs from an injected [`RunFn`], so the tests drive it
//! with a [`ManualClock`] and no WebAssembly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use chrono::{DateTime, Duration, Utc};
use futures::future::BoxFuture;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::runner::clock::Clock;
use crate::runner::events::{Event, Events};

use crate::job::retry::RetryPolicy;
use crate::job::schedule::Schedule;
use crate::runner::attempts::{Attempts, Stop, Summary};
use crate::runner::history::{Begin, History, Trigger, format_time};

/// One attempt the dispatcher asks for.
#[derive(Debug, Clone)]
pub struct AttemptRequest {
    /// The job's name.
    pub job: String,
    /// Its job file (read afresh for every attempt).
    pub path: PathBuf,
    /// The run's ID, the same for its retries.
    pub run_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
}

/// Runs one attempt of a job; `serve` passes the sandboxed runner, tests a fake.
pub type RunFn = Arc<dyn Fn(AttemptRequest) -> BoxFuture<'static, Summary> + Send + Sync>;

/// `serve`'s settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The folder of job files.
    pub jobs_dir: PathBuf,
    /// Attempts in flight at once, across jobs.
    pub max_concurrent: usize,
    /// How long running attempts may go on after shutdown begins.
    pub grace: Duration,
    /// How often the folder is checked for changes.
    pub poll: Duration,
}

/// The dispatcher: a folder of jobs, a clock, a runner and the history.
pub struct Dispatcher {
    config: Config,
    clock: Arc<dyn Clock>,
    history: Arc<History>,
    run: RunFn,
    events: Option<Events>,
}

struct Entry {
    path: PathBuf,
    schedule: Schedule,
    retry: RetryPolicy,
    /// The next run time, and whether it is a catch-up run.
    next: Option<(DateTime<Utc>, Trigger)>,
    /// The run ID of the run going on, if any.
    running: Arc<Mutex<Option<String>>>,
}

type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

impl Dispatcher {
    /// A dispatcher of `config.jobs_dir`'s jobs.
    pub fn new(config: Config, clock: Arc<dyn Clock>, history: Arc<History>, run: RunFn) -> Self {
        Dispatcher {
            config,
            clock,
            history,
            run,
            events: None,
        }
    }

    /// Reports what happens to `events`.
    pub fn with_events(mut self, events: Events) -> Self {
        self.events = Some(events);
        self
    }

    /// Runs until `shutdown` completes, then stops as the module says.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let dir = &self.config.jobs_dir;
        anyhow::ensure!(
            dir.is_dir(),
            "the jobs folder `{}` does not exist",
            dir.display()
        );
        let (stopping_tx, stopping) = watch::channel(false);
        let (cancel_tx, cancel) = watch::channel(false);
        let stop = Stop::new(stopping, cancel);
        let permits = Arc::new(Semaphore::new(self.config.max_concurrent.max(1)));
        let mut jobs: BTreeMap<String, Entry> = BTreeMap::new();
        let mut tasks = JoinSet::new();
        let mut seen: Option<Fingerprint> = None;
        let mut next_scan = self.clock.now();
        tokio::pin!(shutdown);
        loop {
            let now = self.clock.now();
            if now >= next_scan {
                let fingerprint = fingerprint(&self.config.jobs_dir);
                if seen.as_ref() != Some(&fingerprint) {
                    self.reload(&mut jobs, now);
                    seen = Some(fingerprint);
                }
                next_scan = now + self.config.poll;
            }
            for (name, entry) in jobs.iter_mut() {
                let Some((due, trigger)) = entry.next.filter(|(due, _)| *due <= now) else {
                    continue;
                };
                entry.next = entry
                    .schedule
                    .next_after(now)
                    .map(|t| (t, Trigger::Schedule));
                let going = entry.running.lock().expect("not poisoned").clone();
                if let Some(run_id) = going {
                    self.skip(name, due, now, &run_id);
                    continue;
                }
                let run_id = crate::runner::new_run_id();
                *entry.running.lock().expect("not poisoned") = Some(run_id.clone());
                let task = RunTask {
                    name: name.clone(),
                    path: entry.path.clone(),
                    run_id,
                    trigger,
                    scheduled_for: due,
                    retry: entry.retry,
                    running: entry.running.clone(),
                };
                let (clock, history, run) =
                    (self.clock.clone(), self.history.clone(), self.run.clone());
                let (permits, stop, events) = (permits.clone(), stop.clone(), self.events.clone());
                tasks.spawn(task.go(clock, history, run, permits, stop, events));
            }
            while tasks.try_join_next().is_some() {}
            let wake = jobs
                .values()
                .filter_map(|e| e.next.map(|(t, _)| t))
                .fold(next_scan, DateTime::min);
            self.emit(Event::Idle { until: wake });
            tokio::select! {
                _ = self.clock.sleep_until(wake) => {}
                _ = &mut shutdown => break,
            }
        }

        tracing::info!(
            "stopping: no new runs; running ones have {} s to finish",
            self.config.grace.num_seconds()
        );
        let _ = stopping_tx.send(true);
        self.emit(Event::Stopping);
        let grace_end = self.clock.now() + self.config.grace;
        tokio::select! {
            _ = async { while tasks.join_next().await.is_some() {} } => {}
            _ = self.clock.sleep_until(grace_end) => {
                tracing::warn!("the grace period is over: cancelling the runs still going");
                let _ = cancel_tx.send(true);
            }
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }

    /// Loads every job file; keeps the state of jobs that stay, schedules new ones (with a
    /// catch-up run when one is due).
    fn reload(&self, jobs: &mut BTreeMap<String, Entry>, now: DateTime<Utc>) {
        let mut fresh: BTreeMap<String, Entry> = BTreeMap::new();
        for path in job_files(&self.config.jobs_dir) {
            let (name, schedule, retry) = match load(&path) {
                Ok(loaded) => loaded,
                Err(e) => {
                    tracing::error!("{}: not scheduled: {e}", path.display());
                    continue;
                }
            };
            if let Some(other) = fresh.get(&name) {
                tracing::error!(
                    "{}: not scheduled: job `{name}` is already defined by {}",
                    path.display(),
                    other.path.display()
                );
                continue;
            }
            let old = jobs.remove(&name);
            let unchanged = old
                .as_ref()
                .is_some_and(|o| o.path == path && o.schedule == schedule);
            let next = match &old {
                Some(o) if unchanged => o.next,
                Some(_) => schedule.next_after(now).map(|t| (t, Trigger::Schedule)),
                None => self.first_run(&name, &schedule, now),
            };
            if !unchanged {
                let when = match next {
                    None => "never (manual: `adls-writeback run`)".to_string(),
                    Some((t, Trigger::CatchUp)) => {
                        let then = schedule
                            .next_after(now)
                            .map_or("none".into(), |t| schedule.wall_clock(t));
                        format!(
                            "now, catching up (missed {}); then {then}",
                            schedule.wall_clock(t)
                        )
                    }
                    Some((t, _)) => schedule.wall_clock(t),
                };
                tracing::info!(
                    "job `{name}` ({}): {}; next run {when}",
                    path.display(),
                    schedule.describe()
                );
            }
            let running = old.map(|o| o.running).unwrap_or_default();
            fresh.insert(
                name,
                Entry {
                    path,
                    schedule,
                    retry,
                    next,
                    running,
                },
            );
        }
        for name in jobs.keys() {
            tracing::info!("job `{name}` removed: no longer scheduled");
        }
        *jobs = fresh;
        self.emit(Event::Loaded {
            jobs: jobs.keys().cloned().collect(),
        });
    }

    /// A new job's first run: a catch-up run now when its schedule was due since the
    /// last recorded run (or its `start`), else its next run time.
    fn first_run(
        &self,
        name: &str,
        schedule: &Schedule,
        now: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, Trigger)> {
        if schedule.catch_up() {
            let last = self.history.last_scheduled(name).unwrap_or_else(|e| {
                tracing::warn!("run history: {e:#}");
                None
            });
            let from = last.or(schedule.start().map(|s| s - Duration::nanoseconds(1)));
            if let Some(missed) = from.and_then(|from| schedule.latest_due(from, now)) {
                return Some((missed, Trigger::CatchUp));
            }
        }
        schedule.next_after(now).map(|t| (t, Trigger::Schedule))
    }

    fn skip(&self, job: &str, scheduled_for: DateTime<Utc>, now: DateTime<Utc>, going: &str) {
        let reason = format!("skipped: the previous run {going} was still going");
        tracing::warn!(job, "run due at {} {reason}", format_time(scheduled_for));
        let begin = Begin {
            job,
            run_id: &crate::runner::new_run_id(),
            attempt: 1,
            trigger: Trigger::Schedule,
            scheduled_for: Some(scheduled_for),
            started_at: now,
        };
        if let Err(e) = self.history.record_skip(&begin, &reason) {
            tracing::warn!("run history: cannot record the skip: {e:#}");
        }
        self.emit(Event::Skipped {
            job: job.into(),
            scheduled_for,
        });
    }

    fn emit(&self, event: Event) {
        if let Some(events) = &self.events {
            let _ = events.send(event);
        }
    }
}

/// One scheduled run and its retries, as a task.
struct RunTask {
    name: String,
    path: PathBuf,
    run_id: String,
    trigger: Trigger,
    scheduled_for: DateTime<Utc>,
    retry: RetryPolicy,
    running: Arc<Mutex<Option<String>>>,
}

impl RunTask {
    async fn go(
        self,
        clock: Arc<dyn Clock>,
        history: Arc<History>,
        run: RunFn,
        permits: Arc<Semaphore>,
        stop: Stop,
        events: Option<Events>,
    ) {
        // Clears the job's running mark however the task ends.
        struct Done(Arc<Mutex<Option<String>>>);
        impl Drop for Done {
            fn drop(&mut self) {
                *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
        }
        let _done = Done(self.running.clone());
        let attempts = Attempts {
            job: &self.name,
            run_id: &self.run_id,
            trigger: self.trigger,
            scheduled_for: Some(self.scheduled_for),
            policy: self.retry,
            clock: clock.as_ref(),
            history: Some(history.as_ref()),
            permits: Some(permits),
            stop,
            events: events.as_ref(),
        };
        let request = |attempt| {
            run(AttemptRequest {
                job: self.name.clone(),
                path: self.path.clone(),
                run_id: self.run_id.clone(),
                attempt,
            })
        };
        attempts.run(request, Summary::clone).await;
    }
}

/// Reads a job file's name, schedule and retry policy.
fn load(path: &Path) -> Result<(String, Schedule, RetryPolicy), String> {
    let file = crate::job::JobFile::load(path).map_err(|e| format!("{e:#}"))?;
    let (job, problems) = file.resolve();
    let blocking: Vec<String> = problems
        .iter()
        .filter(|p| p.field.starts_with("schedule") || p.field.starts_with("retry"))
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect();
    match blocking.is_empty() {
        true => Ok((job.name, job.schedule, job.retry)),
        false => Err(blocking.join("; ")),
    }
}

/// The `*.toml` files directly in `dir`, sorted.
fn job_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .collect();
    files.sort();
    files
}

fn fingerprint(dir: &Path) -> Fingerprint {
    job_files(dir)
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p).ok();
            let len = meta.as_ref().map_or(0, |m| m.len());
            let modified = meta.and_then(|m| m.modified().ok());
            (p, len, modified)
        })
        .collect()
}

#[cfg(test)]
mod tests;
