//! The body of a Query Blob Contents answer: an Avro object container file (`avro/binary`)
//! whose records are the union of `resultData`, `error`, `progress` and `end` of the
//! service's schema `com.microsoft.azure.storage.queryBlobContents`.

use apache_avro::types::Value;
use apache_avro::{Codec, Schema, Writer};

/// The service's writer schema, as its answers carry it.
const SCHEMA: &str = r#"[
  {
    "type": "record",
    "name": "com.microsoft.azure.storage.queryBlobContents.resultData",
    "doc": "Holds result data in the format specified for this query (CSV, JSON, etc.).",
    "fields": [
      {"name": "data", "type": "bytes"}
    ]
  },
  {
    "type": "record",
    "name": "com.microsoft.azure.storage.queryBlobContents.error",
    "doc": "An error that occurred while processing the query.",
    "fields": [
      {"name": "fatal", "type": "boolean", "doc": "If true, this error prevents further query processing."},
      {"name": "name", "type": "string", "doc": "The name of the error."},
      {"name": "description", "type": "string", "doc": "A description of the error."},
      {"name": "position", "type": "long", "doc": "The blob offset at which the error occurred."}
    ]
  },
  {
    "type": "record",
    "name": "com.microsoft.azure.storage.queryBlobContents.progress",
    "doc": "Information about the progress of the query.",
    "fields": [
      {"name": "bytesScanned", "type": "long", "doc": "The number of bytes that have been scanned."},
      {"name": "totalBytes", "type": "long", "doc": "The total number of bytes to be scanned in this query."}
    ]
  },
  {
    "type": "record",
    "name": "com.microsoft.azure.storage.queryBlobContents.end",
    "doc": "Sent as the final message of the response, indicating that all results have been sent.",
    "fields": [
      {"name": "totalBytes", "type": "long", "doc": "The total number of bytes to be scanned in this query."}
    ]
  }
]"#;

/// One record of the answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event {
    /// Results in the output serialization.
    Data(Vec<u8>),
    /// An error: a fatal one ends the query, another skipped a record.
    Error {
        /// Whether the query stopped.
        fatal: bool,
        /// The error's name.
        name: String,
        /// What went wrong.
        description: String,
        /// The content offset where it went wrong.
        position: u64,
    },
    /// How much of the content has been read.
    Progress {
        /// Bytes read so far.
        bytes_scanned: u64,
        /// The content's length.
        total_bytes: u64,
    },
    /// The last record.
    End {
        /// The content's length.
        total_bytes: u64,
    },
}

/// A count as Avro's `long`.
fn long(n: u64) -> Value {
    Value::Long(i64::try_from(n).unwrap_or(i64::MAX))
}

impl Event {
    /// The event as a branch of the union.
    fn value(&self) -> Value {
        let (branch, fields) = match self {
            Event::Data(data) => (0, vec![("data", Value::Bytes(data.clone()))]),
            Event::Error {
                fatal,
                name,
                description,
                position,
            } => (
                1,
                vec![
                    ("fatal", Value::Boolean(*fatal)),
                    ("name", Value::String(name.clone())),
                    ("description", Value::String(description.clone())),
                    ("position", long(*position)),
                ],
            ),
            Event::Progress {
                bytes_scanned,
                total_bytes,
            } => (
                2,
                vec![
                    ("bytesScanned", long(*bytes_scanned)),
                    ("totalBytes", long(*total_bytes)),
                ],
            ),
            Event::End { total_bytes } => (3, vec![("totalBytes", long(*total_bytes))]),
        };
        let fields = fields
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        Value::Union(branch, Box::new(Value::Record(fields)))
    }
}

/// The Avro object container file of `events`, in order (no compression).
pub(crate) fn container(events: &[Event]) -> Vec<u8> {
    let schema = Schema::parse_str(SCHEMA).expect("the answer schema is valid Avro");
    let mut writer = Writer::with_codec(&schema, Vec::new(), Codec::Null)
        .expect("a writer to memory without compression starts");
    for event in events {
        writer
            .append_value(event.value())
            .expect("every event matches the answer schema");
    }
    writer
        .into_inner()
        .expect("writing to memory does not fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::Reader;

    #[test]
    fn round_trips_through_an_avro_reader() {
        let events = vec![
            Event::Data(b"a,b\n".to_vec()),
            Event::Error {
                fatal: false,
                name: "InvalidColumnOrdinal".into(),
                description: "short".into(),
                position: 3,
            },
            Event::Progress {
                bytes_scanned: 4,
                total_bytes: 4,
            },
            Event::End { total_bytes: 4 },
        ];
        let bytes = container(&events);
        assert!(bytes.starts_with(b"Obj\x01"));
        let read: Vec<Value> = Reader::new(&bytes[..])
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(read.len(), 4);
        assert_eq!(read[0], events[0].value());
        assert_eq!(read[3], events[3].value());
    }
}
