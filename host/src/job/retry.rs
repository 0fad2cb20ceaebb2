//! The job file's `[retry]` section: whether and how often a failed run is tried again.
//! The attempts themselves are [`crate::runner::attempts`]'s.

use serde::Deserialize;

use crate::job::FieldError;

/// `[retry]` as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySection {
    /// How many times a failed run is retried (Domo's "retry N times"); 0 = do not retry.
    pub attempts: Option<u32>,
    /// Minutes between a failure and its retry (default 5).
    pub interval_minutes: Option<u32>,
}

/// Whether and how a failed run is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 = do not retry.
    pub retries: u32,
    /// Wait between a failed attempt and the next.
    pub interval: chrono::Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 0,
            interval: chrono::Duration::minutes(5),
        }
    }
}

impl RetryPolicy {
    /// Parses `[retry]`, every problem by field.
    pub fn from_section(s: &RetrySection) -> Result<RetryPolicy, Vec<FieldError>> {
        let mut problems = Vec::new();
        let retries = s.attempts.unwrap_or(0);
        if retries > 10 {
            problems.push(FieldError {
                field: "retry.attempts".into(),
                message: format!("{retries} is out of range: 0 (do not retry) to 10"),
            });
        }
        let minutes = s.interval_minutes.unwrap_or(5);
        if !(1..=24 * 60).contains(&minutes) {
            problems.push(FieldError {
                field: "retry.interval_minutes".into(),
                message: format!("{minutes} is out of range: 1 to 1440"),
            });
        }
        match problems.is_empty() {
            true => Ok(RetryPolicy {
                retries,
                interval: chrono::Duration::minutes(minutes.into()),
            }),
            false => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_section_defaults_and_ranges() {
        let policy = RetryPolicy::from_section(&RetrySection::default()).unwrap();
        assert_eq!(policy, RetryPolicy::default());
        assert_eq!(policy.retries, 0);
        let s = RetrySection {
            attempts: Some(3),
            interval_minutes: Some(10),
        };
        let policy = RetryPolicy::from_section(&s).unwrap();
        assert_eq!((policy.retries, policy.interval.num_minutes()), (3, 10));
        let bad = RetrySection {
            attempts: Some(11),
            interval_minutes: Some(0),
        };
        let fields: Vec<_> = RetryPolicy::from_section(&bad)
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, ["retry.attempts", "retry.interval_minutes"]);
    }
}
