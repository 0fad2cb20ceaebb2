//! The bytes a reader keeps for the guest (`reader.read-kept`) until it takes them as
//! request bodies (`reader.take`): the data is read once into the host, copied into the guest
//! to be cut, and sent from here, so it never crosses the boundary back.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::capabilities::http::body::{MemoryBudget, Refusal};

/// Kept bytes, oldest first, counted against the run's memory budget until taken (then the
/// body counts them) or dropped.
#[derive(Debug)]
pub(super) struct Kept {
    bytes: BytesMut,
    budget: Arc<MemoryBudget>,
    /// The longest take so far: the guest's block size, in practice.
    longest_take: usize,
}

impl Kept {
    /// Nothing kept yet; what will be is counted against `budget`.
    pub(super) fn new(budget: Arc<MemoryBudget>) -> Kept {
        Kept {
            bytes: BytesMut::new(),
            budget,
            longest_take: 0,
        }
    }

    /// Keeps a copy of `data`, unless the budget refuses it.
    pub(super) fn keep(&mut self, data: &[u8]) -> Result<(), Refusal> {
        self.budget.reserve(data.len())?;
        if self.bytes.capacity() - self.bytes.len() < data.len() {
            // A buffer of its own for the next body, sized for a whole one (the longest take
            // so far, doubling until the first), with only what is kept copied over: the old
            // buffer stays with the bodies taken from it and is freed with them. (Growing the
            // old one in place would double it whenever no body still shares it.)
            let room = self.longest_take.max(2 * self.bytes.len()).max(data.len());
            let mut fresh = BytesMut::with_capacity(room + data.len());
            fresh.extend_from_slice(&self.bytes);
            self.bytes = fresh;
        }
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    /// Bytes kept now.
    pub(super) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The next `len` kept bytes, without a copy, counted until the last clone drops; `None`
    /// when fewer are kept.
    pub(super) fn take(&mut self, len: usize) -> Option<Bytes> {
        if len > self.bytes.len() {
            return None;
        }
        if len == 0 {
            return Some(Bytes::new());
        }
        self.longest_take = self.longest_take.max(len);
        let taken = self.bytes.split_to(len).freeze();
        Some(self.budget.adopt(taken))
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.budget.release(self.bytes.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_bytes_come_out_in_order_and_count_until_their_body_drops() {
        let budget = MemoryBudget::new(1000);
        let mut kept = Kept::new(budget.clone());
        kept.keep(b"a,b\n1,").unwrap();
        kept.keep(b"2\n3,4\n").unwrap();
        assert_eq!((kept.len(), budget.held()), (12, 12));
        let header = kept.take(4).unwrap();
        let rows = kept.take(8).unwrap();
        assert_eq!(
            (&header[..], &rows[..]),
            (&b"a,b\n"[..], &b"1,2\n3,4\n"[..])
        );
        assert!(
            kept.len() == 0 && kept.take(1).is_none(),
            "nothing more is kept"
        );
        assert_eq!(budget.held(), 12, "the bodies count now");
        drop(header);
        assert_eq!(budget.held(), 8);
        drop(rows);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn the_budget_refuses_what_would_pass_the_limit_and_a_dropped_reader_releases() {
        let budget = MemoryBudget::new(10);
        let mut kept = Kept::new(budget.clone());
        kept.keep(b"12345678").unwrap();
        assert!(kept.keep(b"123").is_err());
        assert_eq!(kept.len(), 8, "a refused read is not kept");
        let body = kept.take(5).unwrap();
        drop(kept);
        assert_eq!(budget.held(), 5, "only the body is still counted");
        drop(body);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn bodies_share_no_more_than_a_take_with_what_is_kept_after_them() {
        let budget = MemoryBudget::new(usize::MAX);
        let mut kept = Kept::new(budget.clone());
        let mut taken = Vec::new();
        for round in 0..20u8 {
            for _ in 0..4 {
                kept.keep(&[round; 100]).unwrap();
            }
            taken.push(kept.take(350).unwrap());
        }
        let all: Vec<u8> = taken.iter().flat_map(|b| b.iter().copied()).collect();
        let expected: Vec<u8> = (0..20u8).flat_map(|r| [r; 400]).take(all.len()).collect();
        assert_eq!(all, expected);
        assert_eq!(kept.len(), 20 * 400 - 20 * 350);
    }
}
