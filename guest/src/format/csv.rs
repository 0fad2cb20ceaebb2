//! CSV records written anew in a dialect (delimiter, quoting, the source's terminator),
//! with `csv-core`'s writer.

use csv_core::{QuoteStyle, Terminator, WriteResult, Writer, WriterBuilder};

use crate::model::CsvDialect;

/// Writes records in one dialect.
pub struct Encoder {
    writer: Writer,
}

impl Encoder {
    /// An encoder for `dialect`, ending records with CRLF when `crlf`, else LF.
    pub fn new(dialect: &CsvDialect, crlf: bool) -> Encoder {
        let writer = WriterBuilder::new()
            .delimiter(dialect.delimiter)
            .quote_style(match dialect.quote_all {
                true => QuoteStyle::Always,
                false => QuoteStyle::Necessary,
            })
            .terminator(match crlf {
                true => Terminator::CRLF,
                false => Terminator::Any(b'\n'),
            })
            .build();
        Encoder { writer }
    }

    /// Appends the record made of `fields`, with its terminator, to `out`.
    pub fn record<'a>(&mut self, fields: impl Iterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
        for (i, field) in fields.enumerate() {
            if i > 0 {
                self.step(out, |w, o| w.delimiter(o));
            }
            let mut input = field;
            loop {
                // Quoting at most doubles a field, plus its quotes.
                let at = out.len();
                out.resize(at + input.len() * 2 + 4, 0);
                let (result, read, wrote) = self.writer.field(input, &mut out[at..]);
                out.truncate(at + wrote);
                input = &input[read..];
                if result == WriteResult::InputEmpty && input.is_empty() {
                    break;
                }
            }
        }
        self.step(out, |w, o| w.terminator(o));
    }

    /// Runs one of the writer's steps that need a few bytes of room, until it is done.
    fn step(
        &mut self,
        out: &mut Vec<u8>,
        f: impl Fn(&mut Writer, &mut [u8]) -> (WriteResult, usize),
    ) {
        loop {
            let at = out.len();
            out.resize(at + 8, 0);
            let (result, wrote) = f(&mut self.writer, &mut out[at..]);
            out.truncate(at + wrote);
            if result == WriteResult::InputEmpty {
                return;
            }
        }
    }
}
