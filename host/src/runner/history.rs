//! Run history: one SQLite file, one row per attempt (and per skipped run), written by
//! `run` and `serve` and read by `history`.
//!
//! The schema is created and upgraded in code ([`MIGRATIONS`], counted in
//! `PRAGMA user_version`). The file is in WAL mode with a busy timeout, so it survives a
//! crash mid-write and several processes (a `serve`, `run`s, `history` readers) can use it
//! at once. Times are RFC 3339 UTC text with milliseconds, which sort as they read.
//!
//! Each `running` row names the process that holds it (host, PID and a start marker, see
//! [`liveness`]) and carries that attempt's latest progress ([`progress`]). A row whose
//! process is gone (killed, or the machine restarted) becomes `abandoned`, with its last
//! known progress, the next time `run`, `serve` or `history` opens the database
//! ([`History::open_default`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// The schema, one step per entry; step `i` brings `user_version` from `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE runs (
        id               INTEGER PRIMARY KEY,
        job              TEXT    NOT NULL,
        run_id           TEXT    NOT NULL,
        attempt          INTEGER NOT NULL,
        trigger          TEXT    NOT NULL,  -- manual | schedule | catch-up | retry
        scheduled_for    TEXT,              -- the run time a scheduled run stands for
        started_at       TEXT    NOT NULL,
        ended_at         TEXT,
        status           TEXT    NOT NULL,  -- running | succeeded | failed | skipped | cancelled
        rows             INTEGER,
        bytes            INTEGER,
        files            TEXT,              -- JSON array of the paths written
        md5              TEXT,
        component_sha256 TEXT,
        error            TEXT
    );
    CREATE INDEX runs_by_job ON runs (job, started_at);
",
    "
    -- The process holding a running row, so a killed one's rows can be marked abandoned.
    ALTER TABLE runs ADD COLUMN host TEXT;           -- its host name
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN process_start TEXT;  -- boot ID, PID namespace, start ticks
    ALTER TABLE runs ADD COLUMN progress_at TEXT;    -- when rows and bytes were last updated
    CREATE INDEX runs_running ON runs (status) WHERE status = 'running';
",
];

/// What started an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// `adls-writeback run`.
    Manual,
    /// The job's schedule, on time.
    Schedule,
    /// One run standing for those missed while `serve` was down.
    CatchUp,
    /// A retry of a failed attempt (same run ID).
    Retry,
}

impl Trigger {
    const ALL: [Trigger; 4] = [
        Trigger::Manual,
        Trigger::Schedule,
        Trigger::CatchUp,
        Trigger::Retry,
    ];

    /// The trigger named `name` (as [`Trigger::as_str`] gives it).
    pub fn parse(name: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::CatchUp => "catch-up",
            Trigger::Retry => "retry",
        }
    }
}

/// How an attempt ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Still going (or the process died during it).
    Running,
    /// Exported.
    Succeeded,
    /// Failed; the target is as it was.
    Failed,
    /// Not started: the job's previous run was still going.
    Skipped,
    /// Stopped at shutdown after the grace period; nothing was published.
    Cancelled,
    /// Its process ended without recording an outcome (killed, or the machine restarted);
    /// the row keeps the last progress it recorded.
    Abandoned,
}

impl Status {
    const ALL: [Status; 6] = [
        Status::Running,
        Status::Succeeded,
        Status::Failed,
        Status::Skipped,
        Status::Cancelled,
        Status::Abandoned,
    ];

    /// The status named `name` (as [`Status::as_str`] gives it).
    pub fn parse(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Cancelled => "cancelled",
            Status::Abandoned => "abandoned",
        }
    }
}

/// The start of an attempt.
#[derive(Debug, Clone)]
pub struct Begin<'a> {
    /// The job's name.
    pub job: &'a str,
    /// The run's ID, shared by its attempts.
    pub run_id: &'a str,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// What started it.
    pub trigger: Trigger,
    /// The schedule's run time it stands for, if scheduled.
    pub scheduled_for: Option<DateTime<Utc>>,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

/// The end of an attempt.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Rows exported.
    pub rows: Option<u64>,
    /// Bytes exported.
    pub bytes: Option<u64>,
    /// Paths written (`file_system/path`).
    pub files: Vec<String>,
    /// MD5 of the file, base64 as the service reports it.
    pub md5: Option<String>,
    /// SHA-256 of the component that ran.
    pub component_sha256: Option<String>,
    /// Why it failed, was skipped or was cancelled.
    pub error: Option<String>,
}

/// One row of the history (the columns of [`MIGRATIONS`]' table `runs`).
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// The row's ID.
    pub id: i64,
    /// The job's name.
    pub job: String,
    /// The run's ID, the same for its retries.
    pub run_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// What started it.
    pub trigger: Trigger,
    /// The run time it stood for, if scheduled (RFC 3339).
    pub scheduled_for: Option<String>,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it ended (RFC 3339); none while running.
    pub ended_at: Option<String>,
    /// How it ended, or that it has not.
    pub status: Status,
    /// Data rows written (or appended so far).
    pub rows: Option<u64>,
    /// Bytes written (or appended so far).
    pub bytes: Option<u64>,
    /// The paths it published.
    pub files: Vec<String>,
    /// Base64 MD5 of the bytes written.
    pub md5: Option<String>,
    /// SHA-256 of the component that ran it.
    pub component_sha256: Option<String>,
    /// Why it failed, was skipped or was cancelled.
    pub error: Option<String>,
    /// The host name of the process that ran it.
    pub host: Option<String>,
    /// The PID of the process that ran it.
    pub pid: Option<u32>,
    /// When `rows` and `bytes` were last updated while it ran.
    pub progress_at: Option<String>,
}

/// A row found `running` whose process is gone, now marked `abandoned`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abandoned {
    /// The row.
    pub id: i64,
    /// Its job.
    pub job: String,
    /// Its run ID.
    pub run_id: String,
    /// What the row now says.
    pub error: String,
}

/// The last signs of life of a running row.
struct Progress {
    rows: Option<u64>,
    bytes: Option<u64>,
    at: Option<String>,
    started_at: String,
}

/// The history database.
pub struct History {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

static PATH_OVERRIDE: OnceLock<PathBuf> = OnceLock::new();

/// Sets the file every command uses (the CLI's `--history`); first call wins.
pub fn set_path(path: PathBuf) {
    let _ = PATH_OVERRIDE.set(path);
}

/// Where the history lives: `--history`, else `$ADLS_WRITEBACK_HISTORY`, else
/// `$XDG_STATE_HOME/adls-writeback/history.sqlite`, else
/// `~/.local/state/adls-writeback/history.sqlite`. `None` when turned off
/// (`ADLS_WRITEBACK_HISTORY=off`) or there is no home.
pub fn default_path() -> Option<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let chosen = PATH_OVERRIDE
        .get()
        .cloned()
        .or_else(|| var("ADLS_WRITEBACK_HISTORY"));
    if let Some(path) = chosen {
        return (path.as_os_str() != "off").then_some(path);
    }
    var("XDG_STATE_HOME")
        .filter(|d| d.is_absolute())
        .or_else(|| var("HOME").map(|h| h.join(".local").join("state")))
        .map(|d| d.join("adls-writeback").join("history.sqlite"))
}

/// RFC 3339 UTC with milliseconds, as stored.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl History {
    /// Opens (creating it and its folder when missing) and migrates the database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<History> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the history folder `{}`", dir.display()))?;
        }
        let mut conn = Connection::open(path)
            .with_context(|| format!("cannot open the run history `{}`", path.display()))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        migrate(&mut conn)
            .with_context(|| format!("cannot upgrade the run history `{}`", path.display()))?;
        Ok(History {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_path_buf(),
        })
    }

    /// Opens the history at [`default_path`] (`None` when it is turned off), and marks the
    /// rows of processes that are gone `abandoned`, with a warning for each.
    pub fn open_default() -> anyhow::Result<Option<History>> {
        let Some(history) = default_path().map(|p| History::open(&p)).transpose()? else {
            return Ok(None);
        };
        match history.mark_abandoned() {
            Ok(rows) => {
                for row in rows {
                    tracing::warn!(job = row.job, "run {}: {}", row.run_id, row.error);
                }
            }
            Err(e) => tracing::warn!("run history: cannot look for abandoned runs: {e:#}"),
        }
        Ok(Some(history))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records the start of an attempt (status `running`, held by this process); returns
    /// its row ID. From now on the attempt's progress is written into the row.
    pub fn begin(&self, b: &Begin<'_>) -> anyhow::Result<i64> {
        let me = liveness::ProcessIdentity::current();
        let conn = self.lock();
        conn.execute(
            "INSERT INTO runs (job, run_id, attempt, trigger, scheduled_for, started_at, status,
                               host, pid, process_start)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?8, ?9)",
            params![
                b.job,
                b.run_id,
                b.attempt,
                b.trigger.as_str(),
                b.scheduled_for.map(format_time),
                format_time(b.started_at),
                me.map(|p| p.host.as_str()),
                std::process::id(),
                me.map(|p| p.start.as_str()),
            ],
        )?;
        let id = conn.last_insert_rowid();
        drop(conn);
        progress::watch(b.job, id, self.conn.clone());
        Ok(id)
    }

    /// Marks `running` rows whose process is gone `abandoned` (see [`liveness`] for how
    /// that is told); rows of processes this one cannot see are left as they are.
    pub fn mark_abandoned(&self) -> anyhow::Result<Vec<Abandoned>> {
        let Some(me) = liveness::ProcessIdentity::current() else {
            return Ok(Vec::new());
        };
        self.mark_abandoned_as(me)
    }

    fn mark_abandoned_as(&self, me: &liveness::ProcessIdentity) -> anyhow::Result<Vec<Abandoned>> {
        let conn = self.lock();
        let running: Vec<(Abandoned, liveness::ProcessIdentity, Progress)> = conn
            .prepare(
                "SELECT id, job, run_id, host, pid, process_start, rows, bytes, progress_at,
                        started_at
                 FROM runs WHERE status = 'running' AND host IS NOT NULL AND pid IS NOT NULL
                   AND process_start IS NOT NULL",
            )?
            .query_map([], |r| {
                let row = Abandoned {
                    id: r.get(0)?,
                    job: r.get(1)?,
                    run_id: r.get(2)?,
                    error: String::new(),
                };
                let process = liveness::ProcessIdentity {
                    host: r.get(3)?,
                    pid: r.get(4)?,
                    start: r.get(5)?,
                };
                let progress = Progress {
                    rows: r.get(6)?,
                    bytes: r.get(7)?,
                    at: r.get(8)?,
                    started_at: r.get(9)?,
                };
                Ok((row, process, progress))
            })?
            .collect::<Result<_, _>>()?;
        let now = format_time(Utc::now());
        let mut marked = Vec::new();
        for (mut row, process, progress) in running {
            if me.judge(&process.host, process.pid, &process.start) != liveness::Liveness::Gone {
                continue;
            }
            let last = match (progress.rows, progress.bytes, &progress.at) {
                (Some(rows), Some(bytes), Some(at)) => {
                    format!("last progress {rows} rows, {bytes} bytes at {at}")
                }
                _ => "no progress was recorded".to_string(),
            };
            row.error = format!(
                "abandoned: process {} on {} ended without recording an outcome (killed, or \
                 the machine restarted); {last}; found at {now}. It published nothing (a \
                 replace run's temporary file is removed by the job's next run)",
                process.pid, process.host
            );
            // It ran at least until its last progress.
            let ended = progress.at.unwrap_or(progress.started_at);
            let changed = conn.execute(
                "UPDATE runs SET status = 'abandoned', ended_at = ?2, error = ?3
                 WHERE id = ?1 AND status = 'running'",
                params![row.id, ended, row.error],
            )?;
            if changed == 1 {
                marked.push(row);
            }
        }
        Ok(marked)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the end of the attempt in row `id`.
    pub fn finish(
        &self,
        id: i64,
        status: Status,
        ended_at: DateTime<Utc>,
        o: &Outcome,
    ) -> anyhow::Result<()> {
        progress::unwatch(id);
        let files = (!o.files.is_empty())
            .then(|| serde_json::to_string(&o.files))
            .transpose()?;
        self.lock().execute(
            "UPDATE runs SET status = ?2, ended_at = ?3, rows = ?4, bytes = ?5, files = ?6,
             md5 = ?7, component_sha256 = ?8, error = ?9 WHERE id = ?1",
            params![
                id,
                status.as_str(),
                format_time(ended_at),
                o.rows,
                o.bytes,
                files,
                o.md5,
                o.component_sha256,
                o.error,
            ],
        )?;
        Ok(())
    }

    /// Records a scheduled run that was not started, and why.
    pub fn record_skip(&self, b: &Begin<'_>, reason: &str) -> anyhow::Result<i64> {
        let id = self.begin(b)?;
        let outcome = Outcome {
            error: Some(reason.to_string()),
            ..Outcome::default()
        };
        self.finish(id, Status::Skipped, b.started_at, &outcome)?;
        Ok(id)
    }

    /// The latest rows, newest first, of one job or of all.
    pub fn list(&self, job: Option<&str>, limit: usize) -> anyhow::Result<Vec<Record>> {
        let conn = self.lock();
        let mut statement = conn.prepare(
            "SELECT id, job, run_id, attempt, trigger, scheduled_for, started_at, ended_at, status,
                    rows, bytes, files, md5, component_sha256, error, host, pid, progress_at
             FROM runs WHERE ?1 IS NULL OR job = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(params![job, limit as i64], |r| {
            let files: Option<String> = r.get(11)?;
            Ok(Record {
                id: r.get(0)?,
                job: r.get(1)?,
                run_id: r.get(2)?,
                attempt: r.get(3)?,
                trigger: stored(r, 4, Trigger::parse)?,
                scheduled_for: r.get(5)?,
                started_at: r.get(6)?,
                ended_at: r.get(7)?,
                status: stored(r, 8, Status::parse)?,
                rows: r.get(9)?,
                bytes: r.get(10)?,
                files: files
                    .and_then(|f| serde_json::from_str(&f).ok())
                    .unwrap_or_default(),
                md5: r.get(12)?,
                component_sha256: r.get(13)?,
                error: r.get(14)?,
                host: r.get(15)?,
                pid: r.get(16)?,
                progress_at: r.get(17)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The latest run time the schedule of `job` was handled for (run or skipped): where
    /// looking for missed runs starts.
    pub fn last_scheduled(&self, job: &str) -> anyhow::Result<Option<DateTime<Utc>>> {
        let conn = self.lock();
        let text: Option<String> = conn
            .query_row(
                "SELECT max(scheduled_for) FROM runs WHERE job = ?1 AND scheduled_for IS NOT NULL",
                params![job],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(text
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc)))
    }
}

/// Column `index` of `row`, a name `parse` knows; an unknown one is a conversion error
/// (a database written by a newer version, say), not a silent default.
fn stored<T>(
    row: &rusqlite::Row<'_>,
    index: usize,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let name: String = row.get(index)?;
    parse(&name).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            format!("unknown value `{name}` in the run history").into(),
        )
    })
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let version: usize =
        conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize;
    anyhow::ensure!(
        version <= MIGRATIONS.len(),
        "the database is from a newer adls-writeback (schema {version}, this one knows {})",
        MIGRATIONS.len()
    );
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (step + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

mod liveness;
pub mod progress;
#[cfg(test)]
mod tests;
