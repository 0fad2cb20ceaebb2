//! Arrow output of Query Blob Contents: an Arrow IPC stream (a schema message, one record
//! batch, the end-of-stream marker) of the request's schema fields (`int64`, `double`,
//! `bool`, `string`, `timestamp[ms]`, `decimal`), one row per result record. Values that do
//! not convert to a field's type (or a decimal too wide for its precision) are nulls.
//!
//! The messages' flatbuffers are laid out front to back by a small writer ([`Flat`]): each
//! table after its vtable, then the objects it points to.

use super::output::{Row, text_of};
use super::request::ArrowField;

/// A field value of a flatbuffer table.
enum Slot {
    U8(u8),
    I16(i16),
    I32(i32),
    I64(i64),
    Table(Table),
    Tables(Vec<Table>),
    /// A vector of 16-byte structs of two `long`s: (count, bytes).
    Structs(usize, Vec<u8>),
    Text(String),
}

impl Slot {
    /// Bytes the field takes in its table.
    fn width(&self) -> usize {
        match self {
            Slot::U8(_) => 1,
            Slot::I16(_) => 2,
            Slot::I64(_) => 8,
            _ => 4,
        }
    }
}

/// A flatbuffer table: its fields by id (`None` for absent ones).
struct Table(Vec<Option<Slot>>);

/// Rounds `n` up to a multiple of `align`.
fn align_up(n: usize, align: usize) -> usize {
    n.div_ceil(align) * align
}

/// A flatbuffer being written front to back.
struct Flat {
    buf: Vec<u8>,
}

impl Flat {
    /// The flatbuffer whose root table is `root`, padded to a multiple of 8 bytes.
    fn finish(root: &Table) -> Vec<u8> {
        let mut flat = Flat { buf: vec![0; 4] };
        let at = flat.table(root);
        flat.patch(0, at);
        flat.pad_to(8);
        flat.buf
    }

    fn pad_to(&mut self, align: usize) {
        let len = align_up(self.buf.len(), align);
        self.buf.resize(len, 0);
    }

    /// Points the offset at `at` to `target` (later in the buffer).
    fn patch(&mut self, at: usize, target: usize) {
        let relative = u32::try_from(target - at).expect("flatbuffers stay small");
        self.buf[at..at + 4].copy_from_slice(&relative.to_le_bytes());
    }

    /// Writes a vtable and its table, then the table's objects; the table's position.
    fn table(&mut self, table: &Table) -> usize {
        let mut layout = Vec::new();
        let mut size = 4;
        for (id, slot) in table.0.iter().enumerate() {
            if let Some(slot) = slot {
                size = align_up(size, slot.width());
                layout.push((id, size, slot));
                size += slot.width();
            }
        }
        self.pad_to(2);
        let vtable = self.buf.len();
        let entry = |n: usize| u16::try_from(n).expect("tables stay small").to_le_bytes();
        self.buf.extend_from_slice(&entry(4 + 2 * table.0.len()));
        self.buf.extend_from_slice(&entry(size));
        for id in 0..table.0.len() {
            let at = layout
                .iter()
                .find(|(i, ..)| *i == id)
                .map_or(0, |(_, at, _)| *at);
            self.buf.extend_from_slice(&entry(at));
        }
        self.pad_to(8);
        let start = self.buf.len();
        self.buf.resize(start + size, 0);
        let back = i32::try_from(start - vtable).expect("vtables are near");
        self.buf[start..start + 4].copy_from_slice(&back.to_le_bytes());
        let mut pending = Vec::new();
        for (_, at, slot) in layout {
            let at = start + at;
            let bytes: Vec<u8> = match slot {
                Slot::U8(v) => vec![*v],
                Slot::I16(v) => v.to_le_bytes().to_vec(),
                Slot::I32(v) => v.to_le_bytes().to_vec(),
                Slot::I64(v) => v.to_le_bytes().to_vec(),
                _ => {
                    pending.push((at, slot));
                    continue;
                }
            };
            self.buf[at..at + bytes.len()].copy_from_slice(&bytes);
        }
        for (at, slot) in pending {
            let target = self.object(slot);
            self.patch(at, target);
        }
        start
    }

    /// Writes what an offset field points to; its position.
    fn object(&mut self, slot: &Slot) -> usize {
        let count = |n: usize| u32::try_from(n).expect("vectors stay small").to_le_bytes();
        match slot {
            Slot::Table(table) => self.table(table),
            Slot::Text(text) => {
                self.pad_to(4);
                let at = self.buf.len();
                self.buf.extend_from_slice(&count(text.len()));
                self.buf.extend_from_slice(text.as_bytes());
                self.buf.push(0);
                at
            }
            Slot::Structs(n, bytes) => {
                // The structs hold longs: they start on 8 bytes, after the count.
                self.pad_to(8);
                self.buf.extend_from_slice(&[0; 4]);
                let at = self.buf.len();
                self.buf.extend_from_slice(&count(*n));
                self.buf.extend_from_slice(bytes);
                at
            }
            Slot::Tables(tables) => {
                self.pad_to(4);
                let at = self.buf.len();
                self.buf.extend_from_slice(&count(tables.len()));
                let first = self.buf.len();
                self.buf.resize(first + 4 * tables.len(), 0);
                for (i, table) in tables.iter().enumerate() {
                    let target = self.table(table);
                    self.patch(first + 4 * i, target);
                }
                at
            }
            _ => unreachable!("scalars are written in their table"),
        }
    }
}

/// The Arrow type of a field: (the `Type` union's tag, its table).
fn arrow_type(field: &ArrowField) -> (u8, Table) {
    match field.kind.as_str() {
        "int64" => (2, Table(vec![Some(Slot::I32(64)), Some(Slot::U8(1))])),
        "double" => (3, Table(vec![Some(Slot::I16(2))])),
        "bool" => (6, Table(vec![])),
        "timestamp[ms]" => (10, Table(vec![Some(Slot::I16(1))])),
        "decimal" => (
            7,
            Table(vec![
                Some(Slot::I32(i32::from(field.precision.unwrap_or(38)))),
                Some(Slot::I32(i32::from(field.scale.unwrap_or(0)))),
                Some(Slot::I32(128)),
            ]),
        ),
        _ => (5, Table(vec![])),
    }
}

/// An encapsulated IPC message: continuation marker, metadata length, metadata, body.
fn message(header_type: u8, header: Table, body: &[u8]) -> Vec<u8> {
    let metadata = Flat::finish(&Table(vec![
        Some(Slot::I16(4)),
        Some(Slot::U8(header_type)),
        Some(Slot::Table(header)),
        Some(Slot::I64(body.len() as i64)),
    ]));
    let mut out = vec![0xff; 4];
    out.extend_from_slice(&(metadata.len() as i32).to_le_bytes());
    out.extend_from_slice(&metadata);
    out.extend_from_slice(body);
    out
}

/// A decimal text (`-12.5`) as its unscaled integer at `scale`; extra digits are cut.
fn decimal(text: &str, scale: i8) -> Option<i128> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let scale = usize::try_from(scale.max(0)).unwrap_or(0);
    let mut fraction: String = fraction.chars().take(scale).collect();
    while fraction.len() < scale {
        fraction.push('0');
    }
    let joined = format!("{whole}{fraction}");
    if !joined.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i128 = if joined.is_empty() {
        0
    } else {
        joined.parse().ok()?
    };
    Some(if negative { -value } else { value })
}

/// Whether an unscaled decimal has at most `precision` digits.
fn fits(value: i128, precision: u8) -> bool {
    10i128
        .checked_pow(u32::from(precision))
        .is_none_or(|limit| value.unsigned_abs() < limit.unsigned_abs())
}

/// One column's buffers: validity bitmap, then the type's buffers.
fn column(field: &ArrowField, texts: &[Option<String>]) -> Vec<Vec<u8>> {
    let n = texts.len();
    let mut validity = vec![0u8; n.div_ceil(8)];
    let mut set_valid = |i: usize| validity[i / 8] |= 1 << (i % 8);
    let mut buffers = Vec::new();
    match field.kind.as_str() {
        "string" | "" => {
            let (mut offsets, mut data) = (vec![0i32], Vec::new());
            for (i, text) in texts.iter().enumerate() {
                if let Some(text) = text {
                    set_valid(i);
                    data.extend_from_slice(text.as_bytes());
                }
                offsets.push(data.len() as i32);
            }
            buffers.push(offsets.iter().flat_map(|o| o.to_le_bytes()).collect());
            buffers.push(data);
        }
        "bool" => {
            let mut bits = vec![0u8; n.div_ceil(8)];
            for (i, text) in texts.iter().enumerate() {
                match text.as_deref().map(str::to_ascii_lowercase).as_deref() {
                    Some("true") => {
                        set_valid(i);
                        bits[i / 8] |= 1 << (i % 8);
                    }
                    Some("false") => set_valid(i),
                    _ => {}
                }
            }
            buffers.push(bits);
        }
        kind => {
            let mut values = Vec::new();
            for (i, text) in texts.iter().enumerate() {
                let text = text.as_deref().unwrap_or("");
                let bytes: Option<Vec<u8>> = match kind {
                    "decimal" => decimal(text, field.scale.unwrap_or(0))
                        .filter(|v| fits(*v, field.precision.unwrap_or(38)))
                        .map(|v| v.to_le_bytes().to_vec()),
                    "double" => text
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .map(|v| v.to_le_bytes().to_vec()),
                    _ => text
                        .trim()
                        .parse::<i64>()
                        .ok()
                        .map(|v| v.to_le_bytes().to_vec()),
                };
                let width = if kind == "decimal" { 16 } else { 8 };
                match bytes {
                    Some(bytes) => {
                        set_valid(i);
                        values.extend_from_slice(&bytes);
                    }
                    None => values.resize(values.len() + width, 0),
                }
            }
            buffers.push(values);
        }
    }
    buffers.insert(0, validity);
    buffers
}

/// The Arrow IPC stream of `rows` with the schema `fields` (the N-th value of a row is the
/// N-th field's).
pub(crate) fn stream(fields: &[ArrowField], rows: &[Row]) -> Vec<u8> {
    let schema_fields = fields
        .iter()
        .map(|field| {
            let (tag, kind) = arrow_type(field);
            Table(vec![
                Some(Slot::Text(field.name.clone().unwrap_or_default())),
                Some(Slot::U8(1)),
                Some(Slot::U8(tag)),
                Some(Slot::Table(kind)),
                None,
                Some(Slot::Tables(Vec::new())),
            ])
        })
        .collect();
    let mut out = message(1, Table(vec![None, Some(Slot::Tables(schema_fields))]), &[]);
    let (mut nodes, mut buffers, mut body) = (Vec::new(), Vec::new(), Vec::new());
    for (i, field) in fields.iter().enumerate() {
        let texts: Vec<Option<String>> = rows
            .iter()
            .map(|row| row.get(i).map(|(_, value)| text_of(value)))
            .collect();
        let columns = column(field, &texts);
        let valid = columns[0]
            .iter()
            .map(|b| b.count_ones() as usize)
            .sum::<usize>();
        nodes.extend_from_slice(&(rows.len() as i64).to_le_bytes());
        nodes.extend_from_slice(&((rows.len() - valid) as i64).to_le_bytes());
        for buffer in columns {
            buffers.extend_from_slice(&(body.len() as i64).to_le_bytes());
            buffers.extend_from_slice(&(buffer.len() as i64).to_le_bytes());
            body.extend_from_slice(&buffer);
            body.resize(align_up(body.len(), 8), 0);
        }
    }
    let count = buffers.len() / 16;
    let batch = Table(vec![
        Some(Slot::I64(rows.len() as i64)),
        Some(Slot::Structs(fields.len(), nodes)),
        Some(Slot::Structs(count, buffers)),
    ]);
    out.extend_from_slice(&message(3, batch, &body));
    out.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    out
}

#[cfg(test)]
mod tests {
    use super::super::eval::Value;
    use super::*;

    #[test]
    fn decimals_scale_and_cut() {
        assert_eq!(decimal("400", 2), Some(40000));
        assert_eq!(decimal("-1.239", 2), Some(-123));
        assert_eq!(decimal(".5", 1), Some(5));
        assert_eq!(decimal("abc", 2), None);
        assert!(fits(9999, 4) && !fits(10000, 4) && fits(-9999, 4));
    }

    #[test]
    fn stream_has_schema_batch_and_end() {
        let field = ArrowField {
            kind: "decimal".into(),
            name: Some("abc".into()),
            precision: Some(5),
            scale: Some(2),
        };
        let rows = vec![vec![("_2".to_string(), Value::Text("400".into()))]];
        let bytes = stream(&[field], &rows);
        assert_eq!(&bytes[..4], &[0xff; 4]);
        let schema_len = i32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
        assert_eq!(schema_len % 8, 0);
        let batch = 8 + schema_len;
        assert_eq!(&bytes[batch..batch + 4], &[0xff; 4]);
        assert!(bytes.ends_with(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]));
        // The one value, unscaled, in the body's last 16 bytes before the end marker.
        let value_at = bytes.len() - 8 - 16;
        let value = i128::from_le_bytes(bytes[value_at..value_at + 16].try_into().unwrap());
        assert_eq!(value, 40000);
        assert!(bytes[..value_at].windows(3).any(|w| w == b"abc"));
    }
}
