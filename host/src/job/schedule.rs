//! When a job runs by itself: the job file's `[schedule]` table, turned into a
//! [`Schedule`] whose [`Schedule::next_after`] gives the next run time. Pure: no clock,
//! no I/O; `serve` asks it and sleeps.
//!
//! The kinds are those Domo offers (manual; every N minutes, hours or days from a start;
//! daily at a time; weekly on chosen weekdays; monthly on chosen days or on "the second and
//! fourth Sunday"), plus a cron expression for anything else. Times are wall-clock times in
//! `time_zone` (default UTC). Calendar rules follow cron:
//!
//! - a month without the chosen day (the 31st in February) is skipped; `"last"` means the
//!   month's last day;
//! - a time that does not exist because the clock jumps forward (02:30 on a spring-forward
//!   night) runs at the first instant after the jump (03:00 new time);
//! - a time that exists twice because the clock falls back runs once, at the first (for
//!   cron expressions too, even `*/30 * * * *`: use `interval` for elapsed-time steps).
//!
//! `every_minutes` and `every_hours` count elapsed time from `start`, so a clock change
//! does not move them; `every_days` keeps `start`'s wall-clock time.

use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::job::FieldError;
use parse::{interval_rule, monthly_rule, parse_start, parse_time, parse_weekday};

/// `[schedule]` as written. Which keys apply depends on `kind`; see `docs/job-file.md`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSection {
    /// `manual`, `interval`, `daily`, `weekly`, `monthly` or `cron`.
    pub kind: Option<String>,
    /// `interval`: every N minutes.
    pub every_minutes: Option<u32>,
    /// `interval`: every N hours.
    pub every_hours: Option<u32>,
    /// `interval`: every N days, at `start`'s time of day.
    pub every_days: Option<u32>,
    /// `daily`, `weekly`, `monthly`: a time `"HH:MM"`, or a list of them.
    pub at: Option<toml::Value>,
    /// `weekly`, and `monthly` with `weeks`: weekday names (`"mon"` or `"monday"`).
    pub weekdays: Option<Vec<String>>,
    /// `monthly`: days of the month, 1-31 or `"last"`.
    pub days: Option<toml::Value>,
    /// `monthly`: which weekdays of the month: `"first"` … `"fourth"`, `"last"`.
    pub weeks: Option<Vec<String>>,
    /// `cron`: five fields (minute hour day-of-month month day-of-week), or six with seconds.
    pub cron: Option<String>,
    /// No run before this local date-time (`2026-01-05T06:00`, or with an offset); also the
    /// origin of `interval` schedules.
    pub start: Option<toml::Value>,
    /// IANA time zone, e.g. `Europe/Berlin`. Default `UTC`.
    pub time_zone: Option<String>,
    /// After downtime, run once for the missed runs (default true) or not at all.
    pub catch_up: Option<bool>,
}

/// When a job runs by itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    rule: Rule,
    zone: Tz,
    start: Option<DateTime<Utc>>,
    catch_up: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Rule {
    Manual,
    /// Fixed elapsed steps from `anchor`.
    Every {
        step: Duration,
        anchor: DateTime<Utc>,
    },
    /// Every `n` days from `from`, at `time`.
    EveryDays {
        n: u32,
        from: NaiveDate,
        time: NaiveTime,
    },
    /// At `times` on the days `days` accepts.
    Calendar {
        days: DayRule,
        times: Vec<NaiveTime>,
    },
    Cron(Box<croner::Cron>),
}

#[derive(Debug, Clone, PartialEq)]
enum DayRule {
    Daily,
    Weekly(Vec<Weekday>),
    MonthDays {
        days: Vec<u32>,
        last: bool,
    },
    MonthWeeks {
        weeks: Vec<u32>,
        last: bool,
        weekdays: Vec<Weekday>,
    },
}

/// How far ahead calendar rules look (a year's worth of weeks and months, and then some).
const SEARCH_DAYS: i64 = 1500;

impl Schedule {
    /// The schedule of a job without a `[schedule]` table: it runs only when asked.
    pub fn manual() -> Schedule {
        Schedule {
            rule: Rule::Manual,
            zone: Tz::UTC,
            start: None,
            catch_up: true,
        }
    }

    /// Parses `[schedule]`; every problem is returned, by field (`schedule.at`, …).
    pub fn from_section(s: &ScheduleSection) -> Result<Schedule, Vec<FieldError>> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String| {
            problems.push(FieldError {
                field: format!("schedule.{field}"),
                message,
            })
        };
        let zone = match s.time_zone.as_deref() {
            None => Tz::UTC,
            Some(name) => Tz::from_str(name).unwrap_or_else(|_| {
                problem(
                    "time_zone",
                    format!("`{name}` is not an IANA time zone (like `Europe/Berlin` or `UTC`)"),
                );
                Tz::UTC
            }),
        };
        let start_local = s
            .start
            .as_ref()
            .and_then(|v| parse_start(v, zone).map_err(|e| problem("start", e)).ok());
        let kind = s.kind.as_deref().unwrap_or("");
        let allowed: Option<&[&str]> = match kind {
            "manual" => Some(&[]),
            "interval" => Some(&["every_minutes", "every_hours", "every_days"]),
            "daily" => Some(&["at"]),
            "weekly" => Some(&["at", "weekdays"]),
            "monthly" => Some(&["at", "days", "weeks", "weekdays"]),
            "cron" => Some(&["cron"]),
            "" => {
                problem(
                    "kind",
                    "missing: \"manual\", \"interval\", \"daily\", \"weekly\", \"monthly\" or \"cron\"".into(),
                );
                None
            }
            _ => {
                problem(
                    "kind",
                    format!(
                        "`{kind}` is not a schedule kind: use \"manual\", \"interval\", \"daily\", \"weekly\", \"monthly\" or \"cron\""
                    ),
                );
                None
            }
        };
        let given = [
            ("every_minutes", s.every_minutes.is_some()),
            ("every_hours", s.every_hours.is_some()),
            ("every_days", s.every_days.is_some()),
            ("at", s.at.is_some()),
            ("weekdays", s.weekdays.is_some()),
            ("days", s.days.is_some()),
            ("weeks", s.weeks.is_some()),
            ("cron", s.cron.is_some()),
        ];
        for (key, present) in given {
            if present && allowed.is_some_and(|a| !a.contains(&key)) {
                problem(key, format!("does not apply to a `{kind}` schedule"));
            }
        }
        let times = || -> Result<Vec<NaiveTime>, String> {
            match &s.at {
                None => Ok(vec![NaiveTime::MIN]),
                Some(toml::Value::String(t)) => Ok(vec![parse_time(t)?]),
                Some(toml::Value::Array(list)) if !list.is_empty() => list
                    .iter()
                    .map(|v| v.as_str().ok_or("times are strings, \"HH:MM\"".to_string()))
                    .map(|t| parse_time(t?))
                    .collect(),
                Some(_) => Err("give a time \"HH:MM\" or a list of them".into()),
            }
        };
        let weekdays = |list: &Option<Vec<String>>| -> Result<Vec<Weekday>, String> {
            let list = list.as_deref().unwrap_or_default();
            if list.is_empty() {
                return Err("missing: the weekdays, e.g. [\"mon\", \"thu\"]".into());
            }
            list.iter().map(|d| parse_weekday(d)).collect()
        };
        let rule = match kind {
            "interval" => interval_rule(s, start_local, zone, &mut problem),
            "daily" | "weekly" | "monthly" => {
                let times = times().map_err(|e| problem("at", e)).unwrap_or_default();
                let days = match kind {
                    "daily" => Some(DayRule::Daily),
                    "weekly" => weekdays(&s.weekdays)
                        .map(DayRule::Weekly)
                        .map_err(|e| problem("weekdays", e))
                        .ok(),
                    _ => monthly_rule(s, &weekdays, &mut problem),
                };
                days.map(|days| Rule::Calendar { days, times })
            }
            "cron" => match s.cron.as_deref() {
                None => {
                    problem(
                        "cron",
                        "missing: a cron expression like \"0 6 * * 1-5\"".into(),
                    );
                    None
                }
                Some(expr) => croner::Cron::from_str(expr)
                    .map(|c| Rule::Cron(Box::new(c)))
                    .map_err(|e| problem("cron", format!("`{expr}` is not a cron expression: {e}")))
                    .ok(),
            },
            _ => Some(Rule::Manual),
        };
        match rule {
            Some(rule) if problems.is_empty() => Ok(Schedule {
                rule,
                zone,
                start: start_local.map(|(_, utc)| utc),
                catch_up: s.catch_up.unwrap_or(true),
            }),
            _ => Err(problems),
        }
    }

    /// True when the job runs only when asked (`run`), never by itself.
    pub fn is_manual(&self) -> bool {
        matches!(self.rule, Rule::Manual)
    }

    /// No run before this instant.
    pub fn start(&self) -> Option<DateTime<Utc>> {
        self.start
    }

    /// Whether one catch-up run makes up for runs missed while `serve` was down.
    pub fn catch_up(&self) -> bool {
        self.catch_up
    }

    /// The first run time strictly after `t`, or `None` for a manual schedule (or a cron
    /// expression that never matches again).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let t = match self.start {
            Some(start) if start > t => start - Duration::nanoseconds(1),
            _ => t,
        };
        match &self.rule {
            Rule::Manual => None,
            Rule::Every { step, anchor } => {
                if t < *anchor {
                    return Some(*anchor);
                }
                let steps = (t - *anchor).num_seconds() / step.num_seconds() + 1;
                Some(*anchor + *step * steps as i32)
            }
            Rule::EveryDays { n, from, time } => self.next_on_days(t, &[*time], |d| {
                let days = (d - *from).num_days();
                days >= 0 && days % i64::from(*n) == 0
            }),
            Rule::Calendar { days, times } => self.next_on_days(t, times, |d| days.accepts(d)),
            Rule::Cron(cron) => {
                // croner walks wall-clock time; asked during the second pass of a repeated
                // hour it can answer with the first pass, which is past: ask again from there.
                let mut from = t.with_timezone(&self.zone);
                for _ in 0..4 {
                    let next = cron.find_next_occurrence(&from, false).ok()?;
                    if next.with_timezone(&Utc) > t {
                        return Some(next.with_timezone(&Utc));
                    }
                    from = next;
                }
                None
            }
        }
    }

    /// The latest run time in `(after, now]`: the one a catch-up run stands for. `None`
    /// when no run was due in between.
    pub fn latest_due(&self, after: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut latest = None;
        let mut t = after;
        // Bounded: a year of minutes; past that, the last one found stands for the rest.
        for _ in 0..600_000 {
            match self.next_after(t) {
                Some(next) if next <= now => {
                    latest = Some(next);
                    t = next;
                }
                _ => break,
            }
        }
        latest
    }

    /// One line for people: `every 15 minutes`, `weekly on Mon, Thu at 06:00 (Europe/Berlin)`.
    pub fn describe(&self) -> String {
        let list = |times: &[NaiveTime]| {
            let t: Vec<String> = times
                .iter()
                .map(|t| t.format("%H:%M").to_string())
                .collect();
            t.join(", ")
        };
        let text = match &self.rule {
            Rule::Manual => return "manual".into(),
            Rule::Every { step, .. } if step.num_minutes() % 60 == 0 => {
                format!("every {} hour(s)", step.num_hours())
            }
            Rule::Every { step, .. } => format!("every {} minute(s)", step.num_minutes()),
            Rule::EveryDays { n, time, .. } => {
                format!("every {n} day(s) at {}", time.format("%H:%M"))
            }
            Rule::Calendar { days, times } => format!("{} at {}", days.describe(), list(times)),
            Rule::Cron(cron) => format!("cron `{}`", cron.pattern),
        };
        format!("{text} ({})", self.zone)
    }

    /// The first instant strictly after `t` at one of `times` on a day `day_ok` accepts.
    fn next_on_days(
        &self,
        t: DateTime<Utc>,
        times: &[NaiveTime],
        day_ok: impl Fn(NaiveDate) -> bool,
    ) -> Option<DateTime<Utc>> {
        let first = t.with_timezone(&self.zone).date_naive() - Duration::days(1);
        (0..SEARCH_DAYS + 400)
            .map(|i| first + Duration::days(i))
            .filter(|d| day_ok(*d))
            .find_map(|d| {
                times
                    .iter()
                    .map(|time| resolve_local(self.zone, d.and_time(*time)))
                    .filter(|c| *c > t)
                    .min()
            })
    }
}

impl DayRule {
    fn accepts(&self, d: NaiveDate) -> bool {
        match self {
            DayRule::Daily => true,
            DayRule::Weekly(days) => days.contains(&d.weekday()),
            DayRule::MonthDays { days, last } => {
                days.contains(&d.day()) || (*last && d.day() == days_in_month(d))
            }
            DayRule::MonthWeeks {
                weeks,
                last,
                weekdays,
            } => {
                weekdays.contains(&d.weekday())
                    && (weeks.contains(&d.day0().div_euclid(7))
                        || (*last && d.day() + 7 > days_in_month(d)))
            }
        }
    }

    fn describe(&self) -> String {
        let names = |days: &[Weekday]| {
            let d: Vec<String> = days.iter().map(|d| d.to_string()).collect();
            d.join(", ")
        };
        match self {
            DayRule::Daily => "daily".into(),
            DayRule::Weekly(days) => format!("weekly on {}", names(days)),
            DayRule::MonthDays { days, last } => {
                let mut d: Vec<String> = days.iter().map(u32::to_string).collect();
                if *last {
                    d.push("last".into());
                }
                format!("monthly on day(s) {}", d.join(", "))
            }
            DayRule::MonthWeeks {
                weeks,
                last,
                weekdays,
            } => {
                const ORDINALS: [&str; 4] = ["first", "second", "third", "fourth"];
                let mut w: Vec<&str> = weeks.iter().map(|w| ORDINALS[*w as usize]).collect();
                if *last {
                    w.push("last");
                }
                format!("monthly on the {} {}", w.join(" and "), names(weekdays))
            }
        }
    }
}

/// The instant of a wall-clock time: the earlier one when it occurs twice, the end of the
/// jump when it does not occur.
pub fn resolve_local(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        chrono::LocalResult::None => {
            // The first instant whose local time is at or after `local`: offsets lie within
            // ±26 h, and local time rises with the instant around a gap.
            let (mut lo, mut hi) = (
                local.and_utc() - Duration::hours(26),
                local.and_utc() + Duration::hours(26),
            );
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if mid.with_timezone(&zone).naive_local() >= local {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            hi
        }
    }
}

fn days_in_month(d: NaiveDate) -> u32 {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|first| first.pred_opt())
        .map_or(31, |last| last.day())
}

mod parse;
#[cfg(test)]
mod tests;
mod upcoming;

pub use upcoming::MAX_UPCOMING;
