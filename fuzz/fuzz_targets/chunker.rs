//! The CSV chunker against an independent reading of the same bytes.
//!
//! Properties, for any input fed in any slices with any block size and options:
//! - the blocks concatenate to the input (without the header record in append mode), and
//!   after an error to a prefix of it;
//! - every block but the last ends where a record ends, as `csv-core` parsing the whole
//!   input says; a block longer than `block_size` holds exactly one record;
//! - the rows of the blocks add up to the records after the header;
//! - `finish` fails only for an empty input, no record at all, a quote left open, a NUL byte,
//!   bytes that are not UTF-8, a record longer than the block (when refused) or a ragged
//!   record (when strict); and it fails whenever the input has one of the first five;
//! - a counting chunker (which keeps no bytes) cuts the same blocks at the same offsets, with
//!   the same rows, header and error.

#![no_main]

use adls_writeback_guest::chunk::Chunker;
use arbitrary::Arbitrary;
use csv_core::{ReadRecordResult, Reader};
use libfuzzer_sys::fuzz_target;

const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Arbitrary, Debug)]
struct Input {
    block_size: u16,
    skip_header: bool,
    reject_long: bool,
    strict: bool,
    /// Lengths of the slices the input is fed in (cycled; 0 feeds an empty slice).
    slices: Vec<u16>,
    data: Vec<u8>,
}

/// One record as `csv-core` sees it over the whole input.
#[derive(Debug)]
struct Record {
    /// Where its content starts, after the blank lines before it.
    start: usize,
    /// Where `csv-core` completed it (after its CR or LF, before the LF of a CRLF).
    done: usize,
    /// Where the next record may start: after the whole terminator.
    end: usize,
    fields: usize,
}

/// The records of `data`, read in one pass by a fresh `csv-core` reader.
fn records(data: &[u8]) -> Vec<Record> {
    let first = if data.starts_with(BOM) { 3 } else { 0 };
    let mut reader = Reader::new();
    let mut out = vec![0; data.len() + 1];
    let mut ends = vec![0; data.len() + 2];
    let mut records = Vec::new();
    let (mut pos, mut fields, mut prev_end) = (first, 0, first);
    let skip_blank = |from: usize| {
        from + data[from..]
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count()
    };
    loop {
        let input = &data[pos..];
        let (res, nin, _, nend) = reader.read_record(input, &mut out, &mut ends);
        pos += nin;
        fields += nend;
        match res {
            ReadRecordResult::Record => {
                let done = pos;
                let end = if data[pos - 1] == b'\r' && data.get(pos) == Some(&b'\n') {
                    pos + 1
                } else {
                    pos
                };
                records.push(Record {
                    start: skip_blank(prev_end).min(done),
                    done,
                    end,
                    fields,
                });
                prev_end = end;
                fields = 0;
            }
            ReadRecordResult::End => break,
            ReadRecordResult::InputEmpty if input.is_empty() && nin == 0 => {
                // The end of the data: `csv-core` completes a record left open.
                let (res, _, _, nend) = reader.read_record(&[], &mut out, &mut ends);
                if res == ReadRecordResult::Record {
                    records.push(Record {
                        start: skip_blank(prev_end).min(data.len()),
                        done: data.len(),
                        end: data.len(),
                        fields: fields + nend,
                    });
                }
                break;
            }
            _ => {}
        }
    }
    records
}

/// Whether the data ends inside a quoted field (RFC 4180: a quote opens a quoted field only
/// at a field's start; `""` inside one is a quote).
fn ends_in_open_quote(data: &[u8]) -> bool {
    #[derive(PartialEq)]
    enum S {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let first = if data.starts_with(BOM) { 3 } else { 0 };
    let mut s = S::FieldStart;
    for &b in &data[first..] {
        s = match (s, b) {
            (S::FieldStart, b'"') => S::Quoted,
            (S::FieldStart | S::Unquoted | S::QuoteInQuoted, b',' | b'\r' | b'\n') => S::FieldStart,
            (S::FieldStart | S::Unquoted, _) => S::Unquoted,
            (S::Quoted, b'"') => S::QuoteInQuoted,
            (S::Quoted, _) => S::Quoted,
            (S::QuoteInQuoted, b'"') => S::Quoted,
            (S::QuoteInQuoted, _) => S::Unquoted,
        };
    }
    s == S::Quoted
}

/// Feeds `data` to `chunker` in the input's slices, calling `each` after every feed and
/// after `finish`; returns what `finish` returned.
fn feed_all(
    input: &Input,
    chunker: &mut Chunker,
    mut each: impl FnMut(&mut Chunker),
) -> Result<(), adls_writeback_guest::model::DataError> {
    let mut rest = &input.data[..];
    let mut slices = input.slices.iter().cycle();
    while !rest.is_empty() {
        let n = match slices.next() {
            Some(&0) => {
                chunker.feed(&[]);
                1
            }
            Some(&n) => usize::from(n).min(rest.len()),
            None => rest.len(),
        };
        chunker.feed(&rest[..n]);
        rest = &rest[n..];
        each(chunker);
    }
    let finished = chunker.finish();
    each(chunker);
    finished
}

fuzz_target!(|input: Input| {
    let data = &input.data[..];
    let block_size = usize::from(input.block_size % 512) + 1;
    let chunker = || {
        Chunker::new(block_size, input.skip_header)
            .reject_long_records(input.reject_long)
            .strict(input.strict)
    };
    let mut keeping = chunker();
    let mut blocks = Vec::new();
    let finished = feed_all(&input, &mut keeping, |c| {
        blocks.extend(std::iter::from_fn(|| c.next_block()))
    });
    let mut counting = chunker().counting(true);
    let mut cuts = Vec::new();
    let counted = feed_all(&input, &mut counting, |c| {
        cuts.extend(std::iter::from_fn(|| c.next_cut()))
    });
    assert_eq!(counted, finished, "the counting chunker's outcome differs");
    assert_eq!(counting.header(), keeping.header());
    let mut start = if input.skip_header {
        keeping.data_start().0
    } else {
        0
    };
    assert_eq!(cuts.len(), blocks.len(), "the counting chunker cut differently");
    for (cut, block) in cuts.iter().zip(&blocks) {
        assert_eq!(
            (cut.start, cut.len, cut.rows),
            (start, block.data.len() as u64, block.rows),
            "the counting chunker cut differently"
        );
        start += cut.len;
    }
    let joined: Vec<u8> = blocks.iter().flat_map(|b| b.data.iter().copied()).collect();
    let records = records(data);
    let open_quote = ends_in_open_quote(data);
    let nul = data.contains(&0);
    let utf8 = std::str::from_utf8(data).is_ok();
    let ragged = records.iter().any(|r| r.fields != records[0].fields);
    let too_long = |r: &Record| r.done - r.start > block_size;
    let long = records.iter().any(too_long);

    match &finished {
        Err(e) => {
            assert!(
                data.is_empty()
                    || records.is_empty()
                    || open_quote
                    || nul
                    || !utf8
                    || (input.reject_long && (long || open_quote))
                    || (input.strict && ragged),
                "an error for good input: {e:?}"
            );
            assert!(e.line >= 1 && e.byte_offset <= data.len() as u64, "{e:?}");
            // Blocks handed out before the error are still the input's start.
            assert!(
                input.skip_header || data.starts_with(&joined),
                "blocks before the error are not a prefix of the input"
            );
            return;
        }
        Ok(()) => {
            assert!(
                !data.is_empty() && !records.is_empty(),
                "no error for no data"
            );
            assert!(!open_quote, "no error for an open quote");
            assert!(!nul, "no error for a NUL byte");
            assert!(utf8, "no error for bytes that are not UTF-8");
            assert!(!(input.strict && ragged), "no error for a ragged record");
            assert!(
                !(input.reject_long && long),
                "no error for a record longer than {block_size} bytes"
            );
        }
    }

    // The bytes, whole.
    let from = if input.skip_header { records[0].end } else { 0 };
    assert!(joined == data[from..], "the blocks are not the input");

    // The cuts, at record ends.
    let ends: Vec<usize> = records.iter().map(|r| r.end).collect();
    let mut at = from;
    for (i, block) in blocks.iter().enumerate() {
        let start = at;
        at += block.data.len();
        assert!(!block.data.is_empty(), "empty block {i}");
        let last = i + 1 == blocks.len();
        assert!(
            last || ends.contains(&at),
            "block {i} ends at byte {at}, inside a record (record ends: {ends:?})"
        );
        let inside = records
            .iter()
            .filter(|r| r.end > start && r.end <= at)
            .count();
        let rows = records
            .iter()
            .enumerate()
            .filter(|(k, r)| *k > 0 && r.end > start && r.end <= at)
            .count();
        assert_eq!(block.rows, rows as u64, "rows of block {i}");
        if !last && block.data.len() > block_size {
            assert_eq!(inside, 1, "block {i} is {} bytes", block.data.len());
        }
    }
    let rows: u64 = blocks.iter().map(|b| b.rows).sum();
    assert_eq!(rows, records.len() as u64 - 1);
    assert_eq!(keeping.rows(), rows);
});
