//! Reading `[schedule]`'s values: times, weekdays, month days, weeks, `start`, and the
//! `interval` and `monthly` rules.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use super::{DayRule, Rule, ScheduleSection, resolve_local};

pub(super) fn interval_rule(
    s: &ScheduleSection,
    start: Option<(NaiveDateTime, DateTime<Utc>)>,
    zone: Tz,
    problem: &mut impl FnMut(&str, String),
) -> Option<Rule> {
    let given: Vec<(&str, u32)> = [
        ("every_minutes", s.every_minutes),
        ("every_hours", s.every_hours),
        ("every_days", s.every_days),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let &[(key, n)] = given.as_slice() else {
        problem(
            "every_minutes",
            "give exactly one of every_minutes, every_hours or every_days".into(),
        );
        return None;
    };
    let max = match key {
        "every_minutes" => 7 * 24 * 60,
        "every_hours" => 7 * 24,
        _ => 365,
    };
    if !(1..=max).contains(&n) {
        problem(key, format!("{n} is out of range: 1 to {max}"));
        return None;
    }
    // Without `start`, steps count from midnight of 1970-01-01 in the zone, so
    // `every_hours = 1` runs on the hour and `every_minutes = 15` at :00, :15, :30, :45.
    let (local, utc) = start.unwrap_or_else(|| {
        let local = NaiveDate::from_ymd_opt(1970, 1, 1)
            .expect("valid")
            .and_time(NaiveTime::MIN);
        (local, resolve_local(zone, local))
    });
    Some(match key {
        "every_minutes" => Rule::Every {
            step: Duration::minutes(n.into()),
            anchor: utc,
        },
        "every_hours" => Rule::Every {
            step: Duration::hours(n.into()),
            anchor: utc,
        },
        _ => Rule::EveryDays {
            n,
            from: local.date(),
            time: local.time(),
        },
    })
}

pub(super) fn monthly_rule(
    s: &ScheduleSection,
    weekdays: &impl Fn(&Option<Vec<String>>) -> Result<Vec<Weekday>, String>,
    problem: &mut impl FnMut(&str, String),
) -> Option<DayRule> {
    match (&s.days, &s.weeks) {
        (Some(days), None) => {
            if s.weekdays.is_some() {
                problem("weekdays", "goes with `weeks`, not with `days`".into());
            }
            parse_month_days(days).map_err(|e| problem("days", e)).ok()
        }
        (None, Some(weeks)) => {
            let days = weekdays(&s.weekdays).map_err(|e| problem("weekdays", e));
            let weeks = parse_weeks(weeks).map_err(|e| problem("weeks", e));
            let ((weeks, last), weekdays) = (weeks.ok()?, days.ok()?);
            Some(DayRule::MonthWeeks {
                weeks,
                last,
                weekdays,
            })
        }
        _ => {
            problem(
                "days",
                "give either `days` (like [1, 15, \"last\"]) or `weeks` with `weekdays` (like weeks = [\"second\", \"fourth\"], weekdays = [\"sun\"])".into(),
            );
            None
        }
    }
}

pub(super) fn parse_month_days(value: &toml::Value) -> Result<DayRule, String> {
    let list = match value {
        toml::Value::Array(list) if !list.is_empty() => list.as_slice(),
        _ => return Err("give a list of days, like [1, 15, \"last\"]".into()),
    };
    let (mut days, mut last) = (Vec::new(), false);
    for v in list {
        match v {
            toml::Value::Integer(d) if (1..=31).contains(d) => days.push(*d as u32),
            toml::Value::String(s) if s.eq_ignore_ascii_case("last") => last = true,
            other => return Err(format!("`{other}` is not a day: use 1 to 31, or \"last\"")),
        }
    }
    Ok(DayRule::MonthDays { days, last })
}

pub(super) fn parse_weeks(list: &[String]) -> Result<(Vec<u32>, bool), String> {
    if list.is_empty() {
        return Err("missing: which weeks, e.g. [\"second\", \"fourth\"]".into());
    }
    let (mut weeks, mut last) = (Vec::new(), false);
    for w in list {
        match w.to_ascii_lowercase().as_str() {
            "first" => weeks.push(0),
            "second" => weeks.push(1),
            "third" => weeks.push(2),
            "fourth" => weeks.push(3),
            "last" => last = true,
            _ => {
                return Err(format!(
                    "`{w}` is not a week: use \"first\", \"second\", \"third\", \"fourth\" or \"last\""
                ));
            }
        }
    }
    Ok((weeks, last))
}

pub(super) fn parse_weekday(name: &str) -> Result<Weekday, String> {
    const NAMES: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let lower = name.to_ascii_lowercase();
    NAMES
        .iter()
        .position(|full| lower == *full || lower == full[..3])
        .and_then(|i| Weekday::try_from(i as u8).ok())
        .ok_or_else(|| format!("`{name}` is not a weekday: use mon … sun or monday … sunday"))
}

pub(super) fn parse_time(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
        .map_err(|_| format!("`{text}` is not a time of day: use \"HH:MM\" (24-hour)"))
}

/// `start` as a local date-time in `zone` (and its instant), or an instant with an offset.
pub(super) fn parse_start(
    value: &toml::Value,
    zone: Tz,
) -> Result<(NaiveDateTime, DateTime<Utc>), String> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        _ => return Err("give a date-time like \"2026-01-05T06:00\"".into()),
    };
    if let Ok(instant) = DateTime::parse_from_rfc3339(&text) {
        let utc = instant.with_timezone(&Utc);
        return Ok((utc.with_timezone(&zone).naive_local(), utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(&text, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(NaiveTime::MIN))
    })
    .map(|local| (local, resolve_local(zone, local)))
    .ok_or_else(|| {
        format!("`{text}` is not a date-time: use \"2026-01-05T06:00\" (local to time_zone)")
    })
}
