//! File data: append (`PATCH ?action=append`), flush (`PATCH ?action=flush`) and read (`GET`).

use std::io::SeekFrom;
use std::path::Path;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt;
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use super::path::{describe, read_conditions};
use super::{At, DfsState, Query, empty, header_str, set, set_version};
use crate::conditions::Conditions;
use crate::errors::ServiceError;
use crate::store::FlushRequest;
use crate::store::model::Kind;

/// The largest append the service takes (4000 MiB).
const MAX_APPEND: u64 = 4000 * 1024 * 1024;

/// Largest range whose MD5 `x-ms-range-get-content-md5` may ask for.
const MAX_RANGE_MD5: u64 = 4 * 1024 * 1024;

/// `Content-Length`, required on writes.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, ServiceError> {
    header_str(headers, "content-length")
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| ServiceError::invalid_header_value())
        })
        .transpose()
}

/// Streams a request body into `file`; returns its length and MD5.
async fn receive(body: Body, file: &Path) -> Result<(u64, [u8; 16]), ServiceError> {
    let mut out = tokio::fs::File::create(file).await?;
    let mut hasher = Md5::new();
    let mut received = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ServiceError::invalid_header_value())?;
        received += chunk.len() as u64;
        if received > MAX_APPEND {
            return Err(ServiceError::request_body_too_large());
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    Ok((received, hasher.finalize().into()))
}

/// `PATCH ?action=append&position=N[&flush=true]`.
pub(crate) async fn append(
    state: &DfsState,
    request: Request,
    query: &Query,
    at: At<'_>,
) -> Result<Response, ServiceError> {
    let position = query.required_number("position")?;
    let flush = query.flag("flush")?.unwrap_or(false);
    let headers = request.headers().clone();
    let declared = content_length(&headers)?.ok_or_else(ServiceError::missing_content_length)?;
    if declared > MAX_APPEND {
        return Err(ServiceError::request_body_too_large());
    }
    if declared == 0 && !flush {
        return Err(ServiceError::invalid_header_value());
    }
    let expected_md5 = match header_str(&headers, "content-md5") {
        None => None,
        Some(v) => match STANDARD.decode(v.trim()) {
            Ok(bytes) if bytes.len() == 16 => Some(bytes),
            _ => return Err(ServiceError::invalid_header_value()),
        },
    };
    state.store.check_appendable(at.account, at.fs, at.path)?;
    let staging = state.store.new_staging_file();
    let received = receive(request.into_body(), &staging).await;
    let registered = received.and_then(|(len, md5)| {
        if len != declared {
            return Err(ServiceError::invalid_header_value());
        }
        if expected_md5.as_ref().is_some_and(|e| e.as_slice() != md5) {
            return Err(ServiceError::md5_mismatch());
        }
        if len > 0 {
            let file = staging.clone();
            state
                .store
                .register_append(at.account, at.fs, at.path, position, len, file)?;
        }
        Ok((len, md5))
    });
    // The store owns the staging file once the append is registered.
    if !matches!(registered, Ok((len, _)) if len > 0) {
        let _ = tokio::fs::remove_file(&staging).await;
    }
    let (len, md5) = registered?;
    let mut response = empty(StatusCode::ACCEPTED);
    set(&mut response, "content-md5", &STANDARD.encode(md5));
    set(&mut response, "x-ms-request-server-encrypted", "true");
    if flush {
        let request = FlushRequest {
            position: position + len,
            ..FlushRequest::default()
        };
        let meta = state
            .store
            .flush(at.account, at.fs, at.path, request)
            .await?;
        set_version(&mut response, &meta.etag, meta.last_modified());
    }
    Ok(response)
}

/// `PATCH ?action=flush&position=N[&retainUncommittedData=true][&close=true]`.
pub(crate) async fn flush(
    state: &DfsState,
    request: Request,
    query: &Query,
    at: At<'_>,
) -> Result<Response, ServiceError> {
    let headers = request.headers();
    if content_length(headers)?.is_some_and(|n| n != 0) {
        return Err(ServiceError::content_length_must_be_zero());
    }
    let position = query.required_number("position")?;
    let retain_uncommitted = query.flag("retainUncommittedData")?.unwrap_or(false);
    query.flag("close")?;
    let flush = FlushRequest {
        position,
        retain_uncommitted,
        content: super::content_headers(headers)?,
        conditions: Conditions::from_headers(headers),
    };
    let meta = state.store.flush(at.account, at.fs, at.path, flush).await?;
    let mut response = empty(StatusCode::OK);
    set_version(&mut response, &meta.etag, meta.last_modified());
    set(&mut response, "x-ms-request-server-encrypted", "true");
    Ok(response)
}

/// A byte range `[start, end]` (inclusive) requested with `x-ms-range` or `Range`.
fn requested_range(headers: &HeaderMap) -> Option<(Option<u64>, Option<u64>)> {
    let raw = header_str(headers, "x-ms-range").or_else(|| header_str(headers, "range"))?;
    let spec = raw.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let number = |s: &str| -> Option<Option<u64>> {
        let s = s.trim();
        if s.is_empty() {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    let (start, end) = (number(start)?, number(end)?);
    if start.is_none() && end.is_none() {
        return None;
    }
    Some((start, end))
}

/// Resolves a requested range against the length: `Ok(None)` for the whole file.
fn resolve_range(
    requested: Option<(Option<u64>, Option<u64>)>,
    len: u64,
) -> Result<Option<(u64, u64)>, ServiceError> {
    let unsatisfiable = || {
        ServiceError::invalid_range()
            .with_header(axum::http::header::CONTENT_RANGE, format!("bytes */{len}"))
    };
    match requested {
        None => Ok(None),
        Some((Some(start), end)) => {
            if start >= len || end.is_some_and(|e| e < start) {
                return Err(unsatisfiable());
            }
            Ok(Some((start, end.unwrap_or(len - 1).min(len - 1))))
        }
        Some((None, Some(suffix))) => {
            if suffix == 0 || len == 0 {
                return Err(unsatisfiable());
            }
            Ok(Some((len.saturating_sub(suffix), len - 1)))
        }
        Some((None, None)) => Ok(None),
    }
}

/// The range a read asks for (`x-ms-range` or `Range`) resolved against the file's length:
/// `Ok(None)` for the whole file, `InvalidRange` when it cannot be served.
pub(crate) fn range_of(headers: &HeaderMap, len: u64) -> Result<Option<(u64, u64)>, ServiceError> {
    resolve_range(requested_range(headers), len)
}

/// Whether a ranged read asks for the range's MD5 (`x-ms-range-get-content-md5: true`);
/// `OutOfRangeInput` when the range is larger than the service hashes.
pub(crate) fn wants_range_md5(
    headers: &HeaderMap,
    range: Option<(u64, u64)>,
) -> Result<bool, ServiceError> {
    let Some((start, end)) = range else {
        return Ok(false);
    };
    let wanted = header_str(headers, "x-ms-range-get-content-md5").is_some_and(|v| v == "true");
    if wanted && end - start + 1 > MAX_RANGE_MD5 {
        return Err(ServiceError::new(
            StatusCode::BAD_REQUEST,
            "OutOfRangeInput",
            "One of the request inputs is out of range.",
        ));
    }
    Ok(wanted)
}

/// `length` bytes of committed content from `start` as a response body: streamed from disk,
/// or read whole and hashed when `with_md5` (then also returns the base64 MD5).
pub(crate) async fn content_body(
    blob: Option<&Path>,
    start: u64,
    length: u64,
    with_md5: bool,
) -> Result<(Body, Option<String>), ServiceError> {
    let Some(blob) = blob.filter(|_| length > 0) else {
        return Ok((Body::empty(), None));
    };
    let mut file = tokio::fs::File::open(blob)
        .await
        .map_err(|_| ServiceError::path_not_found())?;
    file.seek(SeekFrom::Start(start)).await?;
    if with_md5 {
        let mut bytes = Vec::with_capacity(length as usize);
        file.take(length).read_to_end(&mut bytes).await?;
        let md5 = STANDARD.encode(Md5::digest(&bytes));
        Ok((Body::from(bytes), Some(md5)))
    } else {
        let stream = ReaderStream::with_capacity(file.take(length), 256 * 1024);
        Ok((Body::from_stream(stream), None))
    }
}

/// `GET`: the committed content, whole or a range, streamed from disk.
pub(crate) async fn read(
    state: &DfsState,
    headers: &HeaderMap,
    at: At<'_>,
) -> Result<Response, ServiceError> {
    let (meta, blob) = state.store.path(at.account, at.fs, at.path)?;
    if let Some(not_modified) = read_conditions(headers, &meta)? {
        return Ok(not_modified);
    }
    let range = match meta.kind {
        Kind::File => range_of(headers, meta.len)?,
        Kind::Directory => None,
    };
    let (start, length) = match range {
        Some((start, end)) => (start, end - start + 1),
        None => (0, meta.len),
    };
    let want_range_md5 = wants_range_md5(headers, range)?;
    let (body, range_md5) = content_body(blob.as_deref(), start, length, want_range_md5).await?;
    let status = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut response = empty(status);
    *response.body_mut() = body;
    describe(&mut response, &meta);
    set(&mut response, "content-length", &length.to_string());
    set(&mut response, "accept-ranges", "bytes");
    if let Some((first, last)) = range {
        set(
            &mut response,
            "content-range",
            &format!("bytes {first}-{last}/{}", meta.len),
        );
        if let Some(md5) = &meta.content.content_md5 {
            set(&mut response, "x-ms-content-md5", md5);
        }
        if let Some(md5) = range_md5 {
            set(&mut response, "content-md5", &md5);
        }
    } else if let Some(md5) = &meta.content.content_md5 {
        set(&mut response, "content-md5", md5);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn range(value: &str, len: u64) -> Result<Option<(u64, u64)>, &'static str> {
        let mut headers = HeaderMap::new();
        headers.insert("range", HeaderValue::from_str(value).unwrap());
        resolve_range(requested_range(&headers), len).map_err(|e| e.code)
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-4", 10), Ok(Some((0, 4))));
        assert_eq!(range("bytes=5-", 10), Ok(Some((5, 9))));
        assert_eq!(range("bytes=5-100", 10), Ok(Some((5, 9))));
        assert_eq!(range("bytes=-3", 10), Ok(Some((7, 9))));
        assert_eq!(range("bytes=10-", 10), Err("InvalidRange"));
        assert_eq!(range("bytes=0-", 0), Err("InvalidRange"));
        assert_eq!(range("items=0-1", 10), Ok(None));
        assert_eq!(range("bytes=0-1,3-4", 10), Ok(None));
    }
}
