//! Query Blob Contents (`POST {blob}?comp=query`, also the DFS SDKs' `query_file`): runs a
//! small SQL subset over the blob's committed content, read as delimited text or JSON, and
//! answers the results, in delimited text, JSON or Arrow, inside an Avro container with the
//! errors met, the progress and the end ([`avro`]).
//!
//! The whole content is read and the results go out as one `resultData` record. Parquet
//! input is refused (`400`), as is anything of the SQL that [`sql`] does not know.

mod arrow;
mod avro;
mod eval;
mod input;
mod output;
mod request;
mod sql;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use self::avro::Event;
use self::eval::{Header, Outcome, Record, Value};
use self::input::{DelimitedReader, FatalError, JsonReader};
use self::output::{Output, Row};
use self::request::{Format, QueryRequest, invalid_query};
use self::sql::{Projection, Statement};
use crate::dfs::path::read_conditions;
use crate::dfs::{At, DfsState, set, set_version};
use crate::errors::ServiceError;
use crate::store::Content;

/// The largest `<QueryRequest>` document taken.
const MAX_QUERY_BODY: usize = 256 * 1024;

/// Query Blob Contents on the blob at `at`.
pub(crate) async fn query_blob(
    state: &DfsState,
    headers: &HeaderMap,
    at: At<'_>,
    body: Body,
) -> Result<Response, ServiceError> {
    let body = axum::body::to_bytes(body, MAX_QUERY_BODY)
        .await
        .map_err(|_| ServiceError::request_body_too_large())?;
    let text = std::str::from_utf8(&body).map_err(|_| super::tags::invalid_xml())?;
    let request = request::parse(text)?;
    if request.input == Format::Parquet {
        return Err(invalid_query(
            "The emulator does not query Parquet content: only delimited text and JSON.",
        ));
    }
    let statement = sql::parse(&request.expression)
        .map_err(|why| invalid_query(&format!("The query expression is not valid: {why}.")))?;
    let (meta, content) = state.store.path(at.account, at.fs, at.path)?;
    if let Some(not_modified) = read_conditions(headers, &meta)? {
        return Ok(not_modified);
    }
    let data = read_content(content.as_ref(), meta.len).await?;
    let events = run(&request, &statement, &data);
    let answer = avro::container(&events);
    let length = answer.len().to_string();
    let mut response = Response::new(Body::from(answer));
    set(&mut response, "content-length", &length);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("avro/binary"),
    );
    set_version(&mut response, &meta.etag, meta.last_modified());
    set(&mut response, "x-ms-blob-type", "BlockBlob");
    set(&mut response, "x-ms-server-encrypted", "true");
    Ok(response)
}

/// The committed content, whole.
async fn read_content(content: Option<&Content>, len: u64) -> Result<Vec<u8>, ServiceError> {
    Ok(match content {
        None => Vec::new(),
        Some(Content::Memory(chunks)) => chunks.slice(0, len).concat(),
        Some(Content::File(file)) => {
            let mut bytes = tokio::fs::read(file)
                .await
                .map_err(|_| ServiceError::path_not_found())?;
            bytes.truncate(usize::try_from(len).unwrap_or(usize::MAX));
            bytes
        }
    })
}

/// The state of one query run over the records.
struct Run<'a> {
    statement: &'a Statement,
    output: Output,
    errors: Vec<Event>,
    kept: u64,
    counted: u64,
}

impl Run<'_> {
    /// Whether the `LIMIT` has been reached.
    fn full(&self) -> bool {
        self.statement.limit.is_some_and(|limit| self.kept >= limit)
    }

    /// Runs the statement on one record that ends at `position` of the content.
    fn take(&mut self, record: Record, header: &Header, position: usize) {
        match eval::evaluate(self.statement, &record, header) {
            Ok(Outcome::Skipped) => {}
            Ok(Outcome::Counted) => self.counted += 1,
            Ok(Outcome::Whole) => {
                self.output.row(whole(record, header));
                self.kept += 1;
            }
            Ok(Outcome::Columns(row)) => {
                self.output.row(row);
                self.kept += 1;
            }
            Err(error) => self.errors.push(Event::Error {
                fatal: false,
                name: error.name.to_string(),
                description: error.description,
                position: position as u64,
            }),
        }
    }
}

/// A whole record as a result row: fields named by the header (or `_N`), or the object's keys.
fn whole(record: Record, header: &Header) -> Row {
    match record {
        Record::Fields(fields) => fields
            .into_iter()
            .enumerate()
            .map(|(i, field)| {
                let label = header
                    .as_ref()
                    .and_then(|h| h.get(i).cloned())
                    .unwrap_or_else(|| format!("_{}", i + 1));
                (label, Value::Text(field))
            })
            .collect(),
        Record::Object(object) => object
            .into_iter()
            .map(|(key, value)| (key, Value::Json(value)))
            .collect(),
    }
}

/// Runs `statement` over `data` read as `request` says: the answer's records.
fn run(request: &QueryRequest, statement: &Statement, data: &[u8]) -> Vec<Event> {
    let mut run = Run {
        statement,
        output: Output::new(&request.output),
        errors: Vec::new(),
        kept: 0,
        counted: 0,
    };
    let mut fatal: Option<FatalError> = None;
    match &request.input {
        Format::Delimited(settings) => {
            let mut reader = DelimitedReader::new(data, settings.clone());
            let header: Header = if settings.headers {
                reader.next_fields()
            } else {
                None
            };
            if let Some(names) = &header
                && run.output.wants_header()
            {
                let labels = match &statement.projection {
                    Projection::All => names.clone(),
                    Projection::Count => vec!["_1".to_string()],
                    Projection::Columns(columns) => columns.iter().map(|c| c.label()).collect(),
                };
                run.output.header(&labels);
            }
            while !run.full()
                && let Some(fields) = reader.next_fields()
            {
                run.take(Record::Fields(fields), &header, reader.position());
            }
        }
        Format::Json { record_separator } => {
            let mut reader = JsonReader::new(data, *record_separator);
            while !run.full()
                && let Some(record) = reader.next_record()
            {
                match record {
                    Ok(record) => run.take(record, &None, reader.position()),
                    Err(error) => fatal = Some(error),
                }
            }
        }
        Format::Arrow(_) | Format::Parquet => {}
    }
    if statement.projection == Projection::Count {
        let count = serde_json::Value::from(run.counted);
        run.output.row(vec![("_1".to_string(), Value::Json(count))]);
    }
    let total_bytes = data.len() as u64;
    let mut events = vec![Event::Data(run.output.finish())];
    events.append(&mut run.errors);
    if let Some(error) = fatal {
        events.push(Event::Error {
            fatal: true,
            name: error.name.to_string(),
            description: error.description,
            position: error.position,
        });
    }
    events.push(Event::Progress {
        bytes_scanned: total_bytes,
        total_bytes,
    });
    events.push(Event::End { total_bytes });
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::query::request::Delimited;

    fn query(input: Format, output: Format, expression: &str, data: &[u8]) -> Vec<Event> {
        let request = QueryRequest {
            expression: expression.to_string(),
            input,
            output,
        };
        run(&request, &sql::parse(expression).unwrap(), data)
    }

    fn csv(headers: bool) -> Format {
        Format::Delimited(Delimited {
            headers,
            ..Delimited::default()
        })
    }

    #[test]
    fn select_all_rewrites_crlf_records() {
        let data = b"Service,Package\r\nEvent Hubs\r\nIdentity,azure-identity\r\n";
        let events = query(csv(false), csv(false), "SELECT * from BlobStorage", data);
        assert_eq!(
            events[0],
            Event::Data(b"Service,Package\nEvent Hubs\nIdentity,azure-identity\n".to_vec())
        );
        let n = data.len() as u64;
        assert_eq!(events[2], Event::End { total_bytes: n });
    }

    #[test]
    fn header_is_kept_or_dropped_and_short_records_are_errors() {
        let data = b"Service,RepoPath\r\nEvent Hubs\r\nIdentity,identity\r\n";
        let with = query(csv(true), csv(true), "SELECT * from BlobStorage", data);
        assert_eq!(
            with[0],
            Event::Data(b"Service,RepoPath\nEvent Hubs\nIdentity,identity\n".to_vec())
        );
        let picked = query(
            csv(true),
            csv(false),
            "SELECT RepoPath from BlobStorage",
            data,
        );
        assert_eq!(picked[0], Event::Data(b"identity\n".to_vec()));
        assert!(matches!(picked[1], Event::Error { fatal: false, .. }));
    }

    #[test]
    fn json_projection_and_fatal_parse_error() {
        let json = Format::Json {
            record_separator: b'\n',
        };
        let data = br#"{"name": "owner", "id": 1}{"name2": "owner2"}"#;
        let events = query(
            json.clone(),
            json.clone(),
            "SELECT name from BlobStorage",
            data,
        );
        assert_eq!(
            events[0],
            Event::Data(b"{\"name\":\"owner\"}\n{}\n".to_vec())
        );
        let broken = query(
            json,
            csv(false),
            "SELECT * from BlobStorage",
            b"{name: owner}",
        );
        assert_eq!(broken[0], Event::Data(Vec::new()));
        assert!(matches!(broken[1], Event::Error { fatal: true, .. }));
    }

    #[test]
    fn count_and_limit() {
        let data = b"1\n2\n3\n";
        let count = query(
            csv(false),
            csv(false),
            "SELECT COUNT(*) FROM BlobStorage WHERE _1 >= 2",
            data,
        );
        assert_eq!(count[0], Event::Data(b"2\n".to_vec()));
        let limited = query(
            csv(false),
            csv(false),
            "SELECT * FROM BlobStorage LIMIT 2",
            data,
        );
        assert_eq!(limited[0], Event::Data(b"1\n2\n".to_vec()));
    }
}
