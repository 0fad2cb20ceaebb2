//! What a run's attempts and `serve`'s dispatcher did, as events: for logs, and for tests
//! to wait on instead of sleeping.

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::runner::history::{Status, Trigger};

/// What the dispatcher did, for logs and for tests to wait on.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The folder was (re)loaded: the jobs scheduled.
    Loaded {
        /// The names of the jobs scheduled.
        jobs: Vec<String>,
    },
    /// An attempt started.
    Started {
        /// The job's name.
        job: String,
        /// The run's ID.
        run_id: String,
        /// 1 for the first attempt.
        attempt: u32,
        /// Why it started.
        trigger: Trigger,
    },
    /// An attempt ended.
    Finished {
        /// The job's name.
        job: String,
        /// The run's ID.
        run_id: String,
        /// 1 for the first attempt.
        attempt: u32,
        /// How it ended.
        status: Status,
    },
    /// A failed attempt will be retried at `at`.
    RetryAt {
        /// The job's name.
        job: String,
        /// The run's ID.
        run_id: String,
        /// When the retry starts.
        at: DateTime<Utc>,
    },
    /// A due run was skipped: the job's previous run was still going.
    Skipped {
        /// The job's name.
        job: String,
        /// The run time that was skipped.
        scheduled_for: DateTime<Utc>,
    },
    /// Nothing more to do before `until`.
    Idle {
        /// When something is next due.
        until: DateTime<Utc>,
    },
    /// Shutdown began: no more runs start.
    Stopping,
}

/// Where events go.
pub type Events = mpsc::UnboundedSender<Event>;
