use super::*;

fn schedule(text: &str) -> Schedule {
    let section: ScheduleSection = toml::from_str(text).unwrap();
    Schedule::from_section(&section).unwrap_or_else(|e| panic!("{text}: {e:?}"))
}

fn problems(text: &str) -> Vec<String> {
    let section: ScheduleSection = toml::from_str(text).unwrap();
    match Schedule::from_section(&section) {
        Ok(_) => Vec::new(),
        Err(list) => list.into_iter().map(|p| p.field).collect(),
    }
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// The next `n` run times after `from`, in the schedule's zone with their offsets.
fn nexts(s: &Schedule, from: &str, n: usize) -> Vec<String> {
    let mut t = utc(from);
    (0..n)
        .map(|_| {
            t = s.next_after(t).expect("a next run");
            t.with_timezone(&s.zone)
                .format("%Y-%m-%dT%H:%M%:z")
                .to_string()
        })
        .collect()
}

#[test]
fn next_run_times_of_every_kind() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "every 15 minutes, aligned to the hour",
            "kind = \"interval\"\nevery_minutes = 15",
            "2026-03-01T10:07:00Z",
            &[
                "2026-03-01T10:15+00:00",
                "2026-03-01T10:30+00:00",
                "2026-03-01T10:45+00:00",
            ],
        ),
        (
            "every 2 hours counts elapsed time across New York's spring-forward",
            "kind = \"interval\"\nevery_hours = 2\nstart = \"2026-03-07T23:00\"\ntime_zone = \"America/New_York\"",
            "2026-03-08T05:30:00Z",
            &[
                "2026-03-08T01:00-05:00",
                "2026-03-08T04:00-04:00",
                "2026-03-08T06:00-04:00",
            ],
        ),
        (
            "every 2 days from the start's time of day, over a month end",
            "kind = \"interval\"\nevery_days = 2\nstart = 2026-01-30T06:00:00",
            "2026-01-30T07:00:00Z",
            &[
                "2026-02-01T06:00+00:00",
                "2026-02-03T06:00+00:00",
                "2026-02-05T06:00+00:00",
            ],
        ),
        (
            "daily keeps the wall-clock time over Berlin's spring-forward",
            "kind = \"daily\"\nat = \"06:30\"\ntime_zone = \"Europe/Berlin\"",
            "2026-03-28T05:00:00Z",
            &[
                "2026-03-28T06:30+01:00",
                "2026-03-29T06:30+02:00",
                "2026-03-30T06:30+02:00",
            ],
        ),
        (
            "a time in Berlin's gap runs when the clock has jumped",
            "kind = \"daily\"\nat = \"02:30\"\ntime_zone = \"Europe/Berlin\"",
            "2026-03-28T12:00:00Z",
            &["2026-03-29T03:00+02:00", "2026-03-30T02:30+02:00"],
        ),
        (
            "a time in New York's gap runs when the clock has jumped",
            "kind = \"daily\"\nat = \"02:30\"\ntime_zone = \"America/New_York\"",
            "2026-03-07T12:00:00Z",
            &["2026-03-08T03:00-04:00", "2026-03-09T02:30-04:00"],
        ),
        (
            "a time New York's fall-back repeats runs once, at the first",
            "kind = \"daily\"\nat = \"01:30\"\ntime_zone = \"America/New_York\"",
            "2026-10-31T12:00:00Z",
            &["2026-11-01T01:30-04:00", "2026-11-02T01:30-05:00"],
        ),
        (
            "a time Berlin's fall-back repeats runs once, at the first",
            "kind = \"daily\"\nat = \"02:30\"\ntime_zone = \"Europe/Berlin\"",
            "2026-10-24T12:00:00Z",
            &["2026-10-25T02:30+02:00", "2026-10-26T02:30+01:00"],
        ),
        (
            "weekly on chosen weekdays",
            "kind = \"weekly\"\nweekdays = [\"mon\", \"Thursday\"]\nat = \"09:00\"",
            "2026-01-01T10:00:00Z",
            &[
                "2026-01-05T09:00+00:00",
                "2026-01-08T09:00+00:00",
                "2026-01-12T09:00+00:00",
            ],
        ),
        (
            "the 31st skips shorter months, as cron does",
            "kind = \"monthly\"\ndays = [31]\nat = \"12:00\"",
            "2026-01-31T12:00:00Z",
            &[
                "2026-03-31T12:00+00:00",
                "2026-05-31T12:00+00:00",
                "2026-07-31T12:00+00:00",
            ],
        ),
        (
            "\"last\" is each month's last day, leap years included",
            "kind = \"monthly\"\ndays = [\"last\"]\nat = \"23:00\"",
            "2028-01-31T23:00:00Z",
            &[
                "2028-02-29T23:00+00:00",
                "2028-03-31T23:00+00:00",
                "2028-04-30T23:00+00:00",
            ],
        ),
        (
            "several days and several times",
            "kind = \"monthly\"\ndays = [15, 1]\nat = [\"18:00\", \"06:00\"]",
            "2026-01-01T07:00:00Z",
            &[
                "2026-01-01T18:00+00:00",
                "2026-01-15T06:00+00:00",
                "2026-01-15T18:00+00:00",
                "2026-02-01T06:00+00:00",
            ],
        ),
        (
            "the second and fourth Sunday",
            "kind = \"monthly\"\nweeks = [\"second\", \"fourth\"]\nweekdays = [\"sun\"]\nat = \"07:00\"",
            "2026-01-01T00:00:00Z",
            &[
                "2026-01-11T07:00+00:00",
                "2026-01-25T07:00+00:00",
                "2026-02-08T07:00+00:00",
                "2026-02-22T07:00+00:00",
            ],
        ),
        (
            "the last Friday",
            "kind = \"monthly\"\nweeks = [\"last\"]\nweekdays = [\"friday\"]",
            "2026-01-01T00:00:00Z",
            &[
                "2026-01-30T00:00+00:00",
                "2026-02-27T00:00+00:00",
                "2026-03-27T00:00+00:00",
            ],
        ),
        (
            "cron on weekdays in Berlin, over the clock change",
            "kind = \"cron\"\ncron = \"0 6 * * 1-5\"\ntime_zone = \"Europe/Berlin\"",
            "2026-03-27T12:00:00Z",
            &["2026-03-30T06:00+02:00", "2026-03-31T06:00+02:00"],
        ),
        (
            "cron in Berlin's gap runs when the clock has jumped, like the calendar kinds",
            "kind = \"cron\"\ncron = \"30 2 * * *\"\ntime_zone = \"Europe/Berlin\"",
            "2026-03-28T12:00:00Z",
            &["2026-03-29T03:00+02:00", "2026-03-30T02:30+02:00"],
        ),
        (
            "cron runs each wall-clock time of a repeated hour once, at the first",
            "kind = \"cron\"\ncron = \"*/30 * * * *\"\ntime_zone = \"America/New_York\"",
            "2026-11-01T04:45:00Z",
            &[
                "2026-11-01T01:00-04:00",
                "2026-11-01T01:30-04:00",
                "2026-11-01T02:00-05:00",
            ],
        ),
        (
            "cron asked during the second pass of a repeated hour looks ahead, not back",
            "kind = \"cron\"\ncron = \"*/30 * * * *\"\ntime_zone = \"America/New_York\"",
            "2026-11-01T06:15:00Z",
            &["2026-11-01T02:00-05:00"],
        ),
        (
            "daily asked during the second pass of a repeated hour looks ahead, not back",
            "kind = \"daily\"\nat = \"01:30\"\ntime_zone = \"America/New_York\"",
            "2026-11-01T06:15:00Z",
            &["2026-11-02T01:30-05:00"],
        ),
        (
            "cron's 31st skips shorter months",
            "kind = \"cron\"\ncron = \"0 0 31 * *\"",
            "2026-01-31T12:00:00Z",
            &["2026-03-31T00:00+00:00", "2026-05-31T00:00+00:00"],
        ),
        (
            "nothing before start",
            "kind = \"daily\"\nat = \"06:00\"\nstart = \"2026-06-10T12:00\"",
            "2026-01-01T00:00:00Z",
            &["2026-06-11T06:00+00:00", "2026-06-12T06:00+00:00"],
        ),
        (
            "start with an offset is an instant",
            "kind = \"interval\"\nevery_hours = 6\nstart = \"2026-06-10T12:00:00+02:00\"",
            "2026-06-10T11:00:00Z",
            &["2026-06-10T16:00+00:00", "2026-06-10T22:00+00:00"],
        ),
    ];
    for (what, text, from, expected) in cases {
        let s = schedule(text);
        assert_eq!(nexts(&s, from, expected.len()), *expected, "{what}");
    }
}

#[test]
fn next_is_strictly_after() {
    let s = schedule("kind = \"daily\"\nat = \"06:00\"");
    let at = utc("2026-05-01T06:00:00Z");
    assert_eq!(s.next_after(at), Some(utc("2026-05-02T06:00:00Z")));
    assert_eq!(s.next_after(at - Duration::milliseconds(1)), Some(at));
    let every = schedule("kind = \"interval\"\nevery_minutes = 1");
    assert_eq!(
        every.next_after(utc("2026-05-01T06:00:00Z")),
        Some(utc("2026-05-01T06:01:00Z"))
    );
    assert_eq!(
        every.next_after(utc("2026-05-01T06:00:59.5Z")),
        Some(utc("2026-05-01T06:01:00Z"))
    );
}

#[test]
fn manual_never_runs_by_itself() {
    assert!(Schedule::manual().next_after(Utc::now()).is_none());
    let s = schedule("kind = \"manual\"");
    assert!(s.is_manual() && s.next_after(Utc::now()).is_none());
    assert_eq!(s.describe(), "manual");
}

#[test]
fn latest_due_is_the_last_missed_run() {
    let s = schedule("kind = \"interval\"\nevery_hours = 1");
    let after = utc("2026-05-01T10:00:00Z");
    assert_eq!(
        s.latest_due(after, utc("2026-05-01T13:30:00Z")),
        Some(utc("2026-05-01T13:00:00Z"))
    );
    assert_eq!(s.latest_due(after, utc("2026-05-01T10:30:00Z")), None);
}

#[test]
fn every_problem_is_reported_by_field() {
    let cases: &[(&str, &[&str])] = &[
        ("kind = \"hourly\"", &["schedule.kind"]),
        ("at = \"06:00\"", &["schedule.kind"]),
        (
            "kind = \"daily\"\ntime_zone = \"Mars/Olympus\"",
            &["schedule.time_zone"],
        ),
        ("kind = \"daily\"\nat = \"25:00\"", &["schedule.at"]),
        ("kind = \"daily\"\nat = [6]", &["schedule.at"]),
        (
            "kind = \"daily\"\nweekdays = [\"mon\"]",
            &["schedule.weekdays"],
        ),
        ("kind = \"interval\"", &["schedule.every_minutes"]),
        (
            "kind = \"interval\"\nevery_minutes = 5\nevery_hours = 1",
            &["schedule.every_minutes"],
        ),
        (
            "kind = \"interval\"\nevery_minutes = 0",
            &["schedule.every_minutes"],
        ),
        (
            "kind = \"interval\"\nevery_days = 2\nat = \"06:00\"",
            &["schedule.at"],
        ),
        ("kind = \"weekly\"", &["schedule.weekdays"]),
        (
            "kind = \"weekly\"\nweekdays = [\"funday\"]",
            &["schedule.weekdays"],
        ),
        ("kind = \"monthly\"", &["schedule.days"]),
        ("kind = \"monthly\"\ndays = [32]", &["schedule.days"]),
        (
            "kind = \"monthly\"\nweeks = [\"fifth\"]\nweekdays = [\"sun\"]",
            &["schedule.weeks"],
        ),
        (
            "kind = \"monthly\"\nweeks = [\"first\"]",
            &["schedule.weekdays"],
        ),
        ("kind = \"cron\"", &["schedule.cron"]),
        (
            "kind = \"cron\"\ncron = \"every tuesday\"",
            &["schedule.cron"],
        ),
        (
            "kind = \"daily\"\nstart = \"tomorrow\"",
            &["schedule.start"],
        ),
        ("kind = \"manual\"\nat = \"06:00\"", &["schedule.at"]),
    ];
    for (text, fields) in cases {
        assert_eq!(problems(text), *fields, "{text}");
    }
}

#[test]
fn describe_reads_as_the_settings() {
    for (text, expected) in [
        (
            "kind = \"interval\"\nevery_minutes = 15",
            "every 15 minute(s) (UTC)",
        ),
        (
            "kind = \"monthly\"\nweeks = [\"second\", \"fourth\"]\nweekdays = [\"sun\"]\ntime_zone = \"Europe/Berlin\"",
            "monthly on the second and fourth Sun at 00:00 (Europe/Berlin)",
        ),
        (
            "kind = \"cron\"\ncron = \"0 6 * * 1-5\"",
            "cron `0 6 * * 1-5` (UTC)",
        ),
    ] {
        assert_eq!(schedule(text).describe(), expected);
    }
}
