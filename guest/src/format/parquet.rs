//! Parquet files from the source's records, sans I/O: typed by the dataset's columns
//! ([`values`]), every column optional (an empty field is null), one row group per
//! `row_group_rows` records, compressed with snappy, zstd or not at all.
//!
//! A row group's values are buffered by column (strings in one buffer per column, sliced
//! when the group is written), so the guest holds at most one row group of parsed values
//! and the encoded pages of the one being written. The file's bytes collect in a shared
//! buffer the upload takes them from, as for CSV.

pub mod values;

use std::io::Write;
use std::mem;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical, ZstdLevel};
use parquet::data_type::{
    ByteArray, ByteArrayType, DoubleType, FixedLenByteArray, FixedLenByteArrayType, Int32Type,
    Int64Type,
};
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{Type, TypePtr};

use crate::model::{ParquetCompression, ParquetOptions};
use values::{DECIMAL_BYTES, DECIMAL_PRECISION, DECIMAL_SCALE, Kind};

/// A column of the files: its name (the header's) and its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The header's name of it.
    pub name: String,
    /// Its type.
    pub kind: Kind,
}

/// The files' columns: the header's names, typed by the source's columns (`source`,
/// matched by position); all strings when the source knows no columns. Also returns a
/// note for each column whose kind this writer does not know (written as strings).
pub fn resolve_columns(
    header: &[String],
    source: &[crate::model::Column],
) -> Result<(Vec<Column>, Vec<String>), String> {
    if source.is_empty() {
        let columns = header
            .iter()
            .map(|name| Column {
                name: name.clone(),
                kind: Kind::String,
            })
            .collect();
        return Ok((columns, Vec::new()));
    }
    if source.len() != header.len() {
        return Err(format!(
            "the header has {} fields and the dataset's schema {} columns: Parquet needs a \
             type for each field",
            header.len(),
            source.len()
        ));
    }
    let mut notes = Vec::new();
    let columns = header
        .iter()
        .zip(source)
        .map(|(name, c)| Column {
            name: name.clone(),
            kind: Kind::of(&c.kind).unwrap_or_else(|| {
                notes.push(format!(
                    "column {} has the type {}, which this writer does not know: written as \
                     a string",
                    quoted(name),
                    quoted(&c.kind)
                ));
                Kind::String
            }),
        })
        .collect();
    Ok((columns, notes))
}

/// Why a record could not be written: the message names the column and the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordError(pub String);

/// The file's bytes as the Parquet writer produces them, for the upload to take.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    fn with<T>(&self, f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.with(|b| b.extend_from_slice(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One column's values of the row group being buffered.
enum Values {
    /// Strings and decimals: the values' bytes one after another, and where each ends.
    Bytes {
        data: Vec<u8>,
        ends: Vec<usize>,
    },
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Double(Vec<f64>),
}

/// A column's buffered values and definition levels (0: null, 1: a value).
struct Buffer {
    kind: Kind,
    values: Values,
    defs: Vec<i16>,
}

impl Buffer {
    fn new(kind: Kind) -> Buffer {
        let values = match kind {
            Kind::String | Kind::Decimal => Values::Bytes {
                data: Vec::new(),
                ends: Vec::new(),
            },
            Kind::Date => Values::Int32(Vec::new()),
            Kind::Long | Kind::DateTime => Values::Int64(Vec::new()),
            Kind::Double => Values::Double(Vec::new()),
        };
        Buffer {
            kind,
            values,
            defs: Vec::new(),
        }
    }

    /// Adds `field`; `false` when it is not a value of the column's type.
    fn push(&mut self, field: &[u8]) -> bool {
        if field.is_empty() {
            self.defs.push(0);
            return true;
        }
        // The chunker has checked the source is UTF-8; a field is whole characters.
        let Ok(text) = std::str::from_utf8(field) else {
            return false;
        };
        let ok = match (&mut self.values, self.kind) {
            (Values::Bytes { data, ends }, Kind::String) => {
                data.extend_from_slice(field);
                ends.push(data.len());
                true
            }
            (Values::Bytes { data, ends }, _) => values::decimal(text).is_some_and(|v| {
                data.extend_from_slice(&v.to_be_bytes());
                ends.push(data.len());
                true
            }),
            (Values::Int32(v), _) => values::date(text).map(|d| v.push(d)).is_some(),
            (Values::Int64(v), Kind::Long) => values::long(text).map(|n| v.push(n)).is_some(),
            (Values::Int64(v), _) => values::datetime(text).map(|t| v.push(t)).is_some(),
            (Values::Double(v), _) => values::double(text).map(|x| v.push(x)).is_some(),
        };
        if ok {
            self.defs.push(1);
        }
        ok
    }
}

/// The Parquet files of one output, one after another.
pub struct ParquetEncoder {
    columns: Vec<Column>,
    schema: TypePtr,
    properties: Arc<WriterProperties>,
    row_group_rows: usize,
    sink: Sink,
    writer: Option<SerializedFileWriter<Sink>>,
    buffers: Vec<Buffer>,
    buffered_rows: usize,
    /// The source's bytes of the buffered rows: the part-size check's estimate of what
    /// they will add to the file.
    buffered_bytes: u64,
    /// Bytes of the current file already taken.
    taken: u64,
}

impl ParquetEncoder {
    /// An encoder of files with `columns`, as `options` say.
    pub fn new(columns: Vec<Column>, options: ParquetOptions) -> Result<ParquetEncoder, String> {
        let schema = Arc::new(schema(&columns).map_err(|e| format!("Parquet schema: {e}"))?);
        let compression = match options.compression {
            ParquetCompression::Uncompressed => Compression::UNCOMPRESSED,
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
        };
        let properties = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_1_0)
            .set_compression(compression)
            .set_created_by(format!("adls-writeback {}", env!("CARGO_PKG_VERSION")))
            .build();
        let buffers = columns.iter().map(|c| Buffer::new(c.kind)).collect();
        Ok(ParquetEncoder {
            columns,
            schema,
            properties: Arc::new(properties),
            row_group_rows: options.row_group_rows.max(1) as usize,
            sink: Sink::default(),
            writer: None,
            buffers,
            buffered_rows: 0,
            buffered_bytes: 0,
            taken: 0,
        })
    }

    /// The files' columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Starts a new file (its leading magic bytes).
    pub fn start(&mut self) -> Result<(), String> {
        self.taken = 0;
        self.sink.with(Vec::clear);
        let writer = SerializedFileWriter::new(
            self.sink.clone(),
            self.schema.clone(),
            self.properties.clone(),
        )
        .map_err(|e| format!("starting a Parquet file: {e}"))?;
        self.writer = Some(writer);
        Ok(())
    }

    /// Adds a record of `fields` (`raw_len` bytes in the source) to the file; a full row
    /// group is then written.
    pub fn push<'a>(
        &mut self,
        fields: impl Iterator<Item = &'a [u8]>,
        raw_len: usize,
    ) -> Result<(), RecordError> {
        let mut count = 0;
        for (i, field) in fields.enumerate() {
            count = i + 1;
            let Some(buffer) = self.buffers.get_mut(i) else {
                continue;
            };
            if !buffer.push(field) {
                let column = &self.columns[i];
                return Err(RecordError(format!(
                    "column {} ({}) is {}, not {}",
                    quoted(&column.name),
                    column.kind.source_name(),
                    quoted(&String::from_utf8_lossy(field)),
                    column.kind.expected(),
                )));
            }
        }
        if count != self.columns.len() {
            return Err(RecordError(format!(
                "the record has {count} fields and the dataset {} columns: every Parquet row \
                 needs each column (an empty field is a null)",
                self.columns.len()
            )));
        }
        self.buffered_rows += 1;
        self.buffered_bytes += raw_len as u64;
        if self.buffered_rows >= self.row_group_rows {
            self.write_row_group()?;
        }
        Ok(())
    }

    /// The current file's bytes so far, counting the buffered rows at their size in the
    /// source (the footer is not counted).
    pub fn file_bytes(&self) -> u64 {
        self.taken + self.sink.with(|b| b.len() as u64) + self.buffered_bytes
    }

    /// The next `size` bytes of the file, once that many are ready.
    pub fn take(&mut self, size: usize) -> Option<Vec<u8>> {
        let block = self.sink.with(|buffer| {
            (buffer.len() >= size).then(|| {
                let rest = buffer.split_off(size);
                mem::replace(buffer, rest)
            })
        })?;
        self.taken += block.len() as u64;
        Some(block)
    }

    /// Ends the file: its last row group and footer; returns the rest of its bytes.
    pub fn finish(&mut self) -> Result<Vec<u8>, RecordError> {
        if self.buffered_rows > 0 {
            self.write_row_group()?;
        }
        if let Some(writer) = self.writer.take() {
            writer
                .close()
                .map_err(|e| failed("ending the Parquet file", e))?;
        }
        let rest = self.sink.with(mem::take);
        self.taken += rest.len() as u64;
        Ok(rest)
    }

    /// Writes the buffered rows as one row group.
    fn write_row_group(&mut self) -> Result<(), RecordError> {
        let writer = self.writer.as_mut().expect("a file is started");
        let mut group = writer
            .next_row_group()
            .map_err(|e| failed("starting a row group", e))?;
        for buffer in &mut self.buffers {
            let mut column = group
                .next_column()
                .map_err(|e| failed("starting a column chunk", e))?
                .expect("a writer per column of the schema");
            let defs = Some(buffer.defs.as_slice());
            let written = match &mut buffer.values {
                Values::Bytes { data, ends } => {
                    let all = Bytes::from(mem::take(data));
                    let slices = ends.iter().scan(0, |start, &end| {
                        let value = all.slice(*start..end);
                        *start = end;
                        Some(value)
                    });
                    let result = if buffer.kind == Kind::Decimal {
                        let values: Vec<FixedLenByteArray> =
                            slices.map(|b| ByteArray::from(b).into()).collect();
                        column
                            .typed::<FixedLenByteArrayType>()
                            .write_batch(&values, defs, None)
                    } else {
                        let values: Vec<ByteArray> = slices.map(ByteArray::from).collect();
                        column
                            .typed::<ByteArrayType>()
                            .write_batch(&values, defs, None)
                    };
                    ends.clear();
                    result
                }
                Values::Int32(v) => {
                    let r = column.typed::<Int32Type>().write_batch(v, defs, None);
                    v.clear();
                    r
                }
                Values::Int64(v) => {
                    let r = column.typed::<Int64Type>().write_batch(v, defs, None);
                    v.clear();
                    r
                }
                Values::Double(v) => {
                    let r = column.typed::<DoubleType>().write_batch(v, defs, None);
                    v.clear();
                    r
                }
            };
            written.map_err(|e| failed("writing a column chunk", e))?;
            buffer.defs.clear();
            column
                .close()
                .map_err(|e| failed("ending a column chunk", e))?;
        }
        group.close().map_err(|e| failed("ending a row group", e))?;
        writer
            .flush()
            .map_err(|e| failed("writing a row group", e))?;
        self.buffered_rows = 0;
        self.buffered_bytes = 0;
        Ok(())
    }
}

/// The schema of `columns`: every field optional.
fn schema(columns: &[Column]) -> parquet::errors::Result<Type> {
    let fields = columns
        .iter()
        .map(|c| {
            let (physical, logical) = match c.kind {
                Kind::String => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
                Kind::Long => (Physical::INT64, None),
                Kind::Double => (Physical::DOUBLE, None),
                Kind::Decimal => (
                    Physical::FIXED_LEN_BYTE_ARRAY,
                    Some(LogicalType::decimal(
                        DECIMAL_SCALE as i32,
                        DECIMAL_PRECISION as i32,
                    )),
                ),
                Kind::Date => (Physical::INT32, Some(LogicalType::Date)),
                Kind::DateTime => (
                    Physical::INT64,
                    Some(LogicalType::timestamp(true, TimeUnit::MICROS)),
                ),
            };
            let mut field = Type::primitive_type_builder(&c.name, physical)
                .with_repetition(Repetition::OPTIONAL)
                .with_logical_type(logical);
            if c.kind == Kind::Decimal {
                field = field
                    .with_length(DECIMAL_BYTES as i32)
                    .with_precision(DECIMAL_PRECISION as i32)
                    .with_scale(DECIMAL_SCALE as i32);
            }
            field.build().map(Arc::new)
        })
        .collect::<parquet::errors::Result<Vec<_>>>()?;
    Type::group_type_builder("schema")
        .with_fields(fields)
        .build()
}

fn failed(what: &str, e: impl std::fmt::Display) -> RecordError {
    RecordError(format!("{what}: {e}"))
}

/// `text` in backquotes, shortened past 200 characters.
fn quoted(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("`{}…`", &text[..at].escape_debug()),
        None => format!("`{}`", text.escape_debug()),
    }
}

#[cfg(test)]
mod tests;
