//! Time for the dispatcher: the system's clock, or a manual one that tests move.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tokio::sync::watch;

/// Now, and waiting until a time.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
    /// Completes once [`Clock::now`] has reached `t` (at once when it has).
    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()>;
}

/// The system's clock. Long waits wake up every 30 s to look at the time again, so a
/// machine that was suspended or had its clock set does not oversleep.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            loop {
                let left = (t - Utc::now()).to_std().unwrap_or_default();
                if left.is_zero() {
                    return;
                }
                tokio::time::sleep(left.min(StdDuration::from_secs(30))).await;
            }
        })
    }
}

/// A clock that moves only when told to: sleepers wake when it is set past their time.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock showing `t`.
    pub fn new(t: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: watch::Sender::new(t),
        }
    }

    /// Sets the time (forward only; an earlier `t` is ignored).
    pub fn set(&self, t: DateTime<Utc>) {
        self.now.send_if_modified(|now| {
            let later = t > *now;
            if later {
                *now = t;
            }
            later
        });
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        self.set(self.now() + by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()> {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            let _ = rx.wait_for(|now| *now >= t).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_sleepers_wake_when_the_clock_passes_their_time() {
        let start: DateTime<Utc> = "2026-05-01T10:00:00Z".parse().unwrap();
        let clock = std::sync::Arc::new(ManualClock::new(start));
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move {
                clock
                    .sleep_until(start + chrono::Duration::minutes(5))
                    .await
            }
        });
        clock.advance(chrono::Duration::minutes(4));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(chrono::Duration::minutes(1));
        sleeper.await.unwrap();
        clock.set(start);
        assert_eq!(
            clock.now(),
            start + chrono::Duration::minutes(5),
            "never backwards"
        );
        clock.sleep_until(start).await;
    }
}
