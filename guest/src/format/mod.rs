//! Writing the output's files from the source's records, sans I/O: the CSV dialect
//! ([`csv`]), gzip ([`flate2`], block by block as the data streams), Parquet
//! ([`parquet`]), and the bytes of one file at a time, for the upload to cut into appends.
//!
//! The plain CSV export without options never comes here: its bytes go to the service as
//! the source has them (`upload`). Here too, a record is copied as the source has it unless
//! the dialect changes its fields' encoding (`delimiter`, `quote_all`).

pub mod csv;
pub mod manifest;
pub mod parquet;
pub mod records;

use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write as _;

use crate::model::{CsvDialect, OutputFormat};
use records::Record;

/// The UTF-8 byte-order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What the source's start says about the files to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceHead {
    /// The header record, without BOM and terminator.
    pub header: Vec<u8>,
    /// Whether the header ends with CRLF (the files' records then do too).
    pub crlf: bool,
    /// Whether the source starts with a byte-order mark.
    pub bom: bool,
}

/// The bytes of one output file after another: a file is started, records pushed, and
/// its bytes taken as they become ready.
pub struct FileEncoder {
    format: OutputFormat,
    dialect: CsvDialect,
    head: SourceHead,
    csv: csv::Encoder,
    /// The file's bytes not yet taken (the compressor's output, for `csv.gz`).
    gzip: Option<GzEncoder<Vec<u8>>>,
    plain: Vec<u8>,
    /// Bytes of the current file already taken.
    taken: u64,
    /// One record's CSV, before it goes in.
    scratch: Vec<u8>,
    /// Records gathered for the compressor: each call into it has a fixed cost, so it gets
    /// [`GZIP_STAGE`] bytes at a time rather than a record at a time.
    staged: Vec<u8>,
}

/// Bytes handed to the compressor at once (records are about 100 bytes; feeding them one
/// by one made gzip output 40× slower).
const GZIP_STAGE: usize = 64 * 1024;

impl FileEncoder {
    /// An encoder of files in `format` and `dialect` for a source starting with `head`.
    pub fn new(format: OutputFormat, dialect: CsvDialect, head: SourceHead) -> FileEncoder {
        FileEncoder {
            csv: csv::Encoder::new(&dialect, head.crlf),
            format,
            dialect,
            head,
            gzip: None,
            plain: Vec::new(),
            taken: 0,
            scratch: Vec::new(),
            staged: Vec::new(),
        }
    }

    /// Starts a new file: its byte-order mark and header, as the dialect says.
    pub fn start(&mut self) {
        self.taken = 0;
        self.plain.clear();
        self.staged.clear();
        self.gzip = (self.format == OutputFormat::CsvGz)
            .then(|| GzEncoder::new(Vec::new(), Compression::default()));
        let mut start = Vec::new();
        if self.dialect.bom.unwrap_or(self.head.bom) {
            start.extend_from_slice(BOM);
        }
        if self.dialect.header {
            if self.dialect.reencodes() {
                let fields = crate::chunk::fields(&self.head.header);
                self.csv
                    .record(fields.iter().map(Vec::as_slice), &mut start);
            } else {
                start.extend_from_slice(&self.head.header);
                start.extend_from_slice(if self.head.crlf { b"\r\n" } else { b"\n" });
            }
        }
        self.write(&start);
    }

    /// The CSV bytes `record` becomes in this dialect (before compression).
    pub fn encode(&mut self, record: &Record<'_>) -> &[u8] {
        self.scratch.clear();
        if self.dialect.reencodes() {
            self.csv.record(records::fields(record), &mut self.scratch);
        } else {
            self.scratch.extend_from_slice(record.raw);
        }
        &self.scratch
    }

    /// Adds the bytes [`encode`](Self::encode) made last to the file.
    pub fn push_encoded(&mut self) {
        let bytes = std::mem::take(&mut self.scratch);
        self.write(&bytes);
        self.scratch = bytes;
    }

    fn write(&mut self, bytes: &[u8]) {
        match &mut self.gzip {
            Some(gz) => {
                self.staged.extend_from_slice(bytes);
                if self.staged.len() >= GZIP_STAGE {
                    // Writing into a Vec cannot fail.
                    gz.write_all(&self.staged).expect("writing to memory");
                    self.staged.clear();
                }
            }
            None => self.plain.extend_from_slice(bytes),
        }
    }

    fn buffer(&mut self) -> &mut Vec<u8> {
        match &mut self.gzip {
            Some(gz) => gz.get_mut(),
            None => &mut self.plain,
        }
    }

    /// The current file's bytes so far (compressed, for `csv.gz`; the compressor may hold
    /// a few more KiB it has not written out yet, and up to [`GZIP_STAGE`] bytes of records
    /// wait to go in).
    pub fn file_bytes(&mut self) -> u64 {
        self.taken + self.buffer().len() as u64
    }

    /// The next `size` bytes of the file, once that many are ready.
    pub fn take(&mut self, size: usize) -> Option<Vec<u8>> {
        let buffer = self.buffer();
        if buffer.len() < size {
            return None;
        }
        let rest = buffer.split_off(size);
        let block = std::mem::replace(buffer, rest);
        self.taken += block.len() as u64;
        Some(block)
    }

    /// Ends the file: the rest of its bytes (the gzip trailer included).
    pub fn finish(&mut self) -> Vec<u8> {
        let rest = match self.gzip.take() {
            // Writing and finishing into a Vec cannot fail.
            Some(mut gz) => {
                gz.write_all(&self.staged).expect("writing to memory");
                self.staged.clear();
                gz.finish().expect("writing to memory")
            }
            None => std::mem::take(&mut self.plain),
        };
        self.taken += rest.len() as u64;
        rest
    }
}

/// The encoder of an output's files, whichever their format.
pub enum Encoder {
    /// CSV and `csv.gz`.
    Csv(Box<FileEncoder>),
    /// Parquet.
    Parquet(Box<parquet::ParquetEncoder>),
}

impl Encoder {
    /// Starts a new file.
    pub fn start(&mut self) -> Result<(), parquet::RecordError> {
        match self {
            Encoder::Csv(e) => {
                e.start();
                Ok(())
            }
            Encoder::Parquet(e) => e.start().map_err(parquet::RecordError),
        }
    }

    /// The bytes `record` adds to a plain CSV file, which a part-size check counts before
    /// it goes in; 0 for the compressed formats, whose size is known only after.
    pub fn pending(&mut self, record: &Record<'_>) -> u64 {
        match self {
            Encoder::Csv(e) => {
                let size = e.encode(record).len() as u64;
                match e.format {
                    OutputFormat::Csv => size,
                    _ => 0,
                }
            }
            Encoder::Parquet(_) => 0,
        }
    }

    /// Adds `record` (after [`pending`](Self::pending)) to the file.
    pub fn push(&mut self, record: &Record<'_>) -> Result<(), parquet::RecordError> {
        match self {
            Encoder::Csv(e) => {
                e.push_encoded();
                Ok(())
            }
            Encoder::Parquet(e) => e.push(records::fields(record), record.raw.len()),
        }
    }

    /// The current file's bytes so far (see each encoder's).
    pub fn file_bytes(&mut self) -> u64 {
        match self {
            Encoder::Csv(e) => e.file_bytes(),
            Encoder::Parquet(e) => e.file_bytes(),
        }
    }

    /// The next `size` bytes of the file, once that many are ready.
    pub fn take(&mut self, size: usize) -> Option<Vec<u8>> {
        match self {
            Encoder::Csv(e) => e.take(size),
            Encoder::Parquet(e) => e.take(size),
        }
    }

    /// Ends the file: the rest of its bytes.
    pub fn finish(&mut self) -> Result<Vec<u8>, parquet::RecordError> {
        match self {
            Encoder::Csv(e) => Ok(e.finish()),
            Encoder::Parquet(e) => e.finish(),
        }
    }
}

#[cfg(test)]
mod tests;
