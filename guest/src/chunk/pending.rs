//! The bytes of the block being cut. A chunker that keeps its blocks' bytes stores them all;
//! one that only counts them (the host holds the data, see [`Chunker::counting`]) stores just
//! what it still has to look at: the header record until it is parsed, and the record not
//! yet ended (for its terminator and the line numbers of an error inside it).
//!
//! [`Chunker::counting`]: super::Chunker::counting

use std::mem;

/// Blocks below this size (the driver's read size) get the next block's room as soon as
/// they are cut: one read may hold several of them.
const SMALL_BLOCK: usize = 1 << 20;

/// The current block's bytes, indexed from its start.
#[derive(Debug)]
pub(super) struct Pending {
    /// Its length.
    len: usize,
    /// The bytes stored: those of `from..len`.
    data: Vec<u8>,
    from: usize,
    /// Every byte is stored (not only the open record's).
    keep: bool,
    /// Its last byte, stored or not.
    last: Option<u8>,
}

impl Pending {
    /// An empty block; `keep` stores every byte, else only what [`forget`](Self::forget)
    /// leaves.
    pub(super) fn new(keep: bool) -> Pending {
        Pending {
            len: 0,
            data: Vec::new(),
            from: 0,
            keep,
            last: None,
        }
    }

    /// Its length in bytes.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no bytes.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its last byte.
    pub(super) fn last(&self) -> Option<u8> {
        self.last
    }

    /// Makes room for `room` bytes at once when keeping, so the buffer is never regrown and
    /// copied: a Wasm memory keeps every page it once touched, and a buffer grown by doubling
    /// leaves its old copies behind. Untouched room costs no resident memory.
    pub(super) fn reserve(&mut self, room: usize) {
        if self.keep && self.data.capacity() < room {
            self.data.reserve_exact(room - self.data.len().min(room));
        }
    }

    /// Adds bytes that are always stored while the record they belong to is open.
    pub(super) fn extend(&mut self, bytes: &[u8]) {
        if let Some(&b) = bytes.last() {
            self.data.extend_from_slice(bytes);
            self.len += bytes.len();
            self.last = Some(b);
        }
    }

    /// Adds one byte, as [`extend`](Self::extend).
    pub(super) fn push(&mut self, byte: u8) {
        self.extend(&[byte]);
    }

    /// Adds complete records: stored only when keeping.
    pub(super) fn extend_records(&mut self, bytes: &[u8]) {
        if self.keep {
            self.extend(bytes);
        } else if let Some(&b) = bytes.last() {
            self.len += bytes.len();
            self.forget();
            self.last = Some(b);
        }
    }

    /// Drops everything (the chunker moved its start past these bytes).
    pub(super) fn clear(&mut self) {
        self.len = 0;
        self.from = 0;
        self.data.clear();
        self.last = None;
    }

    /// A record just ended at the end: when counting, its bytes need not be stored.
    pub(super) fn forget(&mut self) {
        if !self.keep {
            self.data.clear();
            self.from = self.len;
        }
    }

    /// The stored bytes from index `at` to the end; those before the stored range, if `at`
    /// lies before it, are left out.
    pub(super) fn stored_from(&self, at: usize) -> &[u8] {
        &self.data[at.saturating_sub(self.from).min(self.data.len())..]
    }

    /// Cuts off the first `cut` bytes: their bytes when keeping (the buffer's allocation goes
    /// with them and the rest moves to a small one, so the guest holds about one block, not
    /// two), else nothing.
    pub(super) fn cut(&mut self, cut: usize, block_size: usize) -> Option<Vec<u8>> {
        self.len -= cut;
        if !self.keep {
            // The last block may end inside the stored record (the input's end).
            let dropped = cut.saturating_sub(self.from).min(self.data.len());
            self.data.drain(..dropped);
            self.from = self.from.saturating_sub(cut);
            if self.len == 0 {
                self.last = None;
            }
            return None;
        }
        let rest = if block_size < SMALL_BLOCK {
            // Several such blocks come out of one read: room for the next one now.
            let mut rest = Vec::with_capacity(block_size + 1);
            rest.extend_from_slice(&self.data[cut..]);
            rest
        } else {
            self.data[cut..].to_vec()
        };
        self.data.truncate(cut);
        if rest.is_empty() {
            self.last = None;
        }
        Some(mem::replace(&mut self.data, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeping_stores_every_byte_and_cuts_hand_them_over() {
        let mut p = Pending::new(true);
        p.extend(b"a,b\n");
        p.extend_records(b"1,2\n3,4\n");
        p.extend(b"5,");
        assert_eq!(p.len(), 14);
        assert_eq!(p.stored_from(0), b"a,b\n1,2\n3,4\n5,");
        assert_eq!(p.cut(12, 8).unwrap(), b"a,b\n1,2\n3,4\n");
        assert_eq!((p.len(), p.stored_from(0)), (2, &b"5,"[..]));
        assert_eq!(p.last(), Some(b','));
    }

    #[test]
    fn counting_stores_only_the_open_record() {
        let mut p = Pending::new(false);
        p.extend(b"a,b\n");
        assert_eq!(
            p.stored_from(0),
            b"a,b\n",
            "the header stays until it is parsed"
        );
        p.forget();
        p.extend_records(b"1,2\n3,4\n");
        p.extend(b"5,\"x");
        assert_eq!(p.len(), 16);
        assert_eq!(p.stored_from(12), b"5,\"x");
        assert_eq!(p.stored_from(0), b"5,\"x", "nothing before the open record");
        assert_eq!(p.last(), Some(b'x'));
        assert_eq!(p.cut(12, 8), None);
        assert_eq!((p.len(), p.stored_from(0)), (4, &b"5,\"x"[..]));
        p.extend(b"\"\n");
        p.forget();
        assert_eq!((p.len(), p.stored_from(0)), (6, &b""[..]));
        assert_eq!(p.last(), Some(b'\n'));
    }
}
