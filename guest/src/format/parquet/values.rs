//! A CSV field as the value of its column's type: the Domo kinds, their Parquet types and
//! the text each accepts.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// Scale of every `DECIMAL` column: Domo's schema gives no precision or scale, so a
/// decimal is stored as DECIMAL(38, 9) — 29 digits before the point, 9 after.
pub const DECIMAL_SCALE: u32 = 9;
/// Precision of every `DECIMAL` column (the most 16 bytes hold).
pub const DECIMAL_PRECISION: u32 = 38;
/// Bytes of a stored decimal: a big-endian two's-complement `i128`.
pub const DECIMAL_BYTES: usize = 16;

/// A column's type, from the source's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `STRING` (and any kind this writer does not know): UTF-8 text.
    String,
    /// `LONG`: a signed 64-bit integer.
    Long,
    /// `DOUBLE`: a 64-bit float.
    Double,
    /// `DECIMAL`: DECIMAL(38, 9).
    Decimal,
    /// `DATE`: days since 1970-01-01.
    Date,
    /// `DATETIME`: microseconds since the epoch, UTC.
    DateTime,
}

impl Kind {
    /// The type of a column the source calls `kind` (case-insensitive); `None` for a kind
    /// this writer does not know (written as a string).
    pub fn of(kind: &str) -> Option<Kind> {
        Some(match kind.to_ascii_uppercase().as_str() {
            "STRING" => Kind::String,
            "LONG" => Kind::Long,
            "DOUBLE" => Kind::Double,
            "DECIMAL" => Kind::Decimal,
            "DATE" => Kind::Date,
            "DATETIME" => Kind::DateTime,
            _ => return None,
        })
    }

    /// The source's name of the type.
    pub fn source_name(self) -> &'static str {
        match self {
            Kind::String => "STRING",
            Kind::Long => "LONG",
            Kind::Double => "DOUBLE",
            Kind::Decimal => "DECIMAL",
            Kind::Date => "DATE",
            Kind::DateTime => "DATETIME",
        }
    }

    /// The Parquet type, as the manifest names it.
    pub fn parquet_name(self) -> &'static str {
        match self {
            Kind::String => "BYTE_ARRAY (STRING)",
            Kind::Long => "INT64",
            Kind::Double => "DOUBLE",
            Kind::Decimal => "FIXED_LEN_BYTE_ARRAY(16) (DECIMAL(38,9))",
            Kind::Date => "INT32 (DATE)",
            Kind::DateTime => "INT64 (TIMESTAMP(MICROS,true))",
        }
    }

    /// What a value of this type looks like, for messages.
    pub fn expected(self) -> &'static str {
        match self {
            Kind::String => "text",
            Kind::Long => "a whole number such as -42",
            Kind::Double => "a number such as 3.25 or 1e-3",
            Kind::Decimal => {
                "a decimal such as -1234.5 (at most 29 digits before the point, 9 after)"
            }
            Kind::Date => "a date such as 2024-01-31",
            Kind::DateTime => {
                "a date and time such as 2024-01-31T13:45:00, 2024-01-31 13:45:00.250 or \
                 2024-01-31T13:45:00+02:00 (UTC when no offset is given)"
            }
        }
    }
}

/// A `LONG` field.
pub fn long(text: &str) -> Option<i64> {
    text.parse().ok()
}

/// A `DOUBLE` field.
pub fn double(text: &str) -> Option<f64> {
    text.parse().ok()
}

/// A `DECIMAL` field, as its unscaled value at [`DECIMAL_SCALE`].
pub fn decimal(text: &str) -> Option<i128> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty())
        || !all_digits(whole)
        || !all_digits(fraction)
        || fraction.len() > DECIMAL_SCALE as usize
        || whole.trim_start_matches('0').len() > (DECIMAL_PRECISION - DECIMAL_SCALE) as usize
    {
        return None;
    }
    let mut value: i128 = 0;
    let padding = DECIMAL_SCALE as usize - fraction.len();
    for b in whole.bytes().chain(fraction.bytes()) {
        value = value * 10 + i128::from(b - b'0');
    }
    value *= 10i128.pow(padding as u32);
    Some(if negative { -value } else { value })
}

/// A `DATE` field, as days since 1970-01-01.
pub fn date(text: &str) -> Option<i32> {
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let days = day
        .signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1)?)
        .num_days();
    i32::try_from(days).ok()
}

/// A `DATETIME` field, as microseconds since the epoch (UTC): ISO 8601 with `T` or a
/// space between date and time, optional fractional seconds, and an optional `Z` or
/// offset (none means UTC).
pub fn datetime(text: &str) -> Option<i64> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp_micros());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|at| at.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_the_sources_names_in_any_case() {
        assert_eq!(Kind::of("LONG"), Some(Kind::Long));
        assert_eq!(Kind::of("datetime"), Some(Kind::DateTime));
        assert_eq!(Kind::of("Decimal"), Some(Kind::Decimal));
        assert_eq!(Kind::of("GEOPOINT"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(long("-42"), Some(-42));
        assert_eq!(long("9223372036854775807"), Some(i64::MAX));
        assert_eq!(long("9223372036854775808"), None);
        assert_eq!(long("4.0"), None);
        assert_eq!(long(" 4"), None);
        assert_eq!(double("3.25"), Some(3.25));
        assert_eq!(double("1e-3"), Some(0.001));
        assert_eq!(double("three"), None);
    }

    #[test]
    fn decimals_scale_to_nine_places() {
        assert_eq!(decimal("1"), Some(1_000_000_000));
        assert_eq!(decimal("-1234.5"), Some(-1_234_500_000_000));
        assert_eq!(decimal("+.5"), Some(500_000_000));
        assert_eq!(decimal("0.000000001"), Some(1));
        assert_eq!(decimal("0.0000000001"), None, "a tenth decimal place");
        let widest = "9".repeat(29);
        assert_eq!(
            decimal(&format!("{widest}.999999999")),
            Some(10i128.pow(38) - 1)
        );
        assert_eq!(
            decimal(&format!("1{widest}")),
            None,
            "30 digits before the point"
        );
        assert_eq!(
            decimal(&format!("000{widest}")),
            Some((10i128.pow(29) - 1) * 10i128.pow(9))
        );
        for bad in ["", "-", ".", "1.2.3", "1,5", "1e3", "abc", "--1"] {
            assert_eq!(decimal(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_and_datetimes() {
        assert_eq!(date("1970-01-01"), Some(0));
        assert_eq!(date("2024-02-29"), Some(19_782));
        assert_eq!(date("1969-12-31"), Some(-1));
        assert_eq!(date("2023-02-29"), None);
        assert_eq!(date("31/01/2024"), None);
        assert_eq!(datetime("1970-01-01T00:00:01"), Some(1_000_000));
        assert_eq!(datetime("1970-01-01 00:00:00.25"), Some(250_000));
        assert_eq!(datetime("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(datetime("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(datetime("2024-01-31"), None);
        assert_eq!(datetime("2024-01-31T25:00:00"), None);
    }
}
