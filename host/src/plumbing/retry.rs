//! Request-level retry, in the manner of object_store's `client/retry.rs`: a [`RetryConfig`]
//! (how many retries, exponential backoff with full jitter, a total time budget), one place
//! that decides what is worth retrying ([`classify_status`], [`classify_error`]), the
//! server's own wait (`Retry-After`, `x-ms-retry-after-ms`), and [`retry`] / [`send`] that
//! apply them. Every HTTP request the host sends goes through here: the guest's (through the
//! HTTP capability), the Entra ID token request and Domo's token and metadata calls.
//!
//! A request is resent whole, so a retried append or rename may have happened already when
//! its answer was lost; the guest, which knows what each request means, sorts that out. A
//! 401 is never retried here: the guest refreshes its token and resends itself.
//!
//! The jitter maths is [`super::backoff`]'s. Job-level retries (a whole failed run, `[retry]`)
//! are `crate::runner::attempts`'s business.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

pub use super::backoff::BackoffConfig;
use super::backoff::jitter_unit;

/// How a request is retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Retries after the first attempt; 0 sends each request once.
    pub max_retries: u32,
    /// The waits between attempts.
    pub backoff: BackoffConfig,
    /// Total time budget of a request, from its first attempt: no retry starts whose wait
    /// would end past it.
    pub retry_timeout: Duration,
}

impl Default for RetryConfig {
    /// azure_core's retry counts and waits (8 retries, 200 ms to 30 s); a budget of 3 minutes
    /// (object_store's) rather than azure_core's 1, because one attempt of a large append can
    /// itself take tens of seconds.
    fn default() -> Self {
        RetryConfig {
            max_retries: 8,
            backoff: BackoffConfig::default(),
            retry_timeout: Duration::from_secs(180),
        }
    }
}

impl RetryConfig {
    /// Every request is sent once.
    pub fn none() -> Self {
        RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        }
    }
}

/// What one attempt came to, as the retry policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Done: a success, or a failure another attempt would not change.
    Final,
    /// Worth another attempt.
    Retry {
        /// The wait the server asked for, if it named one.
        after: Option<Duration>,
        /// What went wrong, for the log.
        why: String,
    },
}

/// The statuses worth another attempt: 408 Request Timeout, 429 Too Many Requests, 500,
/// 502, 503 and 504. Any other 4xx (401 included) is the caller's to handle.
pub fn status_is_retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// The verdict on an answer with `status` and `headers`.
pub fn classify_status(status: u16, headers: &HeaderMap) -> Verdict {
    if !status_is_retryable(status) {
        return Verdict::Final;
    }
    let code = headers
        .get("x-ms-error-code")
        .and_then(|v| v.to_str().ok())
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    Verdict::Retry {
        after: server_delay(headers, SystemTime::now()),
        why: format!("HTTP {status}{code}"),
    }
}

/// The verdict on a transport failure: timeouts, refused or reset connections, and answers
/// cut short (the request went out, no or part of the answer came back) are retried; a
/// request that could not be built or a redirect is not.
pub fn classify_error(error: &reqwest::Error) -> Verdict {
    if error.is_builder() || error.is_redirect() || error.is_status() {
        return Verdict::Final;
    }
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "answer cut short"
    } else {
        "connection dropped"
    };
    Verdict::Retry {
        after: None,
        why: format!("{what}: {}", super::client::describe_error(error)),
    }
}

/// The wait the server asks for: `x-ms-retry-after-ms` (milliseconds), else `Retry-After`
/// (seconds, or an HTTP date measured from `now`). `None` when absent or unreadable.
pub fn server_delay(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("x-ms-retry-after-ms").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_millis(ms));
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The decision after an attempt: the wait before the next one, or `None` to stop and
/// return this attempt's outcome. `retries` were made so far, `elapsed` since the first
/// attempt began; `unit` is a random number in `[0, 1)` for the jitter. A server-requested
/// wait replaces the jittered one, capped by `backoff.max`.
pub fn next_delay(
    config: &RetryConfig,
    retries: u32,
    elapsed: Duration,
    verdict: &Verdict,
    unit: f64,
) -> Option<Duration> {
    let Verdict::Retry { after, .. } = verdict else {
        return None;
    };
    if retries >= config.max_retries {
        return None;
    }
    let delay = match after {
        Some(asked) => (*asked).min(config.backoff.max),
        None => config.backoff.delay(retries, unit),
    };
    let ends = elapsed.checked_add(delay)?;
    (ends < config.retry_timeout).then_some(delay)
}

/// Runs `attempt` until `classify` calls its outcome final, the retries are used up or the
/// budget would be exceeded, waiting as [`next_delay`] says; returns the last outcome (the
/// service's real answer or the last transport error). `target` names the request in the
/// debug log (a URL's path: never a query, never headers).
pub async fn retry<T, F, Fut>(
    config: &RetryConfig,
    target: &str,
    mut attempt: F,
    classify: impl Fn(&T) -> Verdict,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let started = Instant::now();
    let mut retries = 0;
    loop {
        let outcome = attempt().await;
        let verdict = classify(&outcome);
        let Some(delay) = next_delay(config, retries, started.elapsed(), &verdict, jitter_unit())
        else {
            return outcome;
        };
        if let Verdict::Retry { why, .. } = &verdict {
            tracing::debug!(
                path = target,
                retry = retries + 1,
                of = config.max_retries,
                delay_ms = delay.as_millis() as u64,
                "retrying after {why}"
            );
        }
        tokio::time::sleep(delay).await;
        retries += 1;
    }
}

/// An answer read whole.
#[derive(Debug, Clone)]
pub struct Buffered {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

/// Sends the request `make` builds (once per attempt: give it a `Bytes` body so a resend
/// does not copy), reads the answer whole and retries as `config` says. A body cut short is
/// a transport failure, retried like a dropped connection.
pub async fn send<F>(config: &RetryConfig, make: F) -> Result<Buffered, reqwest::Error>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    let target = make()
        .build()
        .map(|r| r.url().path().to_string())
        .unwrap_or_default();
    let attempt = || async {
        let (client, request) = make().build_split();
        read_whole(&client, request?).await
    };
    retry(config, &target, attempt, classify_buffered).await
}

/// Sends the built `request` with `client`, retried as `config` says: each attempt sends a
/// copy of it (its body must be in memory, as every body the host sends is).
pub async fn send_request(
    config: &RetryConfig,
    client: &reqwest::Client,
    request: reqwest::Request,
) -> Result<Buffered, reqwest::Error> {
    let target = request.url().path().to_string();
    let attempt = || async {
        let copy = request
            .try_clone()
            .expect("the host's request bodies are in memory");
        read_whole(client, copy).await
    };
    retry(config, &target, attempt, classify_buffered).await
}

/// One attempt: `request` sent with `client`, its answer read whole.
async fn read_whole(
    client: &reqwest::Client,
    request: reqwest::Request,
) -> Result<Buffered, reqwest::Error> {
    let response = client.execute(request).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await?;
    Ok(Buffered {
        status,
        headers,
        body,
    })
}

/// What to do after an attempt whose answer was read whole.
fn classify_buffered(outcome: &Result<Buffered, reqwest::Error>) -> Verdict {
    match outcome {
        Ok(answer) => classify_status(answer.status.as_u16(), &answer.headers),
        Err(error) => classify_error(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn transient() -> Verdict {
        Verdict::Retry {
            after: None,
            why: "test".into(),
        }
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        let none = HeaderMap::new();
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(classify_status(status, &none), Verdict::Retry { .. }),
                "{status}"
            );
        }
        for status in [
            200, 201, 202, 204, 206, 304, 400, 401, 403, 404, 409, 412, 416, 501, 505,
        ] {
            assert_eq!(classify_status(status, &none), Verdict::Final, "{status}");
        }
        let busy = classify_status(503, &headers(&[("x-ms-error-code", "ServerBusy")]));
        assert!(matches!(busy, Verdict::Retry { why, .. } if why == "HTTP 503 ServerBusy"));
    }

    #[test]
    fn server_waits_are_read_in_every_form() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        for (pairs, expected) in [
            (vec![("retry-after", "3")], Some(Duration::from_secs(3))),
            (vec![("retry-after", " 0 ")], Some(Duration::ZERO)),
            (
                vec![("retry-after", date.as_str())],
                Some(Duration::from_secs(7)),
            ),
            (vec![("retry-after", past.as_str())], Some(Duration::ZERO)),
            (
                vec![("x-ms-retry-after-ms", "1500")],
                Some(Duration::from_millis(1500)),
            ),
            (
                vec![("retry-after", "9"), ("x-ms-retry-after-ms", "250")],
                Some(Duration::from_millis(250)),
            ),
            (vec![("retry-after", "soon")], None),
            (vec![("retry-after", "-1")], None),
            (vec![], None),
        ] {
            assert_eq!(server_delay(&headers(&pairs), now), expected, "{pairs:?}");
        }
    }

    #[test]
    fn retries_stop_at_the_count_and_the_budget() {
        let config = RetryConfig {
            max_retries: 3,
            backoff: BackoffConfig {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(4),
                base: 2.0,
            },
            retry_timeout: Duration::from_secs(10),
        };
        let zero = Duration::ZERO;
        assert_eq!(next_delay(&config, 0, zero, &Verdict::Final, 0.5), None);
        assert_eq!(
            next_delay(&config, 0, zero, &transient(), 0.5),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            next_delay(&config, 2, zero, &transient(), 0.5),
            Some(Duration::from_secs(2))
        );
        assert_eq!(next_delay(&config, 3, zero, &transient(), 0.5), None);
        // The budget: a wait that would end past it is not started.
        let late = Duration::from_millis(9_400);
        assert_eq!(
            next_delay(&config, 1, late, &transient(), 0.25),
            Some(Duration::from_millis(500))
        );
        assert_eq!(next_delay(&config, 1, late, &transient(), 0.5), None);
        assert_eq!(
            next_delay(&config, 0, Duration::from_secs(10), &transient(), 0.0),
            None
        );
        // A server-requested wait replaces the jitter, capped by `max`.
        let asked = |secs| Verdict::Retry {
            after: Some(Duration::from_secs(secs)),
            why: "503".into(),
        };
        assert_eq!(
            next_delay(&config, 0, zero, &asked(3), 0.0),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            next_delay(&config, 0, zero, &asked(60), 0.0),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            next_delay(&RetryConfig::none(), 0, zero, &transient(), 0.5),
            None
        );
    }

    #[tokio::test]
    async fn retry_returns_the_last_outcome() {
        let config = RetryConfig {
            max_retries: 2,
            backoff: BackoffConfig {
                initial: Duration::from_millis(1),
                max: Duration::from_millis(2),
                base: 2.0,
            },
            retry_timeout: Duration::from_secs(10),
        };
        let calls = AtomicU32::new(0);
        let outcome = retry(
            &config,
            "/fs/a.csv",
            || async { calls.fetch_add(1, Ordering::SeqCst) },
            |_| transient(),
        )
        .await;
        assert_eq!((outcome, calls.load(Ordering::SeqCst)), (2, 3));

        calls.store(0, Ordering::SeqCst);
        let outcome = retry(
            &config,
            "/fs/a.csv",
            || async { calls.fetch_add(1, Ordering::SeqCst) },
            |n| if *n == 1 { Verdict::Final } else { transient() },
        )
        .await;
        assert_eq!((outcome, calls.load(Ordering::SeqCst)), (1, 2));
    }
}
