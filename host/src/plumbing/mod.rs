//! The host's plumbing: small generic pieces that know nothing of jobs, capabilities or
//! the guest, and import nothing else of this crate.
//!
//! - [`client`]: the shared HTTP client and the wording of transport errors;
//! - [`retry`]: request-level retry (what is retryable, the server's wait, the loop);
//! - [`backoff`]: the jitter maths of the waits;
//! - [`token`]: a token cache that refreshes ahead of expiry, one refresh at a time;
//! - [`dfs`]: the few DFS requests the host sends itself (`run --verify`, `accounts test`);
//! - [`shared_key`]: Azure Storage's SharedKey signature of a request.

pub mod backoff;
pub mod client;
pub mod dfs;
pub mod retry;
pub mod shared_key;
pub mod token;
