//! The next run times of a schedule, and how they are shown: wall-clock time in the
//! schedule's zone beside UTC (`validate --next`, `serve`'s log).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use chrono_tz::Tz;

use super::Schedule;

/// Most run times `upcoming` lists at once (`validate --next`'s bound).
pub const MAX_UPCOMING: usize = 1000;

impl Schedule {
    /// The schedule's time zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The first `n` run times at or after `from` (fewer when the schedule ends, none for
    /// a manual one), at most [`MAX_UPCOMING`].
    pub fn upcoming(&self, from: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut times = Vec::new();
        let mut t = from - Duration::nanoseconds(1);
        while times.len() < n.min(MAX_UPCOMING) {
            match self.next_after(t) {
                Some(next) => {
                    times.push(next);
                    t = next;
                }
                None => break,
            }
        }
        times
    }

    /// `t` as RFC 3339 with the zone's offset at that instant: `2026-03-29T03:00:00+02:00`.
    pub fn rfc3339_local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.zone)
            .to_rfc3339_opts(SecondsFormat::Secs, false)
    }

    /// `t` for people: `Sun 2026-03-29 03:00:00 CEST (+02:00)  2026-03-29 01:00:00 UTC`.
    pub fn wall_clock(&self, t: DateTime<Utc>) -> String {
        let local = t.with_timezone(&self.zone);
        format!(
            "{}  {}",
            local.format("%a %Y-%m-%d %H:%M:%S %Z (%:z)"),
            t.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::schedule::ScheduleSection;

    fn schedule(kind: &str, at: &str, zone: &str) -> Schedule {
        let section = ScheduleSection {
            kind: Some(kind.into()),
            at: Some(toml::Value::String(at.into())),
            time_zone: Some(zone.into()),
            ..ScheduleSection::default()
        };
        Schedule::from_section(&section).unwrap()
    }

    #[test]
    fn upcoming_starts_at_from_inclusive_and_shows_both_clocks() {
        let s = schedule("daily", "02:30", "Europe/Berlin");
        let from: DateTime<Utc> = "2026-03-28T01:30:00Z".parse().unwrap();
        let times = s.upcoming(from, 3);
        let local: Vec<String> = times.iter().map(|t| s.rfc3339_local(*t)).collect();
        assert_eq!(
            local,
            [
                "2026-03-28T02:30:00+01:00",
                // 02:30 does not exist on the spring-forward night: the first instant after.
                "2026-03-29T03:00:00+02:00",
                "2026-03-30T02:30:00+02:00",
            ]
        );
        assert_eq!(
            s.wall_clock(times[1]),
            "Sun 2026-03-29 03:00:00 CEST (+02:00)  2026-03-29 01:00:00 UTC"
        );
        assert!(Schedule::manual().upcoming(from, 5).is_empty());
        assert_eq!(s.upcoming(from, usize::MAX).len(), MAX_UPCOMING);
    }
}
