//! Tests of the run history.

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

/// Sets the process a row names, as another process would have recorded it.
fn held_by(history: &History, id: i64, host: &str, pid: u32, start: &str) {
    history
        .lock()
        .execute(
            "UPDATE runs SET host = ?2, pid = ?3, process_start = ?4 WHERE id = ?1",
            params![id, host, pid, start],
        )
        .unwrap();
}

#[test]
fn rows_of_gone_processes_become_abandoned_with_their_last_progress() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(&dir.path().join("h.sqlite")).unwrap();
    let me = liveness::ProcessIdentity::current().expect("Linux with /proc");
    let at = "2026-05-01T10:00:00Z";
    let mine = history
        .begin(&begin("mine", 1, Trigger::Manual, at))
        .unwrap();
    let (boot, namespace) = {
        let parts: Vec<&str> = me.start.split(' ').collect();
        (parts[0].to_string(), parts[1].to_string())
    };
    // A process that has ended: a child that ran and was waited for.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let killed = history
        .begin(&begin("killed", 1, Trigger::Schedule, at))
        .unwrap();
    held_by(
        &history,
        killed,
        &me.host,
        dead_pid,
        &format!("{boot} {namespace} 777"),
    );
    progress::record("killed", 40, 4096);
    progress::flush();
    // This process's PID, but recorded by an earlier process that had it (a reused PID).
    let reused = history
        .begin(&begin("reused", 1, Trigger::Manual, at))
        .unwrap();
    held_by(
        &history,
        reused,
        &me.host,
        me.pid,
        &format!("{boot} {namespace} 1"),
    );
    // Another pod sharing the file: cannot be judged from here.
    let elsewhere = history
        .begin(&begin("elsewhere", 1, Trigger::Manual, at))
        .unwrap();
    held_by(&history, elsewhere, "another-pod", dead_pid, &me.start);
    // Finished rows are never touched.
    let done = history
        .begin(&begin("done", 1, Trigger::Manual, at))
        .unwrap();
    history
        .finish(
            done,
            Status::Succeeded,
            at.parse().unwrap(),
            &Outcome::default(),
        )
        .unwrap();

    let marked = history.mark_abandoned().unwrap();
    let mut jobs: Vec<&str> = marked.iter().map(|a| a.job.as_str()).collect();
    jobs.sort();
    assert_eq!(jobs, ["killed", "reused"], "{marked:?}");
    assert!(history.mark_abandoned().unwrap().is_empty(), "once only");

    let rows = history.list(None, 10).unwrap();
    let status = |id: i64| {
        let r = rows.iter().find(|r| r.id == id).unwrap();
        (r.status, r.rows, r.bytes, r.error.clone())
    };
    assert_eq!(status(mine).0, Status::Running, "this process is alive");
    assert_eq!(status(elsewhere).0, Status::Running);
    assert_eq!(status(done).0, Status::Succeeded);
    let (s, rows_done, bytes_done, error) = status(killed);
    assert_eq!(
        (s.as_str(), rows_done, bytes_done),
        ("abandoned", Some(40), Some(4096))
    );
    let error = error.unwrap();
    assert!(
        error.contains(&format!("process {dead_pid}"))
            && error.contains("last progress 40 rows, 4096 bytes"),
        "{error}"
    );
    let killed_row = rows.iter().find(|r| r.id == killed).unwrap();
    assert_eq!(
        killed_row.ended_at, killed_row.progress_at,
        "ran until its last progress"
    );
    let (s, _, _, error) = status(reused);
    assert_eq!(s, Status::Abandoned);
    assert!(error.unwrap().contains("no progress was recorded"));
}

#[test]
fn progress_reaches_a_running_row_but_never_a_finished_one() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(&dir.path().join("h.sqlite")).unwrap();
    let at = "2026-05-01T10:00:00Z";
    let id = history
        .begin(&begin("progressing", 1, Trigger::Manual, at))
        .unwrap();
    progress::record("progressing", 10, 1000);
    progress::record("progressing", 20, 2000);
    progress::record("someone-else", 1, 1);
    progress::flush();
    let row = &history.list(Some("progressing"), 1).unwrap()[0];
    assert_eq!((row.rows, row.bytes), (Some(20), Some(2000)));
    assert!(row.progress_at.is_some());
    assert_eq!(row.pid, Some(std::process::id()));

    let outcome = Outcome {
        rows: Some(25),
        bytes: Some(2500),
        ..Outcome::default()
    };
    history
        .finish(id, Status::Succeeded, at.parse().unwrap(), &outcome)
        .unwrap();
    progress::record("progressing", 99, 9999);
    progress::flush();
    let row = &history.list(Some("progressing"), 1).unwrap()[0];
    assert_eq!((row.rows, row.bytes), (Some(25), Some(2500)));
}

#[test]
fn an_old_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO runs (job, run_id, attempt, trigger, started_at, status)
             VALUES ('old', 'r0', 1, 'manual', '2026-01-01T00:00:00.000Z', 'running')",
            [],
        )
        .unwrap();
    }
    let history = History::open(&path).unwrap();
    // A row from before process identities were recorded cannot be judged: kept.
    assert!(history.mark_abandoned().unwrap().is_empty());
    let rows = history.list(None, 10).unwrap();
    assert_eq!((rows[0].job.as_str(), rows[0].pid), ("old", None));
}

#[test]
fn stored_names_round_trip_and_match_the_json() {
    for t in Trigger::ALL {
        assert_eq!(Trigger::parse(t.as_str()), Some(t));
        assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
    }
    for s in Status::ALL {
        assert_eq!(Status::parse(s.as_str()), Some(s));
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    assert_eq!(Status::parse("paused"), None);
}
