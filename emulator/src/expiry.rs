//! File expiry: `x-ms-expiry-option` and `x-ms-expiry-time` at create (DFS) and with Set Blob
//! Expiry (`PUT ?comp=expiry`). An expiry is stored as an instant
//! ([`crate::store::model::PathMeta::expires`]); once it passes the file is gone, as if
//! deleted (the store drops it on its next access, see `Store::purge_expired`).

use axum::http::HeaderMap;

use crate::dfs::header_str;
use crate::errors::ServiceError;
use crate::timefmt;

const NANOS_PER_MILLI: u64 = 1_000_000;

/// An expiry as a request asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// `NeverExpire`: clears the expiry.
    Never,
    /// `RelativeToNow`: milliseconds from the request.
    FromNow(u64),
    /// `RelativeToCreation`: milliseconds from the file's creation.
    FromCreation(u64),
    /// `Absolute`: an instant (nanoseconds since the Unix epoch).
    At(u64),
}

impl Expiry {
    /// Reads `x-ms-expiry-option` and `x-ms-expiry-time`; `None` when no option is given.
    /// `InvalidHeaderValue` for an unknown option, a time missing or malformed for its
    /// option, or a time given with `NeverExpire`.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, ServiceError> {
        let Some(option) = header_str(headers, "x-ms-expiry-option") else {
            return Ok(None);
        };
        let time = header_str(headers, "x-ms-expiry-time").map(str::trim);
        let millis = || {
            time.and_then(|t| t.parse::<u64>().ok())
                .ok_or_else(ServiceError::invalid_header_value)
        };
        let expiry = match option.trim() {
            "NeverExpire" if time.is_none() => Expiry::Never,
            "RelativeToNow" => Expiry::FromNow(millis()?),
            "RelativeToCreation" => Expiry::FromCreation(millis()?),
            "Absolute" => {
                let at = time
                    .and_then(timefmt::parse_rfc1123)
                    .ok_or_else(ServiceError::invalid_header_value)?;
                Expiry::At(timefmt::to_nanos(at))
            }
            _ => return Err(ServiceError::invalid_header_value()),
        };
        Ok(Some(expiry))
    }

    /// The instant the file expires (`None`: never) for a file created at `created`, asked
    /// at `now`.
    pub(crate) fn instant(self, created: u64, now: u64) -> Option<u64> {
        match self {
            Expiry::Never => None,
            Expiry::FromNow(ms) => Some(now + ms * NANOS_PER_MILLI),
            Expiry::FromCreation(ms) => Some(created + ms * NANOS_PER_MILLI),
            Expiry::At(at) => Some(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn parse(option: &str, time: Option<&str>) -> Result<Option<Expiry>, &'static str> {
        let mut headers = HeaderMap::new();
        headers.insert("x-ms-expiry-option", HeaderValue::from_str(option).unwrap());
        if let Some(time) = time {
            headers.insert("x-ms-expiry-time", HeaderValue::from_str(time).unwrap());
        }
        Expiry::from_headers(&headers).map_err(|e| e.code)
    }

    #[test]
    fn options_and_times() {
        assert_eq!(parse("NeverExpire", None), Ok(Some(Expiry::Never)));
        assert_eq!(
            parse("RelativeToNow", Some("86400000")),
            Ok(Some(Expiry::FromNow(86_400_000)))
        );
        let at = parse("Absolute", Some("Thu, 04 Apr 2075 00:00:00 GMT"))
            .unwrap()
            .unwrap();
        assert_eq!(at.instant(0, 0), Some(3_321_561_600 * 1_000_000_000));
        assert_eq!(
            Expiry::FromCreation(1500).instant(1_000, 5_000),
            Some(1_000 + 1_500_000_000)
        );
        assert_eq!(Expiry::FromNow(1).instant(0, 5), Some(1_000_005));
        for (option, time) in [
            ("NeverExpire", Some("1")),
            ("RelativeToNow", None),
            ("RelativeToNow", Some("-5")),
            ("Absolute", Some("tomorrow")),
            ("Sometime", None),
        ] {
            assert_eq!(parse(option, time), Err("InvalidHeaderValue"), "{option}");
        }
        assert_eq!(Expiry::from_headers(&HeaderMap::new()).unwrap(), None);
    }
}
