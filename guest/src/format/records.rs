//! The records of a block the chunker cut: each record's bytes as the source has them
//! (blank lines before it and its terminator included) and its fields, unquoted.
//!
//! A block starts and ends at record boundaries, so each block is read with a fresh
//! parser; `last` says the block ends the input, where a record may lack its terminator.

use csv_core::{ReadRecordResult, Reader};

/// Field ends per parser call; a wider record takes more calls.
const ENDS: usize = 256;
/// Room for a record's fields asked of the buffer at once. Sizing it by the rest of the
/// block zeroed megabytes per record (quadratic); a record longer than this just takes
/// another turn (`OutputFull`).
const FIELD_ROOM: usize = 64 * 1024;

/// One record of a block.
pub struct Record<'a> {
    /// The source's bytes of it.
    pub raw: &'a [u8],
    /// Its fields, unquoted, one after another (csv-core's field ends are relative to
    /// the record's start, across calls).
    pub fields: &'a [u8],
    /// Where each field ends in `fields`.
    pub ends: &'a [usize],
}

/// Reads the records of blocks, reusing its buffers.
#[derive(Default)]
pub struct Records {
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl Records {
    /// Calls `each` with every record of `block`, in order. `last` says `block` ends the
    /// input (its final record may then lack a terminator). Stops at the first error
    /// `each` returns.
    pub fn each<E>(
        &mut self,
        block: &[u8],
        last: bool,
        mut each: impl FnMut(Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut reader = Reader::new();
        let mut at = 0;
        let mut ends = [0usize; ENDS];
        while at < block.len() {
            let start = at;
            // `out` keeps its length between records (growing it zeroes bytes); `used` is
            // how much of it holds this record's fields.
            let mut used = 0;
            self.ends.clear();
            let complete = loop {
                let input = &block[at..];
                // A record's fields are never longer than its bytes.
                let room = used + input.len().min(FIELD_ROOM) + 1;
                if self.out.len() < room {
                    self.out.resize(room, 0);
                }
                let (result, read, wrote, nends) =
                    reader.read_record(input, &mut self.out[used..], &mut ends);
                used += wrote;
                self.ends.extend_from_slice(&ends[..nends]);
                at += read;
                match result {
                    ReadRecordResult::Record => break true,
                    ReadRecordResult::End => break false,
                    ReadRecordResult::InputEmpty if at < block.len() => {}
                    ReadRecordResult::InputEmpty if last && self.pending(start, at, block) => {
                        // The input's last record, without a terminator: the EOF ends it.
                        let (result, _, _, nends) = reader.read_record(&[], &mut [], &mut ends);
                        self.ends.extend_from_slice(&ends[..nends]);
                        break result == ReadRecordResult::Record;
                    }
                    ReadRecordResult::InputEmpty => break false,
                    ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {}
                }
            };
            if !complete {
                break;
            }
            // The LF of a CRLF belongs to the record its CR ended.
            if block[at - 1] == b'\r' && block.get(at) == Some(&b'\n') {
                let (_, read, _, _) = reader.read_record(&block[at..at + 1], &mut [], &mut ends);
                at += read.max(1);
            }
            each(Record {
                raw: &block[start..at],
                fields: &self.out[..used],
                ends: &self.ends,
            })?;
        }
        Ok(())
    }

    /// Whether bytes other than blank-line terminators remain of the record begun at
    /// `start`.
    fn pending(&self, start: usize, end: usize, block: &[u8]) -> bool {
        block[start..end].iter().any(|&b| b != b'\r' && b != b'\n')
    }
}

/// The fields of `record`, as slices.
pub fn fields<'a>(record: &Record<'a>) -> impl Iterator<Item = &'a [u8]> + 'a {
    let (fields, ends) = (record.fields, record.ends);
    ends.iter().enumerate().map(move |(i, &end)| {
        let start = if i == 0 { 0 } else { ends[i - 1] };
        &fields[start..end]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(block: &[u8], last: bool) -> Vec<(String, Vec<String>)> {
        let mut found = Vec::new();
        Records::default()
            .each::<()>(block, last, |r| {
                let f = fields(&r)
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect();
                found.push((String::from_utf8_lossy(r.raw).into_owned(), f));
                Ok(())
            })
            .unwrap();
        found
    }

    #[test]
    fn records_keep_their_bytes_and_give_their_fields() {
        let block = b"1,\"a, b\",x\r\n2,\"say \"\"hi\"\"\",\"two\nlines\"\r\n\r\n3,,\n4,last";
        let found = read(block, true);
        assert_eq!(
            found,
            [
                (
                    "1,\"a, b\",x\r\n".into(),
                    vec!["1".into(), "a, b".into(), "x".into()]
                ),
                (
                    "2,\"say \"\"hi\"\"\",\"two\nlines\"\r\n".into(),
                    vec!["2".into(), "say \"hi\"".into(), "two\nlines".into()]
                ),
                ("\r\n3,,\n".into(), vec!["3".into(), "".into(), "".into()]),
                ("4,last".into(), vec!["4".into(), "last".into()]),
            ]
        );
        let concatenated: String = found.iter().map(|(raw, _)| raw.as_str()).collect();
        assert_eq!(concatenated.as_bytes(), block);
    }

    #[test]
    fn wide_and_long_records() {
        let wide: Vec<String> = (0..1000).map(|i| format!("f{i}")).collect();
        let long = "x".repeat(300_000);
        let block = format!("{}\n{long},\"{long}\"\n", wide.join(","));
        let found = read(block.as_bytes(), false);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].1, wide);
        assert_eq!(found[1].1, [long.clone(), long]);
    }
}
