//! The progress of running attempts, written into their history rows while they run, so a
//! row left by a killed process still says how far it got.
//!
//! [`History::begin`](super::History::begin) registers its row under the job's name (one
//! process never runs two attempts of one job at once); the guest's progress calls reach
//! [`record`] through [`ProgressLayer`], a `tracing` layer that picks the log capability's
//! `progress` events (target `guest`, fields `job`, `rows`, `bytes`); a background thread
//! writes the latest numbers at most once per [`FLUSH_EVERY`], and only into rows still
//! `running`, so it never overwrites an attempt's final outcome.

use std::collections::HashMap;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

use super::format_time;

/// How often the latest progress of running attempts is written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

struct Watched {
    row: i64,
    conn: Arc<Mutex<Connection>>,
    /// Not yet written.
    pending: Option<Reached>,
}

/// Rows and bytes reached, and when.
#[derive(Debug, Clone, Copy)]
struct Reached {
    rows: u64,
    bytes: u64,
    at: DateTime<Utc>,
}

fn watched() -> &'static Mutex<HashMap<String, Watched>> {
    static WATCHED: OnceLock<Mutex<HashMap<String, Watched>>> = OnceLock::new();
    WATCHED.get_or_init(Mutex::default)
}

/// Progress of `job`'s attempt goes into `row` of `conn`'s database from now on.
pub(super) fn watch(job: &str, row: i64, conn: Arc<Mutex<Connection>>) {
    let entry = Watched {
        row,
        conn,
        pending: None,
    };
    lock(watched()).insert(job.to_string(), entry);
}

/// The attempt in `row` has ended: its progress is no longer written.
pub(super) fn unwatch(row: i64) {
    lock(watched()).retain(|_, w| w.row != row);
}

/// The attempt of `job` running in this process has reached `rows` and `bytes`.
pub fn record(job: &str, rows: u64, bytes: u64) {
    let mut map = lock(watched());
    let Some(entry) = map.get_mut(job) else {
        return;
    };
    entry.pending = Some(Reached {
        rows,
        bytes,
        at: Utc::now(),
    });
    drop(map);
    // Wake the writer; a full channel means a write is already due.
    let _ = flusher().try_send(());
}

/// Writes every pending progress now (the background thread calls it after each wake-up).
pub fn flush() {
    let due: Vec<(i64, Arc<Mutex<Connection>>, Reached)> = lock(watched())
        .values_mut()
        .filter_map(|w| Some((w.row, w.conn.clone(), w.pending.take()?)))
        .collect();
    for (row, conn, Reached { rows, bytes, at }) in due {
        let written = lock(&conn).execute(
            "UPDATE runs SET rows = ?2, bytes = ?3, progress_at = ?4
             WHERE id = ?1 AND status = 'running'",
            params![row, rows, bytes, format_time(at)],
        );
        if let Err(e) = written {
            tracing::debug!("run history: cannot record progress: {e}");
        }
    }
}

fn flusher() -> &'static SyncSender<()> {
    static WAKE: OnceLock<SyncSender<()>> = OnceLock::new();
    WAKE.get_or_init(|| {
        let (wake, woken) = sync_channel(1);
        std::thread::Builder::new()
            .name("history-progress".into())
            .spawn(move || {
                // Idle until progress arrives; then at most one write per FLUSH_EVERY.
                while woken.recv().is_ok() {
                    std::thread::sleep(FLUSH_EVERY);
                    flush();
                }
            })
            .expect("can start a thread");
        wake
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The `tracing` layer that hands the log capability's progress events to [`record`].
/// Install it beside the formatting layer, with its own filter (the events are at debug
/// level, below what the log shows by default).
#[derive(Debug, Default, Clone, Copy)]
pub struct ProgressLayer;

impl ProgressLayer {
    /// Whether an event's metadata may be a progress event (the layer's filter).
    pub fn wants(metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "guest" && *metadata.level() <= tracing::Level::DEBUG
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ProgressLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "guest" {
            return;
        }
        let mut fields = ProgressFields::default();
        event.record(&mut fields);
        if let (Some(job), Some(rows), Some(bytes)) = (fields.job, fields.rows, fields.bytes) {
            record(&job, rows, bytes);
        }
    }
}

#[derive(Default)]
struct ProgressFields {
    job: Option<String>,
    rows: Option<u64>,
    bytes: Option<u64>,
}

impl Visit for ProgressFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "job" {
            self.job = Some(value.to_string());
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "rows" => self.rows = Some(value),
            "bytes" => self.bytes = Some(value),
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Ok(value) = u64::try_from(value) {
            self.record_u64(field, value);
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}
