//! Date and time formats of the emulated services, from `std::time` alone.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Civil UTC date and time of a Unix time in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// Splits a Unix time in seconds into its UTC date and time (proleptic Gregorian calendar).
pub(crate) fn civil(unix_secs: i64) -> Civil {
    let days = unix_secs.div_euclid(86_400);
    let secs_of_day = unix_secs.rem_euclid(86_400);
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (secs_of_day / 3600) as u32,
        minute: (secs_of_day % 3600 / 60) as u32,
        second: (secs_of_day % 60) as u32,
    }
}

fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// `2021-04-22T07:34:27.0577077Z`: the `Time:` line of storage error messages.
pub(crate) fn iso8601_7(t: SystemTime) -> String {
    let d = since_epoch(t);
    let c = civil(d.as_secs() as i64);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        d.subsec_nanos() / 100
    )
}

/// `2016-06-21T17:20:36Z`: Domo's timestamps, and the times of a SAS or a key request.
pub fn iso8601_secs(t: SystemTime) -> String {
    let c = civil(since_epoch(t).as_secs() as i64);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// `2023-05-06 06:03:00Z`: Entra ID's error timestamps.
pub(crate) fn entra_timestamp(t: SystemTime) -> String {
    let c = civil(since_epoch(t).as_secs() as i64);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`: HTTP dates (`Date`, `Last-Modified`, list results).
pub(crate) fn rfc1123(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// Parses an HTTP date; `None` when malformed.
pub(crate) fn parse_rfc1123(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s.trim()).ok()
}

/// Unix time in whole seconds.
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    since_epoch(t).as_secs()
}

/// Nanoseconds since the Unix epoch, as stored in the metadata index.
pub(crate) fn to_nanos(t: SystemTime) -> u64 {
    since_epoch(t).as_nanos() as u64
}

/// The inverse of [`to_nanos`].
pub(crate) fn from_nanos(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        let t = UNIX_EPOCH + Duration::new(1_619_076_867, 57_707_700);
        assert_eq!(iso8601_7(t), "2021-04-22T07:34:27.0577077Z");
        assert_eq!(iso8601_secs(t), "2021-04-22T07:34:27Z");
        assert_eq!(entra_timestamp(t), "2021-04-22 07:34:27Z");
        assert_eq!(rfc1123(t), "Thu, 22 Apr 2021 07:34:27 GMT");
        assert_eq!(
            unix_secs(parse_rfc1123("Thu, 22 Apr 2021 07:34:27 GMT").unwrap()),
            1_619_076_867
        );
    }

    #[test]
    fn civil_handles_leap_days_and_epoch() {
        assert_eq!(civil(0).year, 1970);
        let leap = civil(951_782_400); // 2000-02-29
        assert_eq!((leap.year, leap.month, leap.day), (2000, 2, 29));
        let before = civil(-1);
        assert_eq!(
            (before.year, before.month, before.day, before.second),
            (1969, 12, 31, 59)
        );
    }

    #[test]
    fn nanos_round_trip() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(from_nanos(to_nanos(t)), t);
    }
}
