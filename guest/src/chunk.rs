//! The CSV chunker: cuts a byte stream into append blocks that end at record boundaries.
//!
//! It is fed arbitrary slices of the source and yields owned blocks whose concatenation is
//! byte-identical to the input (a UTF-8 BOM included), except that in append mode the header
//! record (with its BOM and terminator) is left out. A block is cut at the last record end at
//! or before `block_size` bytes; a record longer than that makes a block of its own, ending
//! where the record ends.
//!
//! Parsing is `csv-core`'s DFA (RFC 4180 quoting: quoted fields may hold commas, `""` and
//! CR/LF; records end with LF, CRLF or CR; blank lines are not records). Field contents go to
//! one reused scratch buffer and are ignored: the chunker only needs where records end.
//! Complete records are found without the DFA (`fast`): the DFA's rules reduce to one
//! vectorised pass (`memchr`) over the quotes, CRs and LFs, a `"` opening a quoted field
//! only at the start of a field, and the bookkeeping of the records found is done in bulk.
//! The DFA takes the rest (a record running past the input read so far, a trailing CR) and
//! both agree byte for byte (the fuzz target and the tests compare them).
//!
//! While streaming it also rejects bad input, each time with a [`DataError`] naming the line
//! and byte offset where the offending record starts: a NUL byte, bytes that are not UTF-8
//! (checked across feed boundaries; a BOM is fine), with
//! [`reject_long_records`](Chunker::reject_long_records) a record longer than `block_size`
//! (its bytes are counted, not kept, so memory stays bounded), and with
//! [`strict`](Chunker::strict) a record whose field count differs from the header's. After
//! the first error the chunker ignores further input; [`check`](Chunker::check) and
//! [`finish`](Chunker::finish) report it.

use std::collections::VecDeque;
use std::mem;

use csv_core::{ReadRecordResult, Reader};

use crate::model::DataError;
use checks::{TextProblem, Utf8Check};
use pending::Pending;

mod pending;

const BOM: &[u8] = b"\xEF\xBB\xBF";
/// Scratch space for field contents, which are discarded.
const SCRATCH: usize = 64 * 1024;
/// Field end positions per `read_record` call; more fields just take another call.
const ENDS: usize = 256;
/// Most bytes reserved ahead for one block.
const MAX_PREALLOC: usize = 100 * 1024 * 1024 + 1;

/// Where the input ended, for [`Chunker::finish`].
enum Eof {
    BetweenRecords,
    InRecord,
    InQuotedField,
}

/// One append block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The bytes, ending at a record boundary (or at the end of the input).
    pub data: Vec<u8>,
    /// Data records (rows) ending in this block; the header record is not counted.
    pub rows: u64,
}

/// Where one append block lies in the input, from a [`counting`](Chunker::counting) chunker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    /// Offset of its first byte in the input (after a skipped header, past it).
    pub start: u64,
    /// Its length in bytes.
    pub len: u64,
    /// Data records (rows) ending in it.
    pub rows: u64,
}

/// Incremental CSV chunker; see the module documentation.
pub struct Chunker {
    reader: Reader,
    block_size: usize,
    skip_header: bool,
    /// Bytes not yet emitted; `buf[0]` is at absolute offset `buf_start`.
    buf: Pending,
    buf_start: u64,
    /// End (in `buf`) of the last record that fits in the current block, 0 when none.
    last_end: usize,
    /// Rows ending at or before `last_end`, not yet emitted.
    rows_at_last_end: u64,
    /// Rows parsed but not yet emitted.
    rows_pending: u64,
    /// Records parsed, the header included.
    records: u64,
    /// The first bytes of the input while it may still be a BOM.
    prefix: Vec<u8>,
    bom_decided: bool,
    /// A record ended with CR; a following LF belongs to its terminator.
    pending_cr: bool,
    /// Absolute offset and 1-based line just after the last record (or the BOM).
    tail_offset: u64,
    tail_line: u64,
    header: Option<Vec<u8>>,
    header_crlf: bool,
    /// Absolute offset and 1-based line just after the header record.
    data_start: (u64, u64),
    total_in: u64,
    ready: VecDeque<Block>,
    /// What a counting chunker cut.
    cuts: VecDeque<Cut>,
    scratch: Vec<u8>,
    ends: [usize; ENDS],
    /// The first problem found; later input is ignored.
    failed: Option<DataError>,
    /// Check for NUL bytes and UTF-8 (off only for [`first_record`]).
    check_text: bool,
    utf8: Utf8Check,
    /// A record longer than `block_size` is an error, not a block of its own.
    reject_long: bool,
    /// The record being read is longer than a block: where it starts and its bytes so far.
    oversize: Option<(u64, u64, u64)>,
    /// Compare every record's field count with the header's.
    strict: bool,
    /// Fields of the header record, once parsed.
    header_fields: Option<u64>,
    /// Fields completed in the record being read.
    fields: u64,
    /// The parser stands between records (the last one ended, nothing of the next read).
    between_records: bool,
}

impl Chunker {
    /// A chunker cutting blocks of about `block_size` bytes (at least 1). With `skip_header`,
    /// the first record (and a BOM before it) is parsed but left out of the blocks.
    pub fn new(block_size: usize, skip_header: bool) -> Chunker {
        Chunker {
            reader: Reader::new(),
            block_size: block_size.max(1),
            skip_header,
            buf: Pending::new(true),
            buf_start: 0,
            last_end: 0,
            rows_at_last_end: 0,
            rows_pending: 0,
            records: 0,
            prefix: Vec::with_capacity(3),
            bom_decided: false,
            pending_cr: false,
            tail_offset: 0,
            tail_line: 1,
            data_start: (0, 1),
            header: None,
            header_crlf: false,
            total_in: 0,
            ready: VecDeque::new(),
            cuts: VecDeque::new(),
            scratch: vec![0; SCRATCH],
            ends: [0; ENDS],
            failed: None,
            check_text: true,
            utf8: Utf8Check::default(),
            reject_long: false,
            oversize: None,
            strict: false,
            header_fields: None,
            fields: 0,
            between_records: false,
        }
    }

    /// With `on`, a record (the header included) longer than `block_size` is an error
    /// instead of a block of its own.
    pub fn reject_long_records(mut self, on: bool) -> Chunker {
        self.reject_long = on;
        self
    }

    /// With `on`, the chunker keeps none of the blocks' bytes: it only says where each block
    /// lies ([`next_cut`](Self::next_cut)) for a caller that holds the data elsewhere (the
    /// host, which read it), and stores no more than the header and the record being read.
    /// Call it before the first [`feed`](Self::feed).
    pub fn counting(mut self, on: bool) -> Chunker {
        self.buf = Pending::new(!on);
        self
    }

    /// With `on`, a record whose field count differs from the header's is an error.
    pub fn strict(mut self, on: bool) -> Chunker {
        self.strict = on;
        self
    }

    /// The first problem found in the input so far, if any.
    pub fn check(&self) -> Result<(), DataError> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Feeds the next bytes of the input. Completed blocks are then ready for
    /// [`next_block`](Self::next_block); a problem found is then reported by
    /// [`check`](Self::check).
    pub fn feed(&mut self, input: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        let at = self.total_in;
        self.total_in += input.len() as u64;
        let bad = if self.check_text {
            let nul = memchr::memchr(0, input).map(|i| at + i as u64);
            let utf8 = self.utf8.feed(input, nul.map(|n| (n - at) as usize));
            match (nul, utf8) {
                (Some(n), Some(u)) if u < n => Some((u, TextProblem::Utf8)),
                (Some(n), _) => Some((n, TextProblem::Nul)),
                (None, Some(u)) => Some((u, TextProblem::Utf8)),
                (None, None) => None,
            }
        } else {
            None
        };
        let good = bad.map_or(input.len(), |(abs, _)| abs.saturating_sub(at) as usize);
        self.feed_checked(&input[..good]);
        if let Some((abs, problem)) = bad
            && self.failed.is_none()
        {
            self.fail_text(abs, problem);
        }
    }

    /// Feeds input whose text is known to be valid.
    fn feed_checked(&mut self, mut input: &[u8]) {
        self.buf
            .reserve(self.block_size.saturating_add(1).min(MAX_PREALLOC));
        if !self.bom_decided {
            while !input.is_empty() && self.prefix.len() < 3 {
                let b = input[0];
                if b != BOM[self.prefix.len()] {
                    break;
                }
                self.prefix.push(b);
                input = &input[1..];
            }
            if self.prefix.len() == 3 {
                // A BOM: kept in the output, never parsed.
                self.bom_decided = true;
                self.buf.extend(BOM);
                self.tail_offset = 3;
                self.prefix.clear();
            } else if !input.is_empty() {
                // Not a BOM: whatever was held back is data.
                self.bom_decided = true;
                let prefix = mem::take(&mut self.prefix);
                self.parse(&prefix);
            } else {
                return;
            }
        }
        self.parse(input);
    }

    /// The next completed block, if any.
    pub fn next_block(&mut self) -> Option<Block> {
        self.ready.pop_front()
    }

    /// Where the next completed block lies, if any (a [`counting`](Self::counting) chunker).
    pub fn next_cut(&mut self) -> Option<Cut> {
        self.cuts.pop_front()
    }

    /// Ends the input; call it once, after the last [`feed`](Self::feed). The last block is
    /// then ready. Fails when the input is empty (no header line) or ends inside a quoted
    /// field, naming the line and byte offset where that field's record starts.
    pub fn finish(&mut self) -> Result<(), DataError> {
        self.check()?;
        if !self.bom_decided {
            self.bom_decided = true;
            let prefix = mem::take(&mut self.prefix);
            self.parse(&prefix);
            self.check()?;
        }
        if self.check_text
            && let Some(abs) = self.utf8.finish()
        {
            self.fail_text(abs, TextProblem::Utf8);
            return self.check();
        }
        if let Some((line, offset, bytes)) = self.oversize {
            self.fail_long(line, offset, bytes, " (to the end of the data)");
            return self.check();
        }
        if self.total_in == 0 {
            return Err(DataError {
                line: 1,
                byte_offset: 0,
                message: "the dataset is empty: no header line".into(),
            });
        }
        if self.pending_cr {
            self.pending_cr = false;
            self.record_end();
        }
        match self.end_of_input() {
            Eof::BetweenRecords => {}
            Eof::InRecord => {
                self.record_complete();
                self.check()?;
                self.record_end();
            }
            Eof::InQuotedField => {
                let (line, byte_offset) = self.record_start();
                return Err(DataError {
                    line,
                    byte_offset,
                    message: format!(
                        "the data ends inside a quoted field: the record starting at line \
                         {line} (byte {byte_offset}) has a `\"` that is never closed"
                    ),
                });
            }
        }
        if self.records == 0 {
            return Err(DataError {
                line: 1,
                byte_offset: 0,
                message:
                    "the dataset has no header line: it holds only blank lines or a byte-order mark"
                        .into(),
            });
        }
        if !self.buf.is_empty() {
            let rows = self.rows_pending;
            self.emit(self.buf.len(), rows);
        }
        Ok(())
    }

    /// Records parsed so far, the header record included.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Data records (rows) parsed so far: records minus the header record.
    pub fn rows(&self) -> u64 {
        self.records.saturating_sub(1)
    }

    /// The header record's bytes, without BOM and terminator, once it has been parsed.
    pub fn header(&self) -> Option<&[u8]> {
        self.header.as_deref()
    }

    /// The byte offset and 1-based line just after the header record (its terminator
    /// included), where the first data record's bytes begin.
    pub fn data_start(&self) -> (u64, u64) {
        self.data_start
    }

    /// Whether the header record ends with CRLF (only meaningful once it is parsed).
    pub fn header_crlf(&self) -> bool {
        self.header_crlf
    }

    /// Runs `csv-core` over `input`, copying it into the current block and cutting blocks.
    fn parse(&mut self, mut input: &[u8]) {
        while !input.is_empty() {
            if self.between_records && !self.pending_cr && self.records > 0 {
                let taken = self.fast_records(input);
                input = &input[taken..];
                if self.failed.is_some() || input.is_empty() {
                    return;
                }
            }
            if self.pending_cr {
                // The LF of a CRLF belongs to the record that the CR ended.
                self.pending_cr = false;
                if input[0] == b'\n' {
                    let (_, n, _, _) =
                        self.reader
                            .read_record(&input[..1], &mut self.scratch, &mut self.ends);
                    debug_assert_eq!(n, 1);
                    self.buf.push(b'\n');
                    input = &input[1..];
                }
                self.record_end();
                continue;
            }
            let (res, n, _, nend) =
                self.reader
                    .read_record(input, &mut self.scratch, &mut self.ends);
            self.fields += nend as u64;
            self.between_records = false;
            if let Some((line, offset, bytes)) = &mut self.oversize {
                // Counted, not kept.
                *bytes += n as u64;
                input = &input[n..];
                if res == ReadRecordResult::Record {
                    let (line, offset, bytes) = (*line, *offset, *bytes);
                    self.fail_long(line, offset, bytes, "");
                    return;
                }
                continue;
            }
            self.buf.extend(&input[..n]);
            input = &input[n..];
            if res == ReadRecordResult::Record {
                self.record_complete();
                if self.failed.is_some() {
                    return;
                }
                if self.buf.last() == Some(b'\r') {
                    self.pending_cr = true;
                } else {
                    self.record_end();
                }
            } else if self.buf.len() > self.block_size {
                if self.last_end > 0 {
                    let rows = self.rows_at_last_end;
                    self.emit(self.last_end, rows);
                }
                if self.reject_long {
                    let (line, offset) = self.record_start();
                    let bytes = self.buf_start + self.buf.len() as u64 - offset;
                    if bytes > self.block_size as u64 {
                        // Stop keeping the record: only its length is still needed.
                        self.buf_start += self.buf.len() as u64;
                        self.buf.clear();
                        self.oversize = Some((line, offset, bytes));
                    }
                }
            }
        }
    }

    /// A record ends at the end of `buf`.
    fn record_end(&mut self) {
        self.between_records = true;
        self.records += 1;
        self.tail_offset = self.buf_start + self.buf.len() as u64;
        self.tail_line = self.reader.line();
        if self.records == 1 {
            self.data_start = (self.tail_offset, self.tail_line);
            self.take_header();
            if self.skip_header {
                self.buf_start += self.buf.len() as u64;
                self.buf.clear();
                self.last_end = 0;
                return;
            }
        } else {
            self.rows_pending += 1;
        }
        self.buf.forget();
        let end = self.buf.len();
        if end > self.block_size {
            if self.last_end > 0 {
                let rows = self.rows_at_last_end;
                self.emit(self.last_end, rows);
            }
            let end = self.buf.len();
            if end > self.block_size {
                // One record longer than a block: it makes a block of its own.
                let rows = self.rows_pending;
                self.emit(end, rows);
                return;
            }
        }
        self.last_end = self.buf.len();
        self.rows_at_last_end = self.rows_pending;
    }

    fn take_header(&mut self) {
        let record = self.buf.stored_from(0);
        let bom = if record.starts_with(BOM) { 3 } else { 0 };
        let mut header = &record[bom.min(record.len())..];
        self.header_crlf = header.ends_with(b"\r\n");
        while let [rest @ .., b'\r' | b'\n'] = header {
            header = rest;
        }
        // Blank lines before the header are not part of it.
        let start = header
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(header.len());
        self.header = Some(header[start..].to_vec());
    }

    /// Moves `buf[..cut]` into a ready block holding `rows` rows (a counting chunker: where
    /// it lies); the next block's room is reserved at the next [`feed`](Self::feed), after
    /// this block was handed over and freed.
    fn emit(&mut self, cut: usize, rows: u64) {
        let start = self.buf_start;
        match self.buf.cut(cut, self.block_size) {
            Some(data) => self.ready.push_back(Block { data, rows }),
            None => self.cuts.push_back(Cut {
                start,
                len: cut as u64,
                rows,
            }),
        }
        self.buf_start += cut as u64;
        self.last_end = 0;
        self.rows_pending -= rows;
        self.rows_at_last_end = 0;
    }

    /// Where the input ended. `csv-core` is lenient at EOF: it completes a record even
    /// inside a quoted field. So the parser is fed made-up bytes instead of the EOF (it is not
    /// used afterwards; cloning it is no option, as `csv-core` 0.1's `Clone` for its DFA
    /// copies only the transition table). An LF completes a record only when one is open
    /// outside quotes; otherwise `x` + LF completes one only when no quote is open.
    fn end_of_input(&mut self) -> Eof {
        if self.probe(b"\n") {
            Eof::InRecord
        } else if self.probe(b"x\n") {
            Eof::BetweenRecords
        } else {
            Eof::InQuotedField
        }
    }

    /// Feeds `input` to the parser; whether that completed a record.
    fn probe(&mut self, mut input: &[u8]) -> bool {
        while !input.is_empty() {
            let (res, n, _, nend) =
                self.reader
                    .read_record(input, &mut self.scratch, &mut self.ends);
            self.fields += nend as u64;
            if res == ReadRecordResult::Record {
                return true;
            }
            input = &input[n..];
        }
        false
    }

    /// Line and offset where the unfinished record starts: after the last record and the
    /// blank lines that follow it.
    fn record_start(&self) -> (u64, u64) {
        let from = (self.tail_offset - self.buf_start) as usize;
        let mut line = self.tail_line;
        let mut offset = self.tail_offset;
        for &b in self.buf.stored_from(from) {
            match b {
                b'\n' => line += 1,
                b'\r' => {}
                _ => break,
            }
            offset += 1;
        }
        (line, offset)
    }
}

/// The first record of `data`, the start of a file: its bytes without BOM and terminator,
/// and whether its terminator is CRLF. `None` when `data` holds no complete first record,
/// unless `whole` says `data` is the entire file (then an unterminated record counts).
pub fn first_record(data: &[u8], whole: bool) -> Option<(Vec<u8>, bool)> {
    let mut chunker = Chunker::new(data.len(), false);
    chunker.check_text = false;
    chunker.feed(data);
    if chunker.pending_cr && !whole {
        // A CR at the very end of a partial read ends the header, whether or not an LF
        // follows it beyond the range.
        chunker.pending_cr = false;
        chunker.record_end();
    }
    if chunker.records == 0 && whole {
        chunker.finish().ok()?;
    }
    let crlf = chunker.header_crlf;
    chunker.header.map(|h| (h, crlf))
}

/// The fields of one CSV record (unquoted), for comparing headers regardless of quoting.
pub fn fields(record: &[u8]) -> Vec<Vec<u8>> {
    let mut reader = Reader::new();
    let mut out = Vec::new();
    let mut field = Vec::new();
    let mut scratch = [0u8; 1024];
    let mut input = record;
    loop {
        let (res, n, w) = reader.read_field(input, &mut scratch);
        input = &input[n..];
        field.extend_from_slice(&scratch[..w]);
        match res {
            csv_core::ReadFieldResult::Field { record_end } => {
                out.push(mem::take(&mut field));
                if record_end {
                    return out;
                }
            }
            csv_core::ReadFieldResult::End => return out,
            _ => {}
        }
    }
}

mod checks;
mod fast;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_counting;
