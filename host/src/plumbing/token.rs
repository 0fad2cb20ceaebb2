//! A cache for one expiring token, refreshed ahead of expiry, with one refresh at a time.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// A token and the instant it stops being valid.
#[derive(Debug, Clone)]
pub struct TemporaryToken<T> {
    /// The token.
    pub token: T,
    /// When it expires.
    pub expiry: Instant,
    /// How long it was valid when issued; short-lived tokens are refreshed earlier.
    pub lifetime: Duration,
}

impl<T> TemporaryToken<T> {
    /// A token valid for `lifetime` from now.
    pub fn new(token: T, lifetime: Duration) -> Self {
        TemporaryToken {
            token,
            expiry: Instant::now() + lifetime,
            lifetime,
        }
    }
}

/// Holds one token; callers get the cached one until `min_ttl` (or half the token's
/// lifetime, if shorter) before expiry. Concurrent callers wait for a single refresh.
#[derive(Debug)]
pub struct TokenCache<T> {
    cache: Mutex<Option<TemporaryToken<T>>>,
    min_ttl: Duration,
}

impl<T: Clone> Default for TokenCache<T> {
    fn default() -> Self {
        TokenCache::new(Duration::from_secs(300))
    }
}

impl<T: Clone> TokenCache<T> {
    /// A cache that refreshes tokens `min_ttl` before they expire.
    pub fn new(min_ttl: Duration) -> Self {
        TokenCache {
            cache: Mutex::new(None),
            min_ttl,
        }
    }

    /// The cached token while it is fresh enough, else the result of `fetch`.
    pub async fn get_or_fetch<F, Fut, E>(&self, fetch: F) -> Result<TemporaryToken<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<TemporaryToken<T>, E>>,
    {
        let mut slot = self.cache.lock().await;
        if let Some(cached) = slot.as_ref() {
            let margin = self.min_ttl.min(cached.lifetime / 2);
            if cached
                .expiry
                .checked_duration_since(Instant::now())
                .is_some_and(|left| left > margin)
            {
                return Ok(cached.clone());
            }
        }
        let fresh = fetch().await?;
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    /// Forgets the cached token, so the next call fetches (after the service refused it).
    pub async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn reuses_a_fresh_token_and_refreshes_a_stale_one() {
        let cache = TokenCache::new(Duration::from_secs(300));
        let fetches = AtomicU32::new(0);
        let fetch = |life| {
            let n = fetches.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, ()>(TemporaryToken::new(n, life)) }
        };
        let a = cache
            .get_or_fetch(|| fetch(Duration::from_secs(3600)))
            .await
            .unwrap();
        let b = cache
            .get_or_fetch(|| fetch(Duration::from_secs(3600)))
            .await
            .unwrap();
        assert_eq!((a.token, b.token), (0, 0));
        cache.invalidate().await;
        // A token with only seconds left of its hour is refreshed ahead of expiry.
        let nearly_expired = || async {
            let expiry = Instant::now() + Duration::from_secs(5);
            Ok::<_, ()>(TemporaryToken {
                token: 100,
                expiry,
                lifetime: Duration::from_secs(3600),
            })
        };
        let c = cache.get_or_fetch(nearly_expired).await.unwrap();
        let d = cache
            .get_or_fetch(|| fetch(Duration::from_secs(3600)))
            .await
            .unwrap();
        assert_eq!((c.token, d.token), (100, 1));
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_refresh() {
        let cache = Arc::new(TokenCache::new(Duration::from_secs(1)));
        let fetches = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (cache, fetches) = (cache.clone(), fetches.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_fetch(|| async {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            Ok::<_, ()>(TemporaryToken::new("t", Duration::from_secs(60)))
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_fetch_is_returned_and_not_cached() {
        let cache: TokenCache<u8> = TokenCache::default();
        let err = cache
            .get_or_fetch(|| async { Err::<TemporaryToken<u8>, _>("down") })
            .await;
        assert_eq!(err.unwrap_err(), "down");
        let ok = cache
            .get_or_fetch(|| async { Ok::<_, ()>(TemporaryToken::new(7, Duration::from_secs(60))) })
            .await;
        assert_eq!(ok.unwrap().token, 7);
    }
}
