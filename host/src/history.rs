//! Run history: one SQLite file, one row per attempt (and per skipped run), written by
//! `run` and `serve` and read by `history`.
//!
//! The schema is created and upgraded in code ([`MIGRATIONS`], counted in
//! `PRAGMA user_version`). The file is in WAL mode with a busy timeout, so it survives a
//! crash mid-write and several processes (a `serve`, `run`s, `history` readers) can use it
//! at once. Times are RFC 3339 UTC text with milliseconds, which sort as they read.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// The schema, one step per entry; step `i` brings `user_version` from `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &["
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
"];

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
}

impl Status {
    /// The name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Cancelled => "cancelled",
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

/// One row of the history.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub id: i64,
    pub job: String,
    pub run_id: String,
    pub attempt: u32,
    pub trigger: String,
    pub scheduled_for: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub status: String,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    pub files: Vec<String>,
    pub md5: Option<String>,
    pub component_sha256: Option<String>,
    pub error: Option<String>,
}

/// The history database.
pub struct History {
    conn: Mutex<Connection>,
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
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// Opens the history at [`default_path`]; `None` when it is turned off.
    pub fn open_default() -> anyhow::Result<Option<History>> {
        default_path().map(|p| History::open(&p)).transpose()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records the start of an attempt (status `running`); returns its row ID.
    pub fn begin(&self, b: &Begin<'_>) -> anyhow::Result<i64> {
        let conn = self.conn.lock().expect("not poisoned");
        conn.execute(
            "INSERT INTO runs (job, run_id, attempt, trigger, scheduled_for, started_at, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running')",
            params![
                b.job,
                b.run_id,
                b.attempt,
                b.trigger.as_str(),
                b.scheduled_for.map(format_time),
                format_time(b.started_at),
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Records the end of the attempt in row `id`.
    pub fn finish(
        &self,
        id: i64,
        status: Status,
        ended_at: DateTime<Utc>,
        o: &Outcome,
    ) -> anyhow::Result<()> {
        let files = (!o.files.is_empty())
            .then(|| serde_json::to_string(&o.files))
            .transpose()?;
        self.conn.lock().expect("not poisoned").execute(
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
        let conn = self.conn.lock().expect("not poisoned");
        let mut statement = conn.prepare(
            "SELECT id, job, run_id, attempt, trigger, scheduled_for, started_at, ended_at, status,
                    rows, bytes, files, md5, component_sha256, error
             FROM runs WHERE ?1 IS NULL OR job = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(params![job, limit as i64], |r| {
            let files: Option<String> = r.get(11)?;
            Ok(Record {
                id: r.get(0)?,
                job: r.get(1)?,
                run_id: r.get(2)?,
                attempt: r.get(3)?,
                trigger: r.get(4)?,
                scheduled_for: r.get(5)?,
                started_at: r.get(6)?,
                ended_at: r.get(7)?,
                status: r.get(8)?,
                rows: r.get(9)?,
                bytes: r.get(10)?,
                files: files
                    .and_then(|f| serde_json::from_str(&f).ok())
                    .unwrap_or_default(),
                md5: r.get(12)?,
                component_sha256: r.get(13)?,
                error: r.get(14)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The latest run time the schedule of `job` was handled for (run or skipped): where
    /// looking for missed runs starts.
    pub fn last_scheduled(&self, job: &str) -> anyhow::Result<Option<DateTime<Utc>>> {
        let conn = self.conn.lock().expect("not poisoned");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(job: &str, attempt: u32, trigger: Trigger, at: &str) -> Begin<'static> {
        Begin {
            job: Box::leak(job.to_string().into_boxed_str()),
            run_id: "r1",
            attempt,
            trigger,
            scheduled_for: Some(at.parse().unwrap()),
            started_at: at.parse().unwrap(),
        }
    }

    #[test]
    fn attempts_are_recorded_and_listed_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(&dir.path().join("deep/h.sqlite")).unwrap();
        let first = history
            .begin(&begin(
                "sales",
                1,
                Trigger::Schedule,
                "2026-05-01T10:00:00Z",
            ))
            .unwrap();
        let failure = Outcome {
            error: Some("boom".into()),
            ..Outcome::default()
        };
        history
            .finish(
                first,
                Status::Failed,
                "2026-05-01T10:00:05Z".parse().unwrap(),
                &failure,
            )
            .unwrap();
        let second = history
            .begin(&begin("sales", 2, Trigger::Retry, "2026-05-01T10:05:00Z"))
            .unwrap();
        let success = Outcome {
            rows: Some(120),
            bytes: Some(8049),
            files: vec!["writeback/out/sales.csv".into()],
            md5: Some("abc==".into()),
            component_sha256: Some("00ff".into()),
            error: None,
        };
        history
            .finish(
                second,
                Status::Succeeded,
                "2026-05-01T10:05:02Z".parse().unwrap(),
                &success,
            )
            .unwrap();
        history
            .record_skip(
                &begin("other", 1, Trigger::Schedule, "2026-05-01T11:00:00Z"),
                "still going",
            )
            .unwrap();

        let all = history.list(None, 10).unwrap();
        assert_eq!(
            all.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(),
            ["skipped", "succeeded", "failed"]
        );
        let sales = history.list(Some("sales"), 1).unwrap();
        assert_eq!(sales.len(), 1);
        let r = &sales[0];
        assert_eq!(
            (r.attempt, r.trigger.as_str(), r.rows, r.bytes),
            (2, "retry", Some(120), Some(8049))
        );
        assert_eq!(r.files, ["writeback/out/sales.csv"]);
        assert_eq!(r.started_at, "2026-05-01T10:05:00.000Z");
        assert_eq!(r.ended_at.as_deref(), Some("2026-05-01T10:05:02.000Z"));
        assert_eq!(
            history.last_scheduled("sales").unwrap(),
            Some("2026-05-01T10:05:00Z".parse().unwrap())
        );
        assert_eq!(history.last_scheduled("nobody").unwrap(), None);
    }

    #[test]
    fn reopening_keeps_rows_and_skips_applied_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        History::open(&path)
            .unwrap()
            .begin(&begin("a", 1, Trigger::Manual, "2026-05-01T10:00:00Z"))
            .unwrap();
        let again = History::open(&path).unwrap();
        assert_eq!(again.list(None, 10).unwrap().len(), 1);
        let conn = again.conn.lock().unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_reader_and_a_writer_share_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        let writer = History::open(&path).unwrap();
        let reader = History::open(&path).unwrap();
        for i in 0..20 {
            writer
                .begin(&begin("a", i, Trigger::Manual, "2026-05-01T10:00:00Z"))
                .unwrap();
            assert_eq!(reader.list(None, 100).unwrap().len(), i as usize + 1);
        }
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = History::open(&path).err().unwrap();
        assert!(format!("{err:#}").contains("newer"), "{err:#}");
    }
}
