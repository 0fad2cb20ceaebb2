//! Exponential backoff with full jitter, as object_store's `client/backoff.rs`: only the
//! maths of the waits; [`super::retry`] decides when to wait at all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Exponential backoff: the `n`th retry waits a random time between zero and
/// `min(max, initial × base^n)` ("full jitter"), so clients that failed together do not
/// retry together.
#[derive(Debug, Clone, PartialEq)]
pub struct BackoffConfig {
    /// The ceiling of the first wait.
    pub initial: Duration,
    /// The largest wait, also the cap of a server-requested one.
    pub max: Duration,
    /// How much the ceiling grows per retry.
    pub base: f64,
}

impl Default for BackoffConfig {
    /// 200 ms doubling up to 30 s, as azure_core (Rust) does.
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(30),
            base: 2.0,
        }
    }
}

impl BackoffConfig {
    /// The ceiling of the wait before retry `n` (0 for the first): `min(max, initial × base^n)`.
    pub fn ceiling(&self, n: u32) -> Duration {
        let factor = self.base.max(1.0).powi(n.min(64) as i32);
        let secs = self.initial.as_secs_f64() * factor;
        match Duration::try_from_secs_f64(secs) {
            Ok(d) => d.min(self.max),
            Err(_) => self.max,
        }
    }

    /// The wait before retry `n`, given `unit`, a random number in `[0, 1)`: full jitter.
    pub fn delay(&self, n: u32, unit: f64) -> Duration {
        self.ceiling(n).mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// A random number in `[0, 1)` for the jitter: splitmix64 over the clock and a counter.
/// Not for anything secret.
pub fn jitter_unit() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let mut z = nanos ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_within_the_growing_ceiling() {
        let b = BackoffConfig::default();
        let ceilings: Vec<u64> = (0..10).map(|n| b.ceiling(n).as_millis() as u64).collect();
        assert_eq!(
            ceilings,
            [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]
        );
        assert_eq!(b.ceiling(1000), b.max);
        for n in 0..12 {
            assert_eq!(b.delay(n, 0.0), Duration::ZERO);
            assert!(b.delay(n, 0.999_999) <= b.ceiling(n));
            for _ in 0..200 {
                let unit = jitter_unit();
                assert!((0.0..1.0).contains(&unit), "{unit}");
                assert!(b.delay(n, unit) <= b.ceiling(n));
            }
        }
        // The draws spread over the range rather than sticking to one value.
        let draws: Vec<f64> = (0..1000).map(|_| jitter_unit()).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((0.4..0.6).contains(&mean), "{mean}");
        assert!(draws.iter().any(|u| *u < 0.1) && draws.iter().any(|u| *u > 0.9));
    }
}
