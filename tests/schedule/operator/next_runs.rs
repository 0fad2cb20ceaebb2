//! `validate --next N --from INSTANT` over the nights clocks change (Berlin and New York,
//! both directions), month ends and 29 February.

use crate::schedule::{cli_env, text};

/// The run times `validate --next N --from FROM --json` lists for `schedule`.
async fn next_runs(dir: &std::path::Path, schedule: &str, from: &str, n: usize) -> Vec<String> {
    let job = super::scheduled_job(dir, "next", schedule);
    let count = n.to_string();
    let args = [
        "validate",
        job.to_str().unwrap(),
        "--json",
        "--next",
        &count,
        "--from",
        from,
    ];
    let output = cli_env(&args, &[], None).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{schedule}: {}",
        text(&output)
    );
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    value["next_runs"]
        .as_array()
        .unwrap_or_else(|| panic!("no next_runs: {value}"))
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_lists_next_runs_over_dst_nights_month_ends_and_leap_days() {
    let dir = tempfile::tempdir().unwrap();
    let berlin = "time_zone = \"Europe/Berlin\"";
    let new_york = "time_zone = \"America/New_York\"";
    let cases: Vec<(String, &str, Vec<&str>)> = vec![
        // Berlin springs forward at 02:00 on 29 March 2026: 02:30 does not exist and runs
        // at 03:00 CEST. `--from` is inclusive.
        (
            format!("kind = \"daily\"\nat = \"02:30\"\n{berlin}"),
            "2026-03-28T01:30:00Z",
            vec![
                "2026-03-28T02:30:00+01:00",
                "2026-03-29T03:00:00+02:00",
                "2026-03-30T02:30:00+02:00",
            ],
        ),
        // Berlin falls back at 03:00 on 25 October 2026: 02:30 happens twice, runs once.
        (
            format!("kind = \"daily\"\nat = \"02:30\"\n{berlin}"),
            "2026-10-24T00:00:00Z",
            vec![
                "2026-10-24T02:30:00+02:00",
                "2026-10-25T02:30:00+02:00",
                "2026-10-26T02:30:00+01:00",
            ],
        ),
        // An interval counts elapsed time: both passes of the repeated hour.
        (
            format!("kind = \"interval\"\nevery_minutes = 30\n{berlin}"),
            "2026-10-25T00:00:00Z",
            vec![
                "2026-10-25T02:00:00+02:00",
                "2026-10-25T02:30:00+02:00",
                "2026-10-25T02:00:00+01:00",
                "2026-10-25T02:30:00+01:00",
            ],
        ),
        // New York springs forward on 8 March 2026 and falls back on 1 November.
        (
            format!("kind = \"weekly\"\nweekdays = [\"sun\"]\nat = \"02:30\"\n{new_york}"),
            "2026-03-01T00:00:00Z",
            vec![
                "2026-03-01T02:30:00-05:00",
                "2026-03-08T03:00:00-04:00",
                "2026-03-15T02:30:00-04:00",
            ],
        ),
        (
            format!("kind = \"weekly\"\nweekdays = [\"sun\"]\nat = \"01:30\"\n{new_york}"),
            "2026-10-25T12:00:00Z",
            vec!["2026-11-01T01:30:00-04:00", "2026-11-08T01:30:00-05:00"],
        ),
        // Month ends: the last day of each month, and the 31st only where there is one.
        (
            format!("kind = \"monthly\"\ndays = [\"last\"]\nat = \"23:30\"\n{berlin}"),
            "2026-01-15T00:00:00Z",
            vec![
                "2026-01-31T23:30:00+01:00",
                "2026-02-28T23:30:00+01:00",
                "2026-03-31T23:30:00+02:00",
                "2026-04-30T23:30:00+02:00",
            ],
        ),
        (
            "kind = \"monthly\"\ndays = [31]\nat = \"06:00\"".into(),
            "2026-01-01T00:00:00Z",
            vec![
                "2026-01-31T06:00:00+00:00",
                "2026-03-31T06:00:00+00:00",
                "2026-05-31T06:00:00+00:00",
                "2026-07-31T06:00:00+00:00",
            ],
        ),
        // 29 February: skipped in 2027, there in 2028; a cron for it waits for leap years.
        (
            "kind = \"monthly\"\ndays = [29]\nat = \"12:00\"".into(),
            "2027-01-01T00:00:00Z",
            vec![
                "2027-01-29T12:00:00+00:00",
                "2027-03-29T12:00:00+00:00",
                "2027-04-29T12:00:00+00:00",
            ],
        ),
        (
            "kind = \"monthly\"\ndays = [29]\nat = \"12:00\"".into(),
            "2028-02-01T00:00:00+01:00",
            vec!["2028-02-29T12:00:00+00:00", "2028-03-29T12:00:00+00:00"],
        ),
        (
            "kind = \"cron\"\ncron = \"0 12 29 2 *\"".into(),
            "2026-01-01T00:00:00Z",
            vec!["2028-02-29T12:00:00+00:00", "2032-02-29T12:00:00+00:00"],
        ),
    ];
    for (schedule, from, want) in &cases {
        let got = next_runs(dir.path(), schedule, from, want.len()).await;
        assert_eq!(&got, want, "{schedule}\nfrom {from}");
    }

    // For people: the job's wall clock beside UTC.
    let job = super::scheduled_job(
        dir.path(),
        "spring",
        "kind = \"daily\"\nat = \"02:30\"\ntime_zone = \"Europe/Berlin\"",
    );
    let args = [
        "validate",
        job.to_str().unwrap(),
        "--next",
        "2",
        "--from",
        "2026-03-29T00:00:00+01:00",
    ];
    let output = cli_env(&args, &[], None).await;
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    for line in [
        "schedule: daily at 02:30 (Europe/Berlin)",
        "next 2 run(s) at or after 2026-03-28T23:00:00.000Z:",
        "  Sun 2026-03-29 03:00:00 CEST (+02:00)  2026-03-29 01:00:00 UTC",
        "  Mon 2026-03-30 02:30:00 CEST (+02:00)  2026-03-30 00:30:00 UTC",
    ] {
        assert!(
            shown.lines().any(|l| l == line),
            "`{line}` not in:\n{shown}"
        );
    }

    // Bad values name the flag and the fix; --from alone is refused.
    for (args, needle) in [
        (vec!["--next", "0"], "give 1 to 1000"),
        (
            vec!["--next", "3", "--from", "2026-03-29"],
            "not an RFC 3339 instant",
        ),
        (vec!["--from", "2026-03-29T00:00:00Z"], "--next"),
    ] {
        let mut all = vec!["validate", job.to_str().unwrap()];
        all.extend(args);
        let output = cli_env(&all, &[], None).await;
        assert_eq!(output.status.code(), Some(2), "{all:?}: {}", text(&output));
        assert!(text(&output).contains(needle), "{all:?}: {}", text(&output));
    }

    // A bad [schedule] is a problem by field, and there are no run times to show.
    let bad = super::scheduled_job(
        dir.path(),
        "bad",
        "kind = \"daily\"\ntime_zone = \"Mars/Olympus\"",
    );
    let output = cli_env(
        &["validate", bad.to_str().unwrap(), "--next", "3"],
        &[],
        None,
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let shown = text(&output);
    assert!(
        shown.contains("schedule.time_zone: `Mars/Olympus` is not an IANA time zone")
            && shown.contains("no run times: the schedule is invalid"),
        "{shown}"
    );

    // A manual job has no run times.
    let manual = super::scheduled_job(dir.path(), "manual", "kind = \"manual\"");
    let output = cli_env(
        &[
            "validate",
            manual.to_str().unwrap(),
            "--next",
            "3",
            "--json",
        ],
        &[],
        None,
    )
    .await;
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["next_runs"], serde_json::json!([]), "{value}");
}
