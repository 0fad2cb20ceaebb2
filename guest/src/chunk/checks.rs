//! The chunker's input checks: record length, field counts, NUL bytes and UTF-8.

use std::mem;

use super::Chunker;
use crate::model::DataError;

impl Chunker {
    /// A record was completed at the end of `buf` (its terminator's LF may follow): checks
    /// its length and field count.
    pub(super) fn record_complete(&mut self) {
        let fields = mem::take(&mut self.fields);
        let (line, offset) = self.record_start();
        let bytes = self.buf_start + self.buf.len() as u64 - offset;
        if self.reject_long && bytes > self.block_size as u64 {
            self.fail_long(line, offset, bytes, "");
            return;
        }
        let Some(header_fields) = self.header_fields else {
            self.header_fields = Some(fields);
            return;
        };
        if self.strict && fields != header_fields {
            self.fail_ragged(line, offset, fields, header_fields);
        }
    }

    pub(super) fn fail_ragged(&mut self, line: u64, offset: u64, fields: u64, header_fields: u64) {
        self.failed = Some(DataError {
            line,
            byte_offset: offset,
            message: format!(
                "the record at line {line} (byte {offset}) has {fields} fields, but the header \
                 has {header_fields}: fix the data, or set output.strict = false"
            ),
        });
    }

    pub(super) fn fail_long(&mut self, line: u64, offset: u64, bytes: u64, tail: &str) {
        self.failed = Some(DataError {
            line,
            byte_offset: offset,
            message: format!(
                "record at line {line} is {bytes} bytes{tail}, longer than output.block_size \
                 ({}): raise block_size",
                self.block_size
            ),
        });
    }

    /// Records the text problem at absolute offset `abs`, inside the record being read.
    pub(super) fn fail_text(&mut self, abs: u64, problem: TextProblem) {
        if let Some((line, offset, bytes)) = self.oversize {
            let bytes = bytes.max(abs - offset);
            self.fail_long(line, offset, bytes, " at least");
            return;
        }
        if self.pending_cr {
            self.pending_cr = false;
            self.record_end();
        }
        let (line, offset) = self.record_start();
        // The problem byte may sit before the record's start (a pending CR just ended the
        // previous record): then it is on the record's first line.
        let to = (abs.saturating_sub(self.buf_start) as usize).min(self.buf.len());
        let from = (offset.saturating_sub(self.buf_start) as usize).min(to);
        let stored = self.buf.stored_from(from);
        let between = &stored[..(to - from).min(stored.len())];
        let at_line = line + between.iter().filter(|&&b| b == b'\n').count() as u64;
        let what = match problem {
            TextProblem::Nul => {
                "a NUL byte: CSV text holds none (is the source binary, or UTF-16?)"
            }
            TextProblem::Utf8 => "bytes that are not UTF-8: export the dataset as UTF-8",
        };
        self.failed = Some(DataError {
            line,
            byte_offset: offset,
            message: format!(
                "the record starting at line {line} (byte {offset}) holds, at line {at_line} \
                 (byte {abs}), {what}"
            ),
        });
    }
}

/// Which text problem [`Chunker::feed`] found.
#[derive(Clone, Copy)]
pub(super) enum TextProblem {
    Nul,
    Utf8,
}

/// Incremental UTF-8 validation across slices.
#[derive(Default)]
pub(super) struct Utf8Check {
    /// Bytes of a sequence cut by the end of the last slice, and the offset of its first.
    pending: Vec<u8>,
    pending_at: u64,
    /// Bytes seen.
    offset: u64,
}

impl Utf8Check {
    /// Checks the next slice; the absolute offset of the first invalid sequence, if any.
    /// Validation stops at `stop` (an index in `input`, where another problem is).
    pub(super) fn feed(&mut self, input: &[u8], stop: Option<usize>) -> Option<u64> {
        let base = self.offset;
        self.offset += input.len() as u64;
        let mut input = &input[..stop.unwrap_or(input.len())];
        let mut skipped = 0;
        if !self.pending.is_empty() {
            let need = match self.pending[0] {
                0xF0..=0xF7 => 4,
                0xE0..=0xEF => 3,
                _ => 2,
            };
            while self.pending.len() < need && !input.is_empty() {
                self.pending.push(input[0]);
                input = &input[1..];
                skipped += 1;
            }
            if self.pending.len() < need {
                return stop.map(|_| self.pending_at);
            }
            if std::str::from_utf8(&self.pending).is_err() {
                return Some(self.pending_at);
            }
            self.pending.clear();
        }
        let base = base + skipped;
        // The vectorised check first: nearly all input is valid, and only then is the slower
        // one, which says where and how a sequence is bad, needed.
        if simdutf8::basic::from_utf8(input).is_ok() {
            return None;
        }
        match std::str::from_utf8(input) {
            Ok(_) => None,
            Err(e) if e.error_len().is_some() || stop.is_some() => {
                Some(base + e.valid_up_to() as u64)
            }
            Err(e) => {
                self.pending = input[e.valid_up_to()..].to_vec();
                self.pending_at = base + e.valid_up_to() as u64;
                None
            }
        }
    }

    /// The offset of a sequence cut by the end of the data, if any.
    pub(super) fn finish(&self) -> Option<u64> {
        (!self.pending.is_empty()).then_some(self.pending_at)
    }
}
