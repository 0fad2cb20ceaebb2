//! DataSets from the datasets folder: metadata, row counts, CSV export and permissions.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use csv_core::{ReadRecordResult, Reader};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::io::ReaderStream;

use super::{DomoError, DomoState, authorize, developer, error};
use crate::config::DomoUser;
use crate::timefmt;

#[derive(Debug, Clone, Deserialize)]
struct UserRef {
    id: u64,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Share {
    id: u64,
    #[serde(default)]
    name: String,
    #[serde(rename = "accessLevel")]
    access_level: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Column {
    name: String,
    #[serde(rename = "type", default = "string_type")]
    kind: String,
}

fn string_type() -> String {
    "STRING".to_string()
}

#[derive(Debug, Clone, Deserialize)]
struct Schema {
    columns: Vec<Column>,
}

/// The `<id>.json` metadata file; every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    name: Option<String>,
    description: Option<String>,
    owner: Option<UserRef>,
    #[serde(default)]
    co_owners: Vec<UserRef>,
    #[serde(default)]
    shares: Vec<Share>,
    schema: Option<Schema>,
    pdp_enabled: Option<bool>,
}

/// One dataset found in the folder.
struct Dataset {
    id: String,
    csv: PathBuf,
    meta: Metadata,
    created: SystemTime,
    modified: SystemTime,
    len: u64,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn internal(path: &str, message: String) -> DomoError {
    tracing::error!(%message, "dataset folder");
    error(StatusCode::INTERNAL_SERVER_ERROR, path, &message).into()
}

/// Loads dataset `id`; `Ok(None)` when the folder has no `<id>.csv`.
async fn load(state: &DomoState, id: &str) -> Result<Option<Dataset>, String> {
    let Some(dir) = state.datasets_dir.as_ref().filter(|_| valid_id(id)) else {
        return Ok(None);
    };
    let csv = dir.join(format!("{id}.csv"));
    let stat = match tokio::fs::metadata(&csv).await {
        Ok(stat) if stat.is_file() => stat,
        _ => return Ok(None),
    };
    let json_path = dir.join(format!("{id}.json"));
    let meta = match tokio::fs::read(&json_path).await {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| format!("metadata file {} is invalid: {e}", json_path.display()))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Metadata::default(),
        Err(e) => return Err(format!("cannot read {}: {e}", json_path.display())),
    };
    let modified = stat.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(Some(Dataset {
        id: id.to_string(),
        csv,
        meta,
        created: stat.created().unwrap_or(modified),
        modified,
        len: stat.len(),
    }))
}

/// The fields of the first CSV record and the byte offset just past it.
fn first_record(path: &Path) -> io::Result<(Vec<String>, u64)> {
    let mut file = File::open(path)?;
    let mut reader = Reader::new();
    let mut buf = vec![0u8; 64 * 1024];
    let (mut out, mut ends) = (vec![0u8; 4096], vec![0usize; 256]);
    let (mut filled, mut pos, mut nout, mut nends, mut consumed) = (0, 0, 0, 0, 0u64);
    loop {
        if pos == filled {
            filled = file.read(&mut buf)?;
            pos = 0;
        }
        let (result, nin, o, e) =
            reader.read_record(&buf[pos..filled], &mut out[nout..], &mut ends[nends..]);
        pos += nin;
        consumed += nin as u64;
        nout += o;
        nends += e;
        match result {
            ReadRecordResult::InputEmpty => {}
            ReadRecordResult::OutputFull => out.resize(out.len() * 2, 0),
            ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
            ReadRecordResult::End => return Ok((Vec::new(), consumed)),
            ReadRecordResult::Record => break,
        }
    }
    let mut fields = Vec::with_capacity(nends);
    let mut start = 0;
    for &end in &ends[..nends] {
        fields.push(String::from_utf8_lossy(&out[start..end]).into_owned());
        start = end;
    }
    // A CRLF terminator may have been cut after its CR.
    let mut around = [0u8; 2];
    if consumed > 0 {
        file.seek(SeekFrom::Start(consumed - 1))?;
        if file.read(&mut around)? == 2 && around == *b"\r\n" {
            consumed += 1;
        }
    }
    Ok((fields, consumed))
}

/// Counts the CSV records of a file (quoted newlines respected).
fn count_records(path: &Path) -> io::Result<u64> {
    let mut file = File::open(path)?;
    let mut reader = Reader::new();
    let mut buf = vec![0u8; 256 * 1024];
    let (mut out, mut ends) = (vec![0u8; 64 * 1024], vec![0usize; 1024]);
    let (mut filled, mut pos, mut records) = (0, 0, 0u64);
    loop {
        if pos == filled {
            filled = file.read(&mut buf)?;
            pos = 0;
        }
        // Field contents are not needed: the scratch buffers are reused.
        let (result, nin, _, _) = reader.read_record(&buf[pos..filled], &mut out, &mut ends);
        pos += nin;
        match result {
            ReadRecordResult::Record => records += 1,
            ReadRecordResult::End => return Ok(records),
            _ => {}
        }
    }
}

/// Rows after the header, cached until the file changes.
async fn rows(state: &DomoState, dataset: &Dataset) -> io::Result<u64> {
    let key = (dataset.modified, dataset.len);
    if let Some(&(modified, len, rows)) = state
        .row_counts
        .lock()
        .expect("cache lock")
        .get(&dataset.csv)
        && (modified, len) == key
    {
        return Ok(rows);
    }
    let csv = dataset.csv.clone();
    let records = tokio::task::spawn_blocking(move || count_records(&csv))
        .await
        .map_err(io::Error::other)??;
    let rows = records.saturating_sub(1);
    state
        .row_counts
        .lock()
        .expect("cache lock")
        .insert(dataset.csv.clone(), (key.0, key.1, rows));
    Ok(rows)
}

fn owner(state: &DomoState, dataset: &Dataset) -> DomoUser {
    match &dataset.meta.owner {
        Some(u) => DomoUser {
            id: u.id,
            name: u.name.clone(),
        },
        None => state.default_owner.clone(),
    }
}

/// The dataset's JSON, with or without its schema.
async fn summary(state: &DomoState, dataset: &Dataset, with_schema: bool) -> io::Result<Value> {
    let columns: Vec<(String, String)> = match &dataset.meta.schema {
        Some(schema) => schema
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.kind.clone()))
            .collect(),
        None => {
            let csv = dataset.csv.clone();
            let (header, _) = tokio::task::spawn_blocking(move || first_record(&csv))
                .await
                .map_err(io::Error::other)??;
            header
                .into_iter()
                .map(|name| (name, string_type()))
                .collect()
        }
    };
    let owner = owner(state, dataset);
    let updated = timefmt::iso8601_secs(dataset.modified);
    let mut value = json!({
        "id": dataset.id,
        "name": dataset.meta.name.clone().unwrap_or_else(|| dataset.id.clone()),
        "description": dataset.meta.description.clone().unwrap_or_default(),
        "rows": rows(state, dataset).await?,
        "columns": columns.len(),
        "owner": {"id": owner.id, "name": owner.name},
        "createdAt": timefmt::iso8601_secs(dataset.created),
        "updatedAt": updated,
        "dataCurrentAt": updated,
        "pdpEnabled": dataset.meta.pdp_enabled.unwrap_or(false),
    });
    if with_schema {
        let columns: Vec<Value> = columns
            .into_iter()
            .map(|(name, kind)| json!({"type": kind, "name": name}))
            .collect();
        value["schema"] = json!({ "columns": columns });
    }
    Ok(value)
}

fn json_ok(body: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

/// Loads a dataset or answers 404/500.
async fn find(state: &DomoState, id: &str, path: &str) -> Result<Dataset, DomoError> {
    match load(state, id).await {
        Ok(Some(dataset)) => Ok(dataset),
        Ok(None) => {
            let message = format!("DataSet {id} was not found");
            Err(error(StatusCode::NOT_FOUND, path, &message).into())
        }
        Err(message) => Err(internal(path, message)),
    }
}

/// `GET /v1/datasets?limit=&offset=`.
pub(crate) async fn list(
    State(state): State<Arc<DomoState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, DomoError> {
    let path = "/v1/datasets";
    authorize(&headers, path)?;
    let number = |name: &str, default: usize| -> Result<usize, DomoError> {
        match query.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                let message = format!("Invalid value for {name}: {v}");
                error(StatusCode::BAD_REQUEST, path, &message).into()
            }),
        }
    };
    let limit = number("limit", 50)?.min(50);
    let offset = number("offset", 0)?;
    let mut ids = Vec::new();
    if let Some(dir) = &state.datasets_dir
        && let Ok(mut entries) = tokio::fs::read_dir(dir).await
    {
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".csv").filter(|id| valid_id(id)) {
                ids.push(id.to_string());
            }
        }
    }
    ids.sort();
    let mut summaries = Vec::new();
    for id in ids.iter().skip(offset).take(limit) {
        let dataset = find(&state, id, path).await?;
        let summary = summary(&state, &dataset, false)
            .await
            .map_err(|e| internal(path, format!("cannot read dataset {id}: {e}")))?;
        summaries.push(summary);
    }
    Ok(json_ok(&Value::Array(summaries)))
}

/// `GET /v1/datasets/{id}`.
pub(crate) async fn describe(
    State(state): State<Arc<DomoState>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, DomoError> {
    let path = format!("/v1/datasets/{id}");
    authorize(&headers, &path)?;
    let dataset = find(&state, &id, &path).await?;
    let body = summary(&state, &dataset, true)
        .await
        .map_err(|e| internal(&path, format!("cannot read dataset {id}: {e}")))?;
    Ok(json_ok(&body))
}

/// A boolean query parameter as the Domo API (a Spring application) reads one: `true`, `on`,
/// `yes`, `1` or `false`, `off`, `no`, `0`, in any case (SDKs send Python's `True`); an empty
/// value is no value. `None` for anything else.
fn parse_flag(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Some(true),
        "false" | "off" | "no" | "0" | "" => Some(false),
        _ => None,
    }
}

/// `GET /v1/datasets/{id}/data?includeHeader=true|false`: the CSV, streamed from the file.
pub(crate) async fn export(
    State(state): State<Arc<DomoState>>,
    UrlPath(id): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, DomoError> {
    let path = format!("/v1/datasets/{id}/data");
    authorize(&headers, &path)?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("*/*");
    if !["text/csv", "text/*", "*/*"]
        .iter()
        .any(|t| accept.contains(t))
    {
        return Err(error(StatusCode::NOT_ACCEPTABLE, &path, "Not Acceptable").into());
    }
    let include_header = match query.get("includeHeader") {
        None => false,
        Some(raw) => parse_flag(raw).ok_or_else(|| {
            let message = format!("Invalid value for includeHeader: {raw}");
            error(StatusCode::BAD_REQUEST, &path, &message)
        })?,
    };
    let dataset = find(&state, &id, &path).await?;
    let csv = dataset.csv.clone();
    let offset = if include_header {
        Ok(0)
    } else {
        tokio::task::spawn_blocking(move || first_record(&csv).map(|(_, offset)| offset))
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e)))
    };
    let opened = async {
        let mut file = tokio::fs::File::open(&dataset.csv).await?;
        tokio::io::AsyncSeekExt::seek(&mut file, SeekFrom::Start(offset?)).await?;
        io::Result::Ok(file)
    };
    let file = opened
        .await
        .map_err(|e| internal(&path, format!("cannot read dataset {id}: {e}")))?;
    let mut response = Response::new(Body::from_stream(ReaderStream::with_capacity(
        file,
        256 * 1024,
    )));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, "text/csv".parse().expect("valid"));
    if let Some(name) = query.get("fileName")
        && let Ok(value) = format!("attachment; filename=\"{name}\"").parse()
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `GET /api/data/v3/datasources/{id}/permissions` with `X-DOMO-Developer-Token`.
pub(crate) async fn permissions(
    State(state): State<Arc<DomoState>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, DomoError> {
    let path = format!("/api/data/v3/datasources/{id}/permissions");
    if developer(&state, &headers).is_none() {
        let message = "Full authentication is required to access this resource";
        return Err(error(StatusCode::UNAUTHORIZED, &path, message).into());
    }
    let dataset = find(&state, &id, &path).await?;
    let owner = owner(&state, &dataset);
    let entry = |id: u64, name: &str, level: &str| {
        json!({
            "type": "USER",
            "id": id.to_string(),
            "name": name,
            "accessLevel": level,
        })
    };
    let mut list = vec![entry(owner.id, &owner.name, "OWNER")];
    for user in &dataset.meta.co_owners {
        list.push(entry(user.id, &user.name, "CO_OWNER"));
    }
    for share in &dataset.meta.shares {
        list.push(entry(share.id, &share.name, &share.access_level));
    }
    Ok(json_ok(&json!({ "list": list })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_as_the_domo_api_reads_them() {
        for yes in ["true", "True", "TRUE", "1", "yes", "on"] {
            assert_eq!(parse_flag(yes), Some(true), "{yes}");
        }
        for no in ["false", "False", "0", "no", "OFF", ""] {
            assert_eq!(parse_flag(no), Some(false), "{no}");
        }
        assert_eq!(parse_flag("maybe"), None);
        assert_eq!(parse_flag("2"), None);
    }

    fn file(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, content).unwrap();
        f
    }

    #[test]
    fn header_offsets() {
        let cases: &[(&[u8], &[&str], u64)] = &[
            (b"a,b\nx,y\n", &["a", "b"], 4),
            (b"a,b\r\nx,y\r\n", &["a", "b"], 5),
            (b"\"multi\nline\",b\nx,y\n", &["multi\nline", "b"], 15),
            (b"only,header", &["only", "header"], 11),
            (b"", &[], 0),
        ];
        for (content, fields, offset) in cases {
            let f = file(content);
            let (got, at) = first_record(f.path()).unwrap();
            assert_eq!(got, *fields, "{:?}", String::from_utf8_lossy(content));
            assert_eq!(at, *offset, "{:?}", String::from_utf8_lossy(content));
        }
    }

    #[test]
    fn record_counts() {
        let cases: &[(&[u8], u64)] = &[
            (b"a,b\nx,y\n", 2),
            (b"a,b\nx,y", 2),
            (b"a,b\r\n\"1\n2\",y\r\nz,w\r\n", 3),
            (b"", 0),
        ];
        for (content, records) in cases {
            let f = file(content);
            assert_eq!(count_records(f.path()).unwrap(), *records);
        }
        let big: Vec<u8> = (0..100_000)
            .flat_map(|i| format!("{i},\"v\nx\"\n").into_bytes())
            .collect();
        assert_eq!(count_records(file(&big).path()).unwrap(), 100_000);
    }
}
