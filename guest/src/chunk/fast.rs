//! The chunker's fast path: complete records found in one vectorised pass over the input's
//! quotes, CRs and LFs (`memchr3`), with `csv-core`'s rules for its default dialect, and
//! their bookkeeping (rows, cuts, lines, checks) done with integers, the bytes copied into
//! blocks in runs rather than record by record.
//!
//! The rules, as the DFA applies them: between records, CRs and LFs are blank lines; outside
//! a quoted field the first CR or LF ends the record (a CR followed by an LF, both); a `"`
//! opens a quoted field only as a field's first byte (else it is literal, as everywhere after
//! a closing quote); in a quoted field, `""` is a quote and a lone `"` closes it; LFs count
//! lines wherever they are.

use super::Chunker;

/// Where a pass stands, in indexes of its input.
struct Pass {
    /// Input bytes already copied into the chunker's buffer.
    copied: usize,
    /// Absolute offset of the input's first byte.
    base: u64,
    /// The end of the last record ended at or before a block's size, absolute.
    last_end: Option<u64>,
}

impl Chunker {
    /// Cuts the complete records at the start of `input` (the parser stands between
    /// records) as the DFA would; returns the bytes taken. It stops before a record whose end
    /// it cannot see (it runs past `input`, or its end is a CR or a closing quote on the last
    /// byte, which the next byte decides), leaving it to the DFA, still between records.
    pub(super) fn fast_records(&mut self, input: &[u8]) -> usize {
        let mut pass = Pass {
            copied: 0,
            base: self.buf_start + self.buf.len() as u64,
            last_end: (self.last_end > 0).then(|| self.buf_start + self.last_end as u64),
        };
        let header_fields = self.header_fields.unwrap_or(0);
        let mut line = self.reader.line();
        // The record being read: its first byte (after blank lines) and that byte's line.
        let (mut start, mut start_line) = (0, line);
        // The end of the last complete record, and the line after it.
        let (mut taken, mut taken_line) = (0, line);
        let mut quoted = false;
        let mut opened = 0;
        let mut commas_quoted = 0u64;
        // The second byte of a `""` or of a CRLF, already dealt with.
        let mut skip = usize::MAX;
        for at in memchr::memchr3_iter(b'"', b'\n', b'\r', input) {
            let byte = input[at];
            line += u64::from(byte == b'\n');
            if at == skip {
                continue;
            }
            if quoted {
                if byte == b'"' {
                    match input.get(at + 1) {
                        Some(b'"') => skip = at + 1,
                        Some(_) => {
                            quoted = false;
                            if self.strict {
                                commas_quoted += count(b',', &input[opened..at]);
                            }
                        }
                        None => break,
                    }
                }
                continue;
            }
            if byte == b'"' {
                if at == start || input[at - 1] == b',' {
                    quoted = true;
                    opened = at;
                }
                continue;
            }
            if at == start {
                // A blank line.
                start = at + 1;
                start_line = line;
                continue;
            }
            let crlf = match (byte, input.get(at + 1)) {
                (b'\r', None) => break,
                (b'\r', Some(b'\n')) => true,
                _ => false,
            };
            let length = (at + 1 - start) as u64;
            let offset = pass.base + start as u64;
            if self.reject_long && length > self.block_size as u64 {
                self.settle(input, &mut pass, taken, taken_line);
                self.fail_long(start_line, offset, length, "");
                return taken;
            }
            if self.strict {
                let fields = count(b',', &input[start..at]) - commas_quoted + 1;
                commas_quoted = 0;
                if fields != header_fields {
                    self.settle(input, &mut pass, taken, taken_line);
                    self.fail_ragged(start_line, offset, fields, header_fields);
                    return taken;
                }
            }
            if crlf {
                skip = at + 1;
            }
            taken = at + 1 + usize::from(crlf);
            taken_line = line + u64::from(crlf);
            (start, start_line) = (taken, taken_line);
            let end = pass.base + taken as u64;
            self.fast_record_end(input, &mut pass, end);
        }
        self.settle(input, &mut pass, taken, taken_line);
        taken
    }

    /// What `record_end` does for a data record ending at `end` (absolute), on the pass's
    /// integers: a block is cut, copying the bytes it needs, only when the record passes
    /// `block_size`.
    fn fast_record_end(&mut self, input: &[u8], pass: &mut Pass, end: u64) {
        self.records += 1;
        self.rows_pending += 1;
        let block = self.block_size as u64;
        if end - self.buf_start > block {
            if let Some(cut) = pass.last_end.take() {
                self.copy_to(input, pass, cut);
                let rows = self.rows_at_last_end;
                self.emit(self.buf.len(), rows);
            }
            if end - self.buf_start > block {
                // One record longer than a block: it makes a block of its own.
                self.copy_to(input, pass, end);
                let rows = self.rows_pending;
                self.emit(self.buf.len(), rows);
                return;
            }
        }
        pass.last_end = Some(end);
        self.rows_at_last_end = self.rows_pending;
    }

    /// Copies the input up to `end` (absolute) into the buffer.
    fn copy_to(&mut self, input: &[u8], pass: &mut Pass, end: u64) {
        let to = (end - pass.base) as usize;
        self.buf.extend_records(&input[pass.copied..to]);
        pass.copied = to;
    }

    /// Ends a pass that took `taken` bytes, the line after them being `line`: the rest of
    /// them copied, the chunker's own fields as `record_end` would have left them.
    fn settle(&mut self, input: &[u8], pass: &mut Pass, taken: usize, line: u64) {
        if taken == 0 {
            return;
        }
        let end = pass.base + taken as u64;
        self.copy_to(input, pass, end);
        self.last_end = pass.last_end.map_or(0, |e| (e - self.buf_start) as usize);
        self.tail_offset = end;
        self.tail_line = line;
        self.reader.set_line(line);
    }
}

/// Occurrences of `byte` in `data`.
fn count(byte: u8, data: &[u8]) -> u64 {
    memchr::memchr_iter(byte, data).count() as u64
}
