//! The serve loop on a manual clock, with a fake runner whose attempts the test ends. No
//! test sleeps: each waits (with a deadline) for the dispatcher's events.

use std::time::Duration as StdDuration;

use tokio::sync::{mpsc, oneshot};

use super::*;
use crate::runner::clock::ManualClock;
use crate::runner::history::{Outcome, Record, Status};

const DEADLINE: StdDuration = StdDuration::from_secs(10);

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// An attempt the fake runner was asked for; the test ends it.
struct Pending {
    request: AttemptRequest,
    done: oneshot::Sender<Summary>,
}

impl Pending {
    fn succeed(self) {
        let summary = Summary {
            status: Status::Succeeded,
            outcome: Outcome {
                rows: Some(3),
                bytes: Some(30),
                files: vec![format!("fs/{}.csv", self.request.job)],
                md5: Some("md5==".into()),
                component_sha256: Some("abc".into()),
                error: None,
            },
            retryable: true,
        };
        let _ = self.done.send(summary);
    }

    fn fail(self, retryable: bool) {
        let _ = self.done.send(Summary::failed("storage: boom", retryable));
    }
}

struct Rig {
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    history: Arc<History>,
    events: mpsc::UnboundedReceiver<Event>,
    attempts: mpsc::UnboundedReceiver<Pending>,
    shutdown: Option<oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Rig {
    /// A folder with `jobs` (name, `[schedule]` and `[retry]` lines) and a history.
    fn new(now: &str, jobs: &[(&str, &str)]) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("jobs")).unwrap();
        let history = Arc::new(History::open(&dir.path().join("history.sqlite")).unwrap());
        let (_, events) = mpsc::unbounded_channel();
        let (_, attempts) = mpsc::unbounded_channel();
        let rig = Rig {
            dir,
            clock: Arc::new(ManualClock::new(at(now))),
            history,
            events,
            attempts,
            shutdown: None,
            serving: None,
        };
        for (name, tables) in jobs {
            rig.write_job(name, tables);
        }
        rig
    }

    fn write_job(&self, name: &str, tables: &str) {
        let text = format!(
            "name = \"{name}\"\n[source]\nkind = \"file\"\npath = \"data.csv\"\n{tables}\n"
        );
        std::fs::write(
            self.dir.path().join("jobs").join(format!("{name}.toml")),
            text,
        )
        .unwrap();
    }

    /// Starts serving; returns once the dispatcher has loaded the folder and handled what
    /// was due.
    async fn start(&mut self, max_concurrent: usize) {
        let (events_tx, events) = mpsc::unbounded_channel();
        let (attempts_tx, attempts) = mpsc::unbounded_channel();
        let run: RunFn = Arc::new(move |request| {
            let attempts = attempts_tx.clone();
            Box::pin(async move {
                let (done, result) = oneshot::channel();
                attempts.send(Pending { request, done }).unwrap();
                result
                    .await
                    .unwrap_or_else(|_| Summary::failed("the test dropped it", false))
            })
        });
        let config = Config {
            jobs_dir: self.dir.path().join("jobs"),
            max_concurrent,
            grace: Duration::seconds(60),
            poll: Duration::seconds(5),
        };
        let dispatcher = Dispatcher::new(config, self.clock.clone(), self.history.clone(), run)
            .with_events(events_tx);
        let (shutdown, stop) = oneshot::channel::<()>();
        self.serving = Some(tokio::spawn(dispatcher.serve(async move {
            let _ = stop.await;
        })));
        self.shutdown = Some(shutdown);
        self.events = events;
        self.attempts = attempts;
        self.until(|e| matches!(e, Event::Idle { .. })).await;
    }

    /// The next event that `wanted` accepts (earlier ones are dropped).
    async fn until(&mut self, wanted: impl Fn(&Event) -> bool) -> Event {
        let wait = async {
            loop {
                let event = self.events.recv().await.expect("the dispatcher is running");
                if wanted(&event) {
                    return event;
                }
            }
        };
        tokio::time::timeout(DEADLINE, wait)
            .await
            .expect("the event came in time")
    }

    /// Moves the clock to `t` and waits until the dispatcher has handled everything due.
    async fn advance_to(&mut self, t: &str) {
        let t = at(t);
        self.clock.set(t);
        self.until(|e| matches!(e, Event::Idle { until } if *until > t))
            .await;
    }

    async fn attempt(&mut self) -> Pending {
        tokio::time::timeout(DEADLINE, self.attempts.recv())
            .await
            .expect("an attempt came in time")
            .expect("the dispatcher is running")
    }

    /// No attempt was asked for, once every other task has had its turn.
    async fn no_attempt(&mut self) {
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(self.attempts.try_recv().is_err(), "no attempt expected");
    }

    async fn stop(&mut self) {
        let _ = self.shutdown.take().unwrap().send(());
    }

    async fn stopped(&mut self) {
        let serving = self.serving.take().unwrap();
        tokio::time::timeout(DEADLINE, serving)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }

    /// The history of `job`, oldest first.
    fn rows(&self, job: &str) -> Vec<Record> {
        let mut rows = self.history.list(Some(job), 100).unwrap();
        rows.reverse();
        rows
    }
}

fn summary(rows: &[Record]) -> Vec<(u32, &str, &str, &str)> {
    rows.iter()
        .map(|r| {
            (
                r.attempt,
                r.trigger.as_str(),
                r.status.as_str(),
                r.scheduled_for.as_deref().unwrap_or(""),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_run_due_while_the_previous_goes_on_is_skipped_and_recorded() {
    let mut rig = Rig::new(
        "2026-05-01T10:00:30Z",
        &[("a", "[schedule]\nkind = \"interval\"\nevery_minutes = 1")],
    );
    rig.start(4).await;
    rig.no_attempt().await;

    rig.advance_to("2026-05-01T10:01:00Z").await;
    let first = rig.attempt().await;
    assert_eq!(
        (first.request.job.as_str(), first.request.attempt),
        ("a", 1)
    );
    rig.advance_to("2026-05-01T10:02:00Z").await;
    rig.no_attempt().await;
    first.succeed();
    rig.until(|e| {
        matches!(
            e,
            Event::Finished {
                status: Status::Succeeded,
                ..
            }
        )
    })
    .await;

    rig.advance_to("2026-05-01T10:03:00Z").await;
    let third = rig.attempt().await;
    third.fail(false);
    rig.until(|e| {
        matches!(
            e,
            Event::Finished {
                status: Status::Failed,
                ..
            }
        )
    })
    .await;

    let rows = rig.rows("a");
    assert_eq!(
        summary(&rows),
        [
            (1, "schedule", "succeeded", "2026-05-01T10:01:00.000Z"),
            (1, "schedule", "skipped", "2026-05-01T10:02:00.000Z"),
            (1, "schedule", "failed", "2026-05-01T10:03:00.000Z"),
        ]
    );
    let (ok, skip, failed) = (&rows[0], &rows[1], &rows[2]);
    assert_eq!(
        (ok.rows, ok.bytes, ok.md5.as_deref()),
        (Some(3), Some(30), Some("md5=="))
    );
    assert_eq!(ok.files, ["fs/a.csv"]);
    assert_eq!(ok.component_sha256.as_deref(), Some("abc"));
    let reason = skip.error.as_deref().unwrap();
    assert!(
        reason.contains("still going") && reason.contains(&ok.run_id),
        "{reason}"
    );
    assert_eq!(failed.error.as_deref(), Some("storage: boom"));
    assert_ne!(ok.run_id, failed.run_id);
    rig.stop().await;
    rig.stopped().await;
}

#[tokio::test]
async fn a_failed_run_is_retried_under_its_run_id_at_the_interval() {
    let retry = "[schedule]\nkind = \"interval\"\nevery_hours = 1\n[retry]\nattempts = 3\ninterval_minutes = 5";
    let once = "[schedule]\nkind = \"interval\"\nevery_hours = 1\n[retry]\nattempts = 3";
    let mut rig = Rig::new("2026-05-01T10:30:00Z", &[("r", retry), ("invalid", once)]);
    rig.start(4).await;
    rig.advance_to("2026-05-01T11:00:00Z").await;
    let (mut a, mut b) = (rig.attempt().await, rig.attempt().await);
    if a.request.job != "r" {
        std::mem::swap(&mut a, &mut b);
    }
    let run_id = a.request.run_id.clone();
    b.fail(false); // not retryable (an invalid job file): tried once
    a.fail(true);
    let retry_at = rig.until(|e| matches!(e, Event::RetryAt { .. })).await;
    assert!(
        matches!(retry_at, Event::RetryAt { ref job, at: t, .. } if job == "r" && t == at("2026-05-01T11:05:00Z"))
    );

    rig.clock.set(at("2026-05-01T11:04:59Z"));
    rig.no_attempt().await;
    rig.clock.set(at("2026-05-01T11:05:00Z"));
    let second = rig.attempt().await;
    assert_eq!(
        (second.request.attempt, &second.request.run_id),
        (2, &run_id)
    );
    second.fail(true);
    rig.until(|e| matches!(e, Event::RetryAt { .. })).await;
    rig.clock.set(at("2026-05-01T11:10:00Z"));
    let third = rig.attempt().await;
    assert_eq!((third.request.attempt, &third.request.run_id), (3, &run_id));
    third.succeed();
    rig.until(|e| {
        matches!(
            e,
            Event::Finished {
                status: Status::Succeeded,
                ..
            }
        )
    })
    .await;
    rig.no_attempt().await;

    let rows = rig.rows("r");
    let fixed = "2026-05-01T11:00:00.000Z";
    assert_eq!(
        summary(&rows),
        [
            (1, "schedule", "failed", fixed),
            (2, "retry", "failed", fixed),
            (3, "retry", "succeeded", fixed)
        ]
    );
    assert!(rows.iter().all(|r| r.run_id == run_id));
    let starts: Vec<_> = rows.iter().map(|r| r.started_at.as_str()).collect();
    assert_eq!(
        starts,
        [
            "2026-05-01T11:00:00.000Z",
            "2026-05-01T11:05:00.000Z",
            "2026-05-01T11:10:00.000Z"
        ]
    );
    assert_eq!(
        summary(&rig.rows("invalid")),
        [(1, "schedule", "failed", fixed)]
    );
    rig.stop().await;
    rig.stopped().await;
}

#[tokio::test]
async fn retries_stop_when_spent() {
    let mut rig = Rig::new(
        "2026-05-01T10:30:00Z",
        &[(
            "r",
            "[schedule]\nkind = \"interval\"\nevery_hours = 1\n[retry]\nattempts = 1\ninterval_minutes = 1",
        )],
    );
    rig.start(4).await;
    rig.advance_to("2026-05-01T11:00:00Z").await;
    rig.attempt().await.fail(true);
    rig.until(|e| matches!(e, Event::RetryAt { .. })).await;
    rig.clock.set(at("2026-05-01T11:01:00Z"));
    rig.attempt().await.fail(true);
    rig.until(|e| matches!(e, Event::Finished { attempt: 2, .. }))
        .await;
    rig.advance_to("2026-05-01T11:30:00Z").await;
    rig.no_attempt().await;
    let statuses: Vec<_> = rig
        .rows("r")
        .iter()
        .map(|r| (r.attempt, r.status))
        .collect();
    assert_eq!(statuses, [(1, Status::Failed), (2, Status::Failed)]);
    rig.stop().await;
    rig.stopped().await;
}

#[tokio::test]
async fn one_catch_up_run_stands_for_the_runs_missed_while_down() {
    let hourly = "[schedule]\nkind = \"interval\"\nevery_hours = 1";
    let no_catch_up = "[schedule]\nkind = \"interval\"\nevery_hours = 1\ncatch_up = false";
    let started = "[schedule]\nkind = \"interval\"\nevery_hours = 1\nstart = \"2026-04-01T00:00\"";
    let mut rig = Rig::new(
        "2026-05-01T10:30:00Z",
        &[
            ("down", hourly),
            ("off", no_catch_up),
            ("fresh", hourly),
            ("new-with-start", started),
        ],
    );
    // `down` and `off` last ran at 07:00; then `serve` was down for three runs.
    for job in ["down", "off"] {
        let begin = Begin {
            job,
            run_id: "old",
            attempt: 1,
            trigger: Trigger::Schedule,
            scheduled_for: Some(at("2026-05-01T07:00:00Z")),
            started_at: at("2026-05-01T07:00:00Z"),
        };
        let id = rig.history.begin(&begin).unwrap();
        rig.history
            .finish(
                id,
                Status::Succeeded,
                at("2026-05-01T07:00:01Z"),
                &Outcome::default(),
            )
            .unwrap();
    }
    rig.start(4).await;
    let mut caught_up = vec![rig.attempt().await, rig.attempt().await];
    caught_up.sort_by(|a, b| a.request.job.cmp(&b.request.job));
    let jobs: Vec<_> = caught_up.iter().map(|p| p.request.job.as_str()).collect();
    assert_eq!(jobs, ["down", "new-with-start"]);
    for pending in caught_up {
        pending.succeed();
    }
    rig.until(|e| matches!(e, Event::Finished { .. })).await;
    rig.until(|e| matches!(e, Event::Finished { .. })).await;
    rig.no_attempt().await;
    let rows = rig.rows("down");
    assert_eq!(
        summary(&rows[1..]),
        [(1, "catch-up", "succeeded", "2026-05-01T10:00:00.000Z")]
    );
    assert_eq!(
        summary(&rig.rows("new-with-start")),
        [(1, "catch-up", "succeeded", "2026-05-01T10:00:00.000Z")]
    );

    // Then every job runs on its schedule, once per run time.
    rig.advance_to("2026-05-01T11:00:00Z").await;
    let mut jobs = Vec::new();
    for _ in 0..4 {
        let pending = rig.attempt().await;
        jobs.push(pending.request.job.clone());
        pending.succeed();
    }
    jobs.sort();
    assert_eq!(jobs, ["down", "fresh", "new-with-start", "off"]);
    rig.no_attempt().await;
    assert_eq!(
        rig.rows("off").len(),
        2,
        "no catch-up for `off`: its old run and 11:00"
    );
    rig.stop().await;
    rig.stopped().await;
}

#[tokio::test]
async fn shutdown_lets_runs_finish_within_the_grace_period_then_cancels_them() {
    let every = "[schedule]\nkind = \"interval\"\nevery_minutes = 1";
    let mut rig = Rig::new("2026-05-01T10:00:30Z", &[("quick", every), ("slow", every)]);
    rig.start(4).await;
    rig.advance_to("2026-05-01T10:01:00Z").await;
    let (mut quick, mut slow) = (rig.attempt().await, rig.attempt().await);
    if quick.request.job != "quick" {
        std::mem::swap(&mut quick, &mut slow);
    }
    rig.stop().await;
    rig.until(|e| matches!(e, Event::Stopping)).await;
    // No run starts once stopping, however late it gets.
    rig.clock.set(at("2026-05-01T10:01:30Z"));
    quick.succeed();
    rig.until(|e| {
        matches!(
            e,
            Event::Finished {
                status: Status::Succeeded,
                ..
            }
        )
    })
    .await;
    assert!(
        !slow.done.is_closed(),
        "still running within the grace period"
    );
    rig.clock.set(at("2026-05-01T10:02:01Z"));
    let cancelled = rig.until(|e| matches!(e, Event::Finished { .. })).await;
    assert!(
        matches!(cancelled, Event::Finished { status: Status::Cancelled, ref job, .. } if job == "slow")
    );
    rig.stopped().await;
    assert!(
        slow.done.is_closed(),
        "the cancelled attempt's future was dropped"
    );
    rig.no_attempt().await;

    assert_eq!(
        summary(&rig.rows("quick")),
        [(1, "schedule", "succeeded", "2026-05-01T10:01:00.000Z")]
    );
    let rows = rig.rows("slow");
    assert_eq!(
        summary(&rows),
        [(1, "schedule", "cancelled", "2026-05-01T10:01:00.000Z")]
    );
    assert!(
        rows[0]
            .error
            .as_deref()
            .unwrap()
            .contains("nothing was published")
    );
    assert_eq!(
        rows[0].ended_at.as_deref(),
        Some("2026-05-01T10:02:01.000Z")
    );
}

#[tokio::test]
async fn shutdown_drops_pending_retries() {
    let retrying = "[schedule]\nkind = \"interval\"\nevery_hours = 1\n[retry]\nattempts = 5";
    let mut rig = Rig::new("2026-05-01T10:30:00Z", &[("r", retrying)]);
    rig.start(4).await;
    rig.advance_to("2026-05-01T11:00:00Z").await;
    rig.attempt().await.fail(true);
    rig.until(|e| matches!(e, Event::RetryAt { .. })).await;
    rig.stop().await;
    rig.stopped().await;
    rig.no_attempt().await;
    assert_eq!(rig.rows("r").len(), 1);
}

#[tokio::test]
async fn attempts_in_flight_are_bounded_across_jobs() {
    let every = "[schedule]\nkind = \"interval\"\nevery_minutes = 1";
    let mut rig = Rig::new(
        "2026-05-01T10:00:30Z",
        &[("a", every), ("b", every), ("c", every)],
    );
    rig.start(2).await;
    rig.advance_to("2026-05-01T10:01:00Z").await;
    let (first, second) = (rig.attempt().await, rig.attempt().await);
    rig.no_attempt().await;
    let first_job = first.request.job.clone();
    first.succeed();
    let third = rig.attempt().await;
    let mut jobs = [
        first_job,
        second.request.job.clone(),
        third.request.job.clone(),
    ];
    jobs.sort();
    assert_eq!(jobs, ["a", "b", "c"]);
    second.succeed();
    third.succeed();
    rig.stop().await;
    rig.stopped().await;
}

#[tokio::test]
async fn the_folder_is_reloaded_when_a_file_changes() {
    let mut rig = Rig::new(
        "2026-05-01T10:00:30Z",
        &[("a", "[schedule]\nkind = \"manual\"")],
    );
    rig.start(2).await;
    rig.write_job("b", "[schedule]\nkind = \"interval\"\nevery_minutes = 1");
    rig.write_job("broken", "[schedule]\nkind = \"sometimes\"");
    rig.clock.set(at("2026-05-01T10:00:35Z"));
    let loaded = rig.until(|e| matches!(e, Event::Loaded { .. })).await;
    assert_eq!(
        loaded,
        Event::Loaded {
            jobs: vec!["a".into(), "b".into()]
        }
    );
    rig.advance_to("2026-05-01T10:01:00Z").await;
    let pending = rig.attempt().await;
    assert_eq!(pending.request.job, "b");
    pending.succeed();
    rig.no_attempt().await;
    rig.stop().await;
    rig.stopped().await;
}
