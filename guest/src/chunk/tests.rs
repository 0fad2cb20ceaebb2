//! Chunker tests: generated CSVs across feed-slice and block sizes, errors, headers.

use super::*;

/// A tiny deterministic PRNG (xorshift64*), so the tests need no dependency.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A generated CSV and where each of its records ends (just after its terminator).
pub(super) struct Csv {
    pub(super) bytes: Vec<u8>,
    record_ends: Vec<usize>,
}

pub(super) fn generate(rng: &mut Rng) -> Csv {
    let mut bytes = Vec::new();
    let mut record_ends = Vec::new();
    if rng.below(3) == 0 {
        bytes.extend_from_slice(BOM);
    }
    let records = 1 + rng.below(30);
    for r in 0..records {
        if r > 0 && rng.below(8) == 0 {
            bytes.extend_from_slice(rng.pick(&["\n", "\r\n", "\n\n"]).as_bytes());
        }
        let fields = 1 + rng.below(5);
        let start = bytes.len();
        for f in 0..fields {
            if f > 0 {
                bytes.push(b',');
            }
            if rng.below(3) == 0 {
                bytes.push(b'"');
                for _ in 0..rng.below(8) {
                    let piece =
                        rng.pick(&["a", "Zz", ",", "\"\"", "\n", "\r\n", "\r", " ", "é", "€"]);
                    bytes.extend_from_slice(piece.as_bytes());
                }
                bytes.push(b'"');
            } else {
                for _ in 0..rng.below(12) {
                    bytes.push(b"abcxyz0189 ._-"[rng.below(14) as usize]);
                }
            }
        }
        if bytes.len() == start {
            bytes.push(b'v'); // an empty line would be a blank line, not a record
        }
        let last = r + 1 == records;
        if !last || rng.below(2) == 0 {
            bytes.extend_from_slice(rng.pick(&["\n", "\r\n"]).as_bytes());
        }
        record_ends.push(bytes.len());
    }
    if rng.below(6) == 0 && bytes.last() == Some(&b'\n') {
        bytes.extend_from_slice(b"\n\r\n"); // trailing blank lines
    }
    Csv { bytes, record_ends }
}

/// Feeds `input` in slices of `slice` bytes; returns the blocks.
fn chunk(
    input: &[u8],
    slice: usize,
    block_size: usize,
    skip_header: bool,
) -> (Chunker, Vec<Block>) {
    let mut chunker = Chunker::new(block_size, skip_header);
    let mut blocks = Vec::new();
    for piece in input.chunks(slice) {
        chunker.feed(piece);
        blocks.extend(std::iter::from_fn(|| chunker.next_block()));
    }
    chunker.finish().expect("valid CSV");
    blocks.extend(std::iter::from_fn(|| chunker.next_block()));
    (chunker, blocks)
}

fn header_of(csv: &Csv) -> Vec<u8> {
    let start = if csv.bytes.starts_with(BOM) { 3 } else { 0 };
    let mut end = csv.record_ends[0];
    while end > start && matches!(csv.bytes[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    csv.bytes[start..end].to_vec()
}

#[test]
fn generated_csvs_round_trip_and_cut_at_record_ends() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for case in 0..120 {
        let csv = generate(&mut rng);
        let len = csv.bytes.len();
        let rows = csv.record_ends.len() as u64 - 1;
        for slice in 1..=17 {
            for block_size in [1, 2, 5, 16, 64, 1000] {
                let what = format!(
                    "case {case} slice {slice} block {block_size}: {:?}",
                    String::from_utf8_lossy(&csv.bytes)
                );
                let (chunker, blocks) = chunk(&csv.bytes, slice, block_size, false);
                assert_eq!(blocks.concat_data(), csv.bytes, "{what}");
                assert_eq!(chunker.records(), rows + 1, "{what}");
                assert_eq!(chunker.rows(), rows, "{what}");
                assert_eq!(blocks.iter().map(|b| b.rows).sum::<u64>(), rows, "{what}");
                assert_eq!(chunker.header(), Some(&header_of(&csv)[..]), "{what}");
                let mut start = 0;
                for (i, block) in blocks.iter().enumerate() {
                    let end = start + block.data.len();
                    assert!(!block.data.is_empty(), "{what}");
                    let inside = csv
                        .record_ends
                        .iter()
                        .filter(|&&e| e > start && e < end)
                        .count();
                    let ending = csv
                        .record_ends
                        .iter()
                        .filter(|&&e| e > start && e <= end)
                        .count() as u64;
                    let header = u64::from(start == 0);
                    assert_eq!(
                        block.rows,
                        ending - header.min(ending),
                        "rows of block {i}: {what}"
                    );
                    if i + 1 < blocks.len() {
                        assert!(
                            csv.record_ends.contains(&end),
                            "block {i} ends at {end}: {what}"
                        );
                        if end - start > block_size {
                            assert_eq!(inside, 0, "a long block holds one record: {what}");
                        } else {
                            let next = csv
                                .record_ends
                                .iter()
                                .find(|&&e| e > end)
                                .copied()
                                .unwrap_or(len);
                            assert!(next - start > block_size, "block {i} cut too early: {what}");
                        }
                    } else {
                        assert_eq!(end, len, "{what}");
                    }
                    start = end;
                }
            }
        }
    }
}

trait Concat {
    fn concat_data(&self) -> Vec<u8>;
}

impl Concat for Vec<Block> {
    fn concat_data(&self) -> Vec<u8> {
        self.iter().flat_map(|b| b.data.iter().copied()).collect()
    }
}

#[test]
fn skipping_the_header_leaves_out_bom_and_first_record() {
    let mut rng = Rng(42);
    for _ in 0..60 {
        let csv = generate(&mut rng);
        for slice in [1, 2, 3, 7, 17, 4096] {
            let (chunker, blocks) = chunk(&csv.bytes, slice, 16, true);
            assert_eq!(blocks.concat_data(), &csv.bytes[csv.record_ends[0]..]);
            assert_eq!(blocks.iter().map(|b| b.rows).sum::<u64>(), chunker.rows());
            assert_eq!(chunker.header(), Some(&header_of(&csv)[..]));
        }
    }
}

#[test]
fn counts_records_not_blank_lines() {
    let cases: &[(&str, u64)] = &[
        ("a,b\n1,2\n3,4\n", 2),
        ("a,b\r\n1,2\r\n3,4", 2),
        ("a\n\n\n1\n\r\n2\n\n", 2),
        ("a\n\"1\n2\"\n\"3\r\n\"\n", 2),
        ("a\n\"x,\"\"y\"\"\",z\n", 1),
        ("a\n", 0),
        ("a", 0),
        ("a\r1\r2\r", 2),
    ];
    for (input, rows) in cases {
        for slice in 1..=4 {
            let (chunker, blocks) = chunk(input.as_bytes(), slice, 3, false);
            assert_eq!(chunker.rows(), *rows, "{input:?}");
            assert_eq!(blocks.concat_data(), input.as_bytes());
        }
    }
}

#[test]
fn a_record_longer_than_a_block_makes_its_own_block() {
    let long = format!("\"{}\n{}\"", "x".repeat(40), "y".repeat(40));
    let input = format!("h\n1\n{long}\n2\n3\n");
    let (_, blocks) = chunk(input.as_bytes(), 5, 10, false);
    let parts: Vec<String> = blocks
        .iter()
        .map(|b| String::from_utf8(b.data.clone()).unwrap())
        .collect();
    assert_eq!(parts, ["h\n1\n", format!("{long}\n").as_str(), "2\n3\n"]);
    assert_eq!(blocks.iter().map(|b| b.rows).collect::<Vec<_>>(), [1, 1, 2]);
}

#[test]
fn crlf_is_never_split() {
    // The record ends after the LF: with a 4-byte block, "ab\r\n" fits exactly.
    for slice in 1..=6 {
        let (_, blocks) = chunk(b"ab\r\ncd\r\nef\r\n", slice, 4, false);
        let parts: Vec<&[u8]> = blocks.iter().map(|b| &b.data[..]).collect();
        assert_eq!(
            parts,
            [&b"ab\r\n"[..], b"cd\r\n", b"ef\r\n"],
            "slice {slice}"
        );
    }
}

fn error_of(input: &[u8], slice: usize) -> DataError {
    let mut chunker = Chunker::new(8, false);
    for piece in input.chunks(slice.max(1)) {
        chunker.feed(piece);
        while chunker.next_block().is_some() {}
    }
    chunker.finish().expect_err("malformed")
}

#[test]
fn unterminated_quote_names_line_and_offset_of_its_record() {
    let cases: &[(&[u8], u64, u64)] = &[
        (b"a,b\n1,2\n3,\"x\ny\n", 3, 8),
        (b"a\n\n\n\"x", 4, 4),
        (b"\xEF\xBB\xBF\"abc", 1, 3),
        (b"a\r\n\"x\r\n", 2, 3),
        (b"a\n1,\"x\"\"\n", 2, 2),
        (b"\"", 1, 0),
        (b"a\r\r\n\"", 2, 4), // lines are counted by LF
    ];
    for (input, line, offset) in cases {
        for slice in 1..=5 {
            let e = error_of(input, slice);
            assert_eq!(
                (e.line, e.byte_offset),
                (*line, *offset),
                "{input:?} slice {slice}"
            );
            assert!(e.message.contains("quoted field"), "{}", e.message);
            assert!(e.message.contains(&format!("line {line}")), "{}", e.message);
        }
    }
}

#[test]
fn a_closed_quote_at_the_end_is_fine() {
    for input in ["a\n\"x\"", "a\n\"x\"\"\"", "a\n\"x\"\r", "a\n\"x\nz\",\"\""] {
        let (chunker, _) = chunk(input.as_bytes(), 1, 4, false);
        assert_eq!(chunker.rows(), 1, "{input:?}");
    }
}

#[test]
fn empty_input_is_an_error() {
    let mut chunker = Chunker::new(8, false);
    chunker.feed(b"");
    let e = chunker.finish().unwrap_err();
    assert_eq!((e.line, e.byte_offset), (1, 0));
    assert_eq!(e.message, "the dataset is empty: no header line");
    for input in [&b"\n\n"[..], b"\xEF\xBB\xBF", b"\xEF\xBB\xBF\r\n"] {
        let e = error_of(input, 1);
        assert!(
            e.message.contains("no header line"),
            "{input:?}: {}",
            e.message
        );
    }
}

#[test]
fn a_partial_bom_is_not_utf8() {
    for input in [&b"\xEF\xBBx\n1\n"[..], b"\xEFa\n", b"\xEF\xBB"] {
        for slice in 1..=3 {
            let e = error_of(input, slice);
            assert_eq!((e.line, e.byte_offset), (1, 0), "{input:?}");
            assert!(e.message.contains("not UTF-8"), "{}", e.message);
        }
    }
}

/// Chunks `input` with every check on: long records rejected, strict field counts.
fn checked_error(input: &[u8], slice: usize, block_size: usize) -> Option<DataError> {
    let mut chunker = Chunker::new(block_size, false)
        .reject_long_records(true)
        .strict(true);
    for piece in input.chunks(slice.max(1)) {
        chunker.feed(piece);
        while chunker.next_block().is_some() {}
        if chunker.check().is_err() {
            break;
        }
    }
    chunker.finish().err()
}

#[test]
fn bad_text_names_its_record_and_its_own_position() {
    // (input, record line, record offset, problem line, problem offset, what)
    type Case<'a> = (&'a [u8], u64, u64, u64, u64, &'a str);
    let cases: &[Case] = &[
        (b"a,b\n1,2\n3,\0\n", 3, 8, 3, 10, "NUL"),
        (b"a,b\n1,\"x\ny\0\"\n", 2, 4, 3, 10, "NUL"),
        (b"\0", 1, 0, 1, 0, "NUL"),
        (b"a,b\n1,\xFF\n", 2, 4, 2, 6, "not UTF-8"),
        (b"a,b\n1,\xC3\n", 2, 4, 2, 6, "not UTF-8"),
        (b"a,b\n1,\xE2\x82", 2, 4, 2, 6, "not UTF-8"),
        (b"a,b\n1,\xE2\x82\0", 2, 4, 2, 6, "not UTF-8"),
        (b"\xEF\xBB\xBFa\n\xC0\x80\n", 2, 5, 2, 5, "not UTF-8"),
        (b"a\r1\r\0", 1, 4, 1, 4, "NUL"),
    ];
    for (input, line, offset, at_line, at, what) in cases {
        for slice in 1..=5 {
            let e = checked_error(input, slice, 1 << 16).expect("an error");
            assert_eq!(
                (e.line, e.byte_offset),
                (*line, *offset),
                "{input:?} slice {slice}"
            );
            let place = format!("at line {at_line} (byte {at})");
            assert!(
                e.message.contains(&place),
                "{input:?}: {} lacks {place}",
                e.message
            );
            assert!(e.message.contains(what), "{}", e.message);
        }
    }
    // Valid multi-byte text split anywhere is fine, and so is a BOM.
    let good = "\u{FEFF}h,é\n€,𝄞\n\"ü\nß\",x\n".as_bytes();
    for slice in 1..=5 {
        assert_eq!(checked_error(good, slice, 1 << 16), None, "slice {slice}");
    }
}

#[test]
fn a_record_longer_than_a_block_is_an_error_when_asked() {
    let long = format!("\"{}\n{}\"", "x".repeat(40), "y".repeat(40));
    let input = format!("h\n1\n{long}\n2\n");
    for slice in [1, 3, 7, 1000] {
        let e = checked_error(input.as_bytes(), slice, 20).expect("an error");
        assert_eq!((e.line, e.byte_offset), (3, 4), "slice {slice}");
        assert_eq!(
            e.message,
            "record at line 3 is 84 bytes, longer than output.block_size (20): raise block_size"
        );
    }
    // To the end of the data, and the header too.
    let e = checked_error(format!("h\n{}", "z".repeat(50)).as_bytes(), 4, 20).unwrap();
    assert!(
        e.message.contains("is 50 bytes (to the end of the data)"),
        "{}",
        e.message
    );
    let e = checked_error(format!("{}\n1\n", "h".repeat(30)).as_bytes(), 64, 20).unwrap();
    assert_eq!((e.line, e.byte_offset), (1, 0));
    assert!(
        e.message.starts_with("record at line 1 is 31 bytes"),
        "{}",
        e.message
    );
    // Records of exactly a block are fine.
    assert_eq!(checked_error(b"h\n123456789\n", 3, 10), None);
}

#[test]
fn strict_mode_compares_field_counts_with_the_header() {
    type Case<'a> = (&'a [u8], Option<(u64, u64, &'a str)>);
    let cases: &[Case] = &[
        (b"a,b\n1,2\n3,4", None),
        (b"a,b\n1,2\n\n3,\"x,y\"\n", None),
        (
            b"a,b\n1,2\n3\n",
            Some((3, 8, "has 1 fields, but the header has 2")),
        ),
        (
            b"a,b\r\n1,2,3\r\n",
            Some((2, 5, "has 3 fields, but the header has 2")),
        ),
        (b"a,b\n1,2\n3,4,5", Some((3, 8, "has 3 fields"))),
    ];
    for (input, want) in cases {
        for slice in 1..=4 {
            let got = checked_error(input, slice, 1 << 16);
            match (want, got) {
                (None, None) => {}
                (Some((line, offset, text)), Some(e)) => {
                    assert_eq!((e.line, e.byte_offset), (*line, *offset), "{input:?}");
                    assert!(e.message.contains(text), "{}", e.message);
                }
                (want, got) => panic!("{input:?} slice {slice}: want {want:?}, got {got:?}"),
            }
        }
    }
    // Not strict: ragged rows pass.
    let (chunker, _) = chunk(b"a,b\n1\n1,2,3\n", 2, 100, false);
    assert_eq!(chunker.rows(), 2);
}

#[test]
fn header_and_its_terminator() {
    type Case<'a> = (&'a [u8], bool, Option<(&'a [u8], bool)>);
    let cases: &[Case] = &[
        (b"a,b\r\n1,2\r\n", false, Some((b"a,b", true))),
        (b"\xEF\xBB\xBFa,b\n1", false, Some((b"a,b", false))),
        (b"\"a\nb\",c\n", false, Some((b"\"a\nb\",c", false))),
        (b"a,b", false, None),
        (b"a,b", true, Some((b"a,b", false))),
        (b"\"a,b", true, None),
        (b"", true, None),
    ];
    for (data, whole, want) in cases {
        let got = first_record(data, *whole);
        let want = want.map(|(h, crlf)| (h.to_vec(), crlf));
        assert_eq!(got, want, "{data:?}");
    }
}

#[test]
fn fields_ignore_quoting() {
    assert_eq!(
        fields(b"a,\"b\",\"c,d\",\"e\"\"\""),
        [&b"a"[..], b"b", b"c,d", b"e\""]
    );
    assert_eq!(fields(b"a,b"), fields(b"\"a\",\"b\""));
    assert_eq!(fields(b""), Vec::<Vec<u8>>::new());
}

/// Found by the fuzzer: a NUL after CRs that end records used to index a reversed range.
#[test]
fn nul_after_bare_carriage_returns_is_an_error_not_a_panic() {
    let input = b"$\r$\r\x05\r\0\0\n\x03\xe9\r\r";
    let mut chunker = Chunker::new(1 << 16, false);
    chunker.feed(input);
    while chunker.next_block().is_some() {}
    let error = chunker.finish().unwrap_err();
    assert!(error.message.contains("NUL"), "{}", error.message);
}

/// Record ends as `csv-core` itself finds them in the whole input (a CRLF's LF belonging to
/// the record its CR ended), or `None` when the input ends inside a quoted field.
fn csv_core_record_ends(input: &[u8]) -> Option<(Vec<usize>, Vec<usize>)> {
    let mut reader = csv_core::Reader::new();
    let (mut out, mut ends) = ([0u8; 1024], [0usize; 64]);
    let mut at = 0;
    let mut found = Vec::new();
    let (mut fields, mut counts) = (0, Vec::new());
    loop {
        let (res, n, _, nend) = reader.read_record(&input[at..], &mut out, &mut ends);
        at += n;
        fields += nend;
        if res == csv_core::ReadRecordResult::Record {
            counts.push(std::mem::take(&mut fields));
        }
        match res {
            // At the end of the input, an empty slice is csv-core's EOF.
            csv_core::ReadRecordResult::Record => {
                let crlf = at > 0 && input[at - 1] == b'\r' && input.get(at) == Some(&b'\n');
                found.push((at + usize::from(crlf)).min(input.len()));
            }
            csv_core::ReadRecordResult::End => break,
            _ => {}
        }
    }
    // An open quote at the end (csv-core closes it at EOF; the chunker calls it an error):
    // nothing to compare. Fed on, `x` and LF complete a record only when no quote is open.
    let mut probe = csv_core::Reader::new();
    let mut rest = input;
    while !rest.is_empty() {
        let (_, n, _, _) = probe.read_record(rest, &mut out, &mut ends);
        rest = &rest[n..];
    }
    let mut tail: &[u8] = b"x\n";
    let mut closes = false;
    while !tail.is_empty() {
        let (res, n, _, _) = probe.read_record(tail, &mut out, &mut ends);
        tail = &tail[n..];
        closes |= res == csv_core::ReadRecordResult::Record;
    }
    closes.then_some((found, counts))
}

#[test]
fn quotes_anywhere_cut_exactly_where_csv_core_ends_records() {
    // Quotes mid-field, after a closing quote, doubled, bare CRs, blank lines: every shape the
    // fast record search must agree with the DFA on.
    let alphabet: &[&[u8]] = &[
        b"a", b"b", b",", b"\"", b"\"\"", b"\r", b"\n", b"\r\n", b" ",
    ];
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut compared = 0;
    for _ in 0..4000 {
        let mut input = b"h1,h2\n".to_vec();
        for _ in 0..rng.below(40) {
            input.extend_from_slice(alphabet[rng.below(alphabet.len() as u64) as usize]);
        }
        let Some((mut want, fields)) = csv_core_record_ends(&input) else {
            continue;
        };
        let ragged = fields.iter().any(|&f| f != fields[0]);
        let records = want.len();
        // Blank lines after the last record make a block of their own (blocks hold 1 byte).
        if want.last().is_some_and(|&last| last < input.len()) {
            want.push(input.len());
        }
        for slice in [1, 2, 3, 7, input.len().max(1)] {
            let mut chunker = Chunker::new(1, false);
            let mut blocks = Vec::new();
            for piece in input.chunks(slice) {
                chunker.feed(piece);
                blocks.extend(std::iter::from_fn(|| chunker.next_block()));
            }
            let what = format!("{:?} in slices of {slice}", String::from_utf8_lossy(&input));
            chunker.finish().unwrap_or_else(|e| panic!("{what}: {e:?}"));
            blocks.extend(std::iter::from_fn(|| chunker.next_block()));
            let got: Vec<usize> = blocks
                .iter()
                .scan(0, |end, b| {
                    *end += b.data.len();
                    Some(*end)
                })
                .collect();
            assert_eq!(got, want, "{what}");
            assert_eq!(chunker.records() as usize, records, "{what}");
            let mut strict = Chunker::new(1, false).strict(true);
            for piece in input.chunks(slice) {
                strict.feed(piece);
                while strict.next_block().is_some() {}
            }
            let failed = strict.check().and_then(|()| strict.finish()).is_err();
            assert_eq!(failed, ragged, "strict, field counts {fields:?}: {what}");
            compared += 1;
        }
    }
    assert!(compared > 5000, "only {compared} comparisons");
}
