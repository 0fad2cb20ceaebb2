//! Request bodies the guest hands over once (`http.body`), and the run's memory budget.
//!
//! A body is held as [`Bytes`], so a request in flight, its resend after a refused token and
//! a running digest share one copy. Its bytes count against the run's [`MemoryBudget`] from
//! the moment the guest hands them over until the last user lets go of them, together with
//! the guest's linear memory: a guest cannot make the host hold more for it than its limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

/// One run's memory: the guest's linear memory plus the request bodies the host holds for
/// it, against one limit (`[limits] memory_mib`).
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    linear: AtomicUsize,
    held: AtomicUsize,
}

/// What the budget refused, for the error that ends the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The run's limit, in bytes.
    pub limit: usize,
    /// The guest's linear memory at (or, for a growth, after) the refusal, in bytes.
    pub linear: usize,
    /// Body bytes the host held for the guest at (or, for a new body, after) the refusal.
    pub held: usize,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            limit,
            linear: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
        })
    }

    /// The limit, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Body bytes held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// The guest's linear memory would grow to `desired` bytes: allowed when it and the held
    /// bodies fit.
    pub fn grow_linear(&self, desired: usize) -> Result<(), Refusal> {
        let held = self.held();
        if desired.saturating_add(held) > self.limit {
            return Err(Refusal {
                limit: self.limit,
                linear: desired,
                held,
            });
        }
        self.linear.store(desired, Ordering::Release);
        Ok(())
    }

    /// Holds `data` for the guest, counted until the last clone of the returned bytes drops.
    pub fn hold(self: &Arc<Self>, data: Vec<u8>) -> Result<Bytes, Refusal> {
        self.reserve(data.len())?;
        Ok(self.adopt(Bytes::from(data)))
    }

    /// Counts `len` more bytes held for the guest, unless they would pass the limit.
    pub fn reserve(&self, len: usize) -> Result<(), Refusal> {
        let held = self.held.fetch_add(len, Ordering::AcqRel) + len;
        let linear = self.linear.load(Ordering::Acquire);
        if held.saturating_add(linear) > self.limit {
            self.held.fetch_sub(len, Ordering::AcqRel);
            return Err(Refusal {
                limit: self.limit,
                linear,
                held,
            });
        }
        Ok(())
    }

    /// Stops counting `len` bytes [`reserve`](Self::reserve) counted.
    pub fn release(&self, len: usize) {
        self.held.fetch_sub(len, Ordering::AcqRel);
    }

    /// `data`, already [`reserve`](Self::reserve)d, counted until the last clone of the
    /// returned bytes drops.
    pub fn adopt(self: &Arc<Self>, data: Bytes) -> Bytes {
        Bytes::from_owner(Counted {
            data,
            budget: self.clone(),
        })
    }
}

/// Bytes counted against a budget while they live.
struct Counted {
    data: Bytes,
    budget: Arc<MemoryBudget>,
}

impl AsRef<[u8]> for Counted {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.budget.release(self.data.len());
    }
}

/// A body the guest handed over (the `http.body` resource).
#[derive(Debug, Clone)]
pub struct HeldBody {
    /// The bytes, shared with the requests and digests that use them.
    pub bytes: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_bytes_count_until_the_last_clone_drops() {
        let budget = MemoryBudget::new(100);
        let a = budget.hold(vec![1; 40]).unwrap();
        let a2 = a.clone();
        assert_eq!(budget.held(), 40);
        drop(a);
        assert_eq!(budget.held(), 40, "a clone still holds the bytes");
        drop(a2);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn reserved_bytes_count_until_released_or_adopted_and_dropped() {
        let budget = MemoryBudget::new(100);
        budget.reserve(60).unwrap();
        assert!(budget.reserve(50).is_err(), "60 + 50 passes the limit");
        let adopted = budget.adopt(Bytes::from(vec![7; 40]));
        assert_eq!(budget.held(), 60, "adopting counts nothing more");
        budget.release(20);
        drop(adopted);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn bodies_and_linear_memory_share_the_limit() {
        let budget = MemoryBudget::new(100);
        budget.grow_linear(50).unwrap();
        let held = budget.hold(vec![0; 40]).unwrap();
        let refused = budget.hold(vec![0; 20]).unwrap_err();
        assert_eq!(
            refused,
            Refusal {
                limit: 100,
                linear: 50,
                held: 60
            }
        );
        assert_eq!(budget.held(), 40, "a refused body is not counted");
        assert_eq!(
            budget.grow_linear(70).unwrap_err(),
            Refusal {
                limit: 100,
                linear: 70,
                held: 40
            }
        );
        drop(held);
        budget.grow_linear(70).unwrap();
    }
}
