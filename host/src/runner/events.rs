//! What a run's attempts and `serve`'s dispatcher did, as events: for logs, and for tests
//! to wait on instead of sleeping.

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::runner::history::{Status, Trigger};

/// What the scheduler did, for logs and for tests to wait on.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The folder was (re)loaded: the jobs scheduled.
    Loaded { jobs: Vec<String> },
    /// An attempt started.
    Started {
        job: String,
        run_id: String,
        attempt: u32,
        trigger: Trigger,
    },
    /// An attempt ended.
    Finished {
        job: String,
        run_id: String,
        attempt: u32,
        status: Status,
    },
    /// A failed attempt will be retried at `at`.
    RetryAt {
        job: String,
        run_id: String,
        at: DateTime<Utc>,
    },
    /// A due run was skipped: the job's previous run was still going.
    Skipped {
        job: String,
        scheduled_for: DateTime<Utc>,
    },
    /// Nothing more to do before `until`.
    Idle { until: DateTime<Utc> },
    /// Shutdown began: no more runs start.
    Stopping,
}

/// Where events go.
pub type Events = mpsc::UnboundedSender<Event>;
