//! Reading a blob's content as records: delimited text (quotes, escapes, a header row) and
//! JSON objects one after another.

use serde_json::Value as Json;

use super::eval::Record;
use super::request::Delimited;

/// An error that ends the query: the content cannot be read further.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FatalError {
    /// The error's name.
    pub name: &'static str,
    /// What went wrong.
    pub description: String,
    /// The byte offset in the content where it went wrong.
    pub position: u64,
}

/// The records of delimited text, in order.
pub(crate) struct DelimitedReader<'a> {
    data: &'a [u8],
    at: usize,
    settings: Delimited,
}

impl<'a> DelimitedReader<'a> {
    /// Reads `data` with `settings` (the header row, if any, is the first record).
    pub(crate) fn new(data: &'a [u8], settings: Delimited) -> Self {
        DelimitedReader {
            data,
            at: 0,
            settings,
        }
    }

    /// How far the content has been read.
    pub(crate) fn position(&self) -> usize {
        self.at
    }

    /// The fields of the next record that is not empty; `None` at the end.
    pub(crate) fn next_fields(&mut self) -> Option<Vec<String>> {
        loop {
            if self.at >= self.data.len() {
                return None;
            }
            let fields = self.read_record();
            if !(fields.len() == 1 && fields[0].is_empty()) {
                return Some(fields);
            }
        }
    }

    /// Reads one record from the current position, up to and past its separator.
    fn read_record(&mut self) -> Vec<String> {
        let Delimited {
            column_separator,
            field_quote,
            record_separator,
            escape_char,
            ..
        } = self.settings;
        let mut fields = Vec::new();
        let mut field = Vec::new();
        let mut quoted = false;
        while let Some(&byte) = self.data.get(self.at) {
            self.at += 1;
            if Some(byte) == escape_char && self.at < self.data.len() {
                field.push(self.data[self.at]);
                self.at += 1;
            } else if Some(byte) == field_quote {
                if quoted && self.data.get(self.at) == Some(&byte) {
                    field.push(byte);
                    self.at += 1;
                } else {
                    quoted = !quoted;
                }
            } else if quoted {
                field.push(byte);
            } else if byte == column_separator {
                fields.push(text(&mut field));
            } else if byte == record_separator {
                break;
            } else {
                field.push(byte);
            }
        }
        if record_separator == b'\n' && field.last() == Some(&b'\r') {
            field.pop();
        }
        fields.push(text(&mut field));
        fields
    }
}

/// The field's bytes as text (invalid UTF-8 replaced), leaving `field` empty.
fn text(field: &mut Vec<u8>) -> String {
    let value = String::from_utf8_lossy(field).into_owned();
    field.clear();
    value
}

/// The JSON records of content, in order: objects separated by whitespace or the record
/// separator (or nothing at all).
pub(crate) struct JsonReader<'a> {
    data: &'a [u8],
    at: usize,
    separator: u8,
}

impl<'a> JsonReader<'a> {
    /// Reads `data`, whose records end with `separator`.
    pub(crate) fn new(data: &'a [u8], separator: u8) -> Self {
        JsonReader {
            data,
            at: 0,
            separator,
        }
    }

    /// How far the content has been read.
    pub(crate) fn position(&self) -> usize {
        self.at
    }

    /// The next record; `None` at the end, an error (after which there are no more records)
    /// when the content is not JSON objects.
    pub(crate) fn next_record(&mut self) -> Option<Result<Record, FatalError>> {
        while self
            .data
            .get(self.at)
            .is_some_and(|b| b.is_ascii_whitespace() || *b == self.separator)
        {
            self.at += 1;
        }
        if self.at >= self.data.len() {
            return None;
        }
        let start = self.at;
        let mut values =
            serde_json::Deserializer::from_slice(&self.data[start..]).into_iter::<Json>();
        let parsed = values.next()?;
        let end = start + values.byte_offset();
        let fatal = |description: String, position: usize| FatalError {
            name: "ParseError",
            description,
            position: position as u64,
        };
        self.at = self.data.len();
        Some(match parsed {
            Ok(Json::Object(object)) => {
                self.at = end;
                Ok(Record::Object(object))
            }
            Ok(_) => Err(fatal("A JSON record must be an object.".into(), start)),
            Err(error) => Err(fatal(
                format!("The content is not valid JSON: {error}."),
                start + values.byte_offset(),
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(data: &[u8], settings: Delimited) -> Vec<Vec<String>> {
        let mut reader = DelimitedReader::new(data, settings);
        std::iter::from_fn(|| reader.next_fields()).collect()
    }

    #[test]
    fn splits_crlf_records_quotes_and_escapes() {
        let records = all(
            b"a,b\r\n\"x,\"\"y\",z\r\nEvent Hubs\r\n",
            Delimited::default(),
        );
        assert_eq!(
            records,
            vec![
                vec!["a".to_string(), "b".to_string()],
                vec!["x,\"y".to_string(), "z".to_string()],
                vec!["Event Hubs".to_string()],
            ]
        );
        let escaped = Delimited {
            escape_char: Some(b'\\'),
            record_separator: b'%',
            ..Delimited::default()
        };
        assert_eq!(
            all(b"a\\,b,c%", escaped),
            vec![vec!["a,b".to_string(), "c".to_string()]]
        );
    }

    #[test]
    fn reads_json_objects_with_or_without_separators() {
        let data = br#"{"name": "owner", "id": 1}{"name2": "owner2"};{"a": [1]}"#;
        let mut reader = JsonReader::new(data, b';');
        let mut count = 0;
        while let Some(record) = reader.next_record() {
            assert!(matches!(record.unwrap(), Record::Object(_)));
            count += 1;
        }
        assert_eq!(count, 3);
        assert_eq!(reader.position(), data.len());
    }

    #[test]
    fn invalid_json_is_fatal() {
        let mut reader = JsonReader::new(b"{name: owner}\n{name2: owner2}", b'\n');
        let error = reader.next_record().unwrap().unwrap_err();
        assert_eq!(error.name, "ParseError");
        assert!(reader.next_record().is_none());
    }
}
