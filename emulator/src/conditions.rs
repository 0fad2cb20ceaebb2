//! HTTP conditional headers (`If-Match`, `If-None-Match`, `If-Modified-Since`,
//! `If-Unmodified-Since` and their `x-ms-source-` forms) and how the service evaluates them.

use std::time::SystemTime;

use axum::http::HeaderMap;

use crate::timefmt;

/// The conditions of one request, on the target or on a rename's source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Conditions {
    if_match: Option<String>,
    if_none_match: Option<String>,
    if_modified_since: Option<SystemTime>,
    if_unmodified_since: Option<SystemTime>,
    /// `x-ms-lease-id` (`x-ms-source-lease-id` on a rename's source).
    lease_id: Option<String>,
}

/// What the conditions say about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Go ahead.
    Pass,
    /// A read whose `If-None-Match`/`If-Modified-Since` matched: answer 304.
    NotModified,
    /// Answer 412.
    Failed,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Whether `current` (unquoted) is in an entity-tag list such as `"0x1", W/"0x2"` or `*`.
fn etag_matches(list: &str, current: &str) -> bool {
    list.split(',').map(str::trim).any(|tag| {
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        tag == "*" || tag.trim_matches('"') == current
    })
}

impl Conditions {
    /// Reads `If-Match`, `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since`.
    /// Malformed dates are ignored, as HTTP prescribes.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        Self::with_prefix(headers, "")
    }

    /// Reads the `x-ms-source-if-*` headers of a rename.
    pub(crate) fn source_from_headers(headers: &HeaderMap) -> Self {
        Self::with_prefix(headers, "x-ms-source-")
    }

    /// Reads the `x-ms-blob-if-*` headers (and `x-ms-lease-id`) of Get and Set Blob Tags.
    pub(crate) fn blob_from_headers(headers: &HeaderMap) -> Self {
        Self {
            lease_id: Self::from_headers(headers).lease_id,
            ..Self::with_prefix(headers, "x-ms-blob-")
        }
    }

    fn with_prefix(headers: &HeaderMap, prefix: &str) -> Self {
        let get = |name: &str| header(headers, &format!("{prefix}{name}")).map(str::to_string);
        let date = |name: &str| get(name).and_then(|v| timefmt::parse_rfc1123(&v));
        Self {
            if_match: get("if-match"),
            if_none_match: get("if-none-match"),
            if_modified_since: date("if-modified-since"),
            if_unmodified_since: date("if-unmodified-since"),
            lease_id: match prefix {
                "" => header(headers, "x-ms-lease-id"),
                _ => header(headers, &format!("{prefix}lease-id")),
            }
            .filter(|id| !id.is_empty())
            .map(str::to_string),
        }
    }

    /// The lease the request names, when it names one.
    pub(crate) fn lease_id(&self) -> Option<&str> {
        self.lease_id.as_deref()
    }

    /// `If-None-Match: *`: the create-only condition.
    pub(crate) fn is_create_only(&self) -> bool {
        self.if_none_match.as_deref() == Some("*")
    }

    /// Whether any condition is present.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Evaluates against the resource's current `(etag, last_modified)`, `None` when it does
    /// not exist. Reads answer [`Outcome::NotModified`] where writes answer [`Outcome::Failed`].
    pub(crate) fn evaluate(&self, current: Option<(&str, SystemTime)>, read: bool) -> Outcome {
        let unmatched = if read {
            Outcome::NotModified
        } else {
            Outcome::Failed
        };
        let last_modified = current.map(|(_, t)| timefmt::unix_secs(t));
        if let Some(list) = &self.if_match {
            match current {
                Some((etag, _)) if etag_matches(list, etag) => {}
                _ => return Outcome::Failed,
            }
        }
        if let (Some(since), Some(modified)) = (self.if_unmodified_since, last_modified)
            && modified > timefmt::unix_secs(since)
        {
            return Outcome::Failed;
        }
        if let Some(list) = &self.if_none_match {
            if let Some((etag, _)) = current
                && etag_matches(list, etag)
            {
                return unmatched;
            }
        } else if let (Some(since), Some(modified)) = (self.if_modified_since, last_modified)
            && modified <= timefmt::unix_secs(since)
        {
            return unmatched;
        }
        Outcome::Pass
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use axum::http::HeaderValue;

    use super::*;

    fn conditions(pairs: &[(&'static str, &str)]) -> Conditions {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        Conditions::from_headers(&headers)
    }

    /// Headers, current version, read?, expected outcome.
    type Case<'a> = (
        Vec<(&'static str, &'a str)>,
        Option<(&'a str, SystemTime)>,
        bool,
        Outcome,
    );

    #[test]
    fn table() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let current = Some(("0x8DC1", t));
        let before = timefmt::rfc1123(t - Duration::from_secs(10));
        let after = timefmt::rfc1123(t + Duration::from_secs(10));
        let cases: Vec<Case<'_>> = vec![
            (vec![], current, false, Outcome::Pass),
            (
                vec![("if-match", "\"0x8DC1\"")],
                current,
                false,
                Outcome::Pass,
            ),
            (
                vec![("if-match", "\"0x8DC2\"")],
                current,
                false,
                Outcome::Failed,
            ),
            (vec![("if-match", "*")], None, false, Outcome::Failed),
            (
                vec![("if-none-match", "*")],
                current,
                false,
                Outcome::Failed,
            ),
            (vec![("if-none-match", "*")], None, false, Outcome::Pass),
            (
                vec![("if-none-match", "\"0x8DC1\"")],
                current,
                true,
                Outcome::NotModified,
            ),
            (
                vec![("if-modified-since", &after)],
                current,
                true,
                Outcome::NotModified,
            ),
            (
                vec![("if-modified-since", &before)],
                current,
                true,
                Outcome::Pass,
            ),
            (
                vec![("if-unmodified-since", &before)],
                current,
                false,
                Outcome::Failed,
            ),
            (
                vec![("if-unmodified-since", &after)],
                current,
                false,
                Outcome::Pass,
            ),
            (
                vec![("if-modified-since", "garbage")],
                current,
                false,
                Outcome::Pass,
            ),
        ];
        for (pairs, current, read, expected) in cases {
            let c = conditions(&pairs);
            assert_eq!(c.evaluate(current, read), expected, "{pairs:?}");
        }
    }

    #[test]
    fn source_headers_are_separate() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ms-source-if-match", HeaderValue::from_static("\"a\""));
        assert!(Conditions::from_headers(&headers).is_empty());
        assert!(!Conditions::source_from_headers(&headers).is_empty());
    }
}
