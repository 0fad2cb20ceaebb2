//! Writing result records in the output serialization: delimited text (quoting what holds a
//! separator), JSON objects, or rows kept for an Arrow stream.

use serde_json::Value as Json;

use super::eval::Value;
use super::request::{ArrowField, Delimited, Format};

/// A result record: (column label, value) pairs in order.
pub(crate) type Row = Vec<(String, Value)>;

/// Collects the results of a query in its output serialization.
pub(crate) enum Output {
    /// Delimited text.
    Delimited(Delimited, Vec<u8>),
    /// JSON objects, each followed by the separator.
    Json(u8, Vec<u8>),
    /// Rows for an Arrow stream of the fields.
    Arrow(Vec<ArrowField>, Vec<Row>),
}

impl Output {
    /// An empty output in `format` (Parquet output is refused when the request is read).
    pub(crate) fn new(format: &Format) -> Self {
        match format {
            Format::Delimited(settings) => Output::Delimited(settings.clone(), Vec::new()),
            Format::Json { record_separator } => Output::Json(*record_separator, Vec::new()),
            Format::Arrow(fields) => Output::Arrow(fields.clone(), Vec::new()),
            Format::Parquet => Output::Json(b'\n', Vec::new()),
        }
    }

    /// Whether the output wants a header row (delimited text with headers).
    pub(crate) fn wants_header(&self) -> bool {
        matches!(self, Output::Delimited(settings, _) if settings.headers)
    }

    /// Writes the header row of delimited text.
    pub(crate) fn header(&mut self, names: &[String]) {
        if let Output::Delimited(settings, out) = self {
            let values: Vec<&str> = names.iter().map(String::as_str).collect();
            write_delimited(settings, out, &values);
        }
    }

    /// Writes one result record.
    pub(crate) fn row(&mut self, row: Row) {
        match self {
            Output::Delimited(settings, out) => {
                let texts: Vec<String> = row.iter().map(|(_, v)| text_of(v)).collect();
                let values: Vec<&str> = texts.iter().map(String::as_str).collect();
                write_delimited(settings, out, &values);
            }
            Output::Json(separator, out) => {
                out.push(b'{');
                let mut first = true;
                for (label, value) in &row {
                    let json = match value {
                        Value::Missing => continue,
                        Value::Text(text) => Json::String(text.clone()),
                        Value::Json(json) => json.clone(),
                    };
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    out.extend_from_slice(Json::String(label.clone()).to_string().as_bytes());
                    out.push(b':');
                    out.extend_from_slice(json.to_string().as_bytes());
                }
                out.push(b'}');
                out.push(*separator);
            }
            Output::Arrow(_, rows) => rows.push(row),
        }
    }

    /// The bytes of the results.
    pub(crate) fn finish(self) -> Vec<u8> {
        match self {
            Output::Delimited(_, out) | Output::Json(_, out) => out,
            Output::Arrow(fields, rows) => super::arrow::stream(&fields, &rows),
        }
    }
}

/// A value as delimited text: JSON strings bare, other JSON as JSON, nothing for missing.
pub(crate) fn text_of(value: &Value) -> String {
    match value {
        Value::Missing | Value::Json(Json::Null) => String::new(),
        Value::Text(text) | Value::Json(Json::String(text)) => text.clone(),
        Value::Json(json) => json.to_string(),
    }
}

/// Writes one record of delimited text: a field holding a separator, the quote or a line
/// break is quoted (a quote in it escaped, or doubled without an escape character).
fn write_delimited(settings: &Delimited, out: &mut Vec<u8>, values: &[&str]) {
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(settings.column_separator);
        }
        let special = |b: &u8| {
            *b == settings.column_separator
                || *b == settings.record_separator
                || Some(*b) == settings.field_quote
                || *b == b'\r'
                || *b == b'\n'
        };
        let bytes = value.as_bytes();
        match settings.field_quote {
            Some(quote) if bytes.iter().any(special) => {
                out.push(quote);
                for &b in bytes {
                    if b == quote || Some(b) == settings.escape_char {
                        out.push(settings.escape_char.unwrap_or(quote));
                    }
                    out.push(b);
                }
                out.push(quote);
            }
            _ => {
                for &b in bytes {
                    if let Some(escape) = settings.escape_char
                        && (special(&b) || b == escape)
                    {
                        out.push(escape);
                    }
                    out.push(b);
                }
            }
        }
    }
    out.push(settings.record_separator);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_row(values: &[&str]) -> Row {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("_{}", i + 1), Value::Text(v.to_string())))
            .collect()
    }

    #[test]
    fn quotes_fields_holding_separators() {
        let settings = Delimited {
            column_separator: b';',
            field_quote: Some(b'\''),
            record_separator: b'.',
            escape_char: Some(b'\\'),
            headers: false,
        };
        let mut output = Output::new(&Format::Delimited(settings));
        output.row(text_row(&["Identity", "1.1.0-beta.1", "it's"]));
        output.row(text_row(&["Event Hubs"]));
        assert_eq!(
            output.finish(),
            b"Identity;'1.1.0-beta.1';'it\\'s'.Event Hubs.".to_vec()
        );
    }

    #[test]
    fn writes_json_objects_without_missing_keys() {
        let mut output = Output::new(&Format::Json {
            record_separator: b';',
        });
        output.row(vec![(
            "name".into(),
            Value::Json(Json::String("owner".into())),
        )]);
        output.row(vec![("name".into(), Value::Missing)]);
        assert_eq!(output.finish(), br#"{"name":"owner"};{};"#.to_vec());
    }
}
