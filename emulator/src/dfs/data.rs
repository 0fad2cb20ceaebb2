//! File data: append (`PATCH ?action=append`), flush (`PATCH ?action=flush`) and read (`GET`).

use std::io::SeekFrom;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt;
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::path::{describe, read_conditions};
use super::{At, DfsState, Query, empty, header_str, set, set_version};
use crate::conditions::Conditions;
use crate::crc64::{self, Crc64};
use crate::errors::ServiceError;
use crate::lease::WriteLease;
use crate::store::content::Staged;
use crate::store::model::Kind;
use crate::store::{Content, FlushRequest, StagingSink};
use crate::structured;

/// The largest append the service takes (4000 MiB).
const MAX_APPEND: u64 = 4000 * 1024 * 1024;

/// Largest range whose MD5 `x-ms-range-get-content-md5` may ask for.
const MAX_RANGE_MD5: u64 = 4 * 1024 * 1024;

/// `Content-Length`, required on writes.
pub(crate) fn content_length(headers: &HeaderMap) -> Result<Option<u64>, ServiceError> {
    header_str(headers, "content-length")
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| ServiceError::invalid_header_value())
        })
        .transpose()
}

/// The integrity headers of an append: checked against the body, for that request only.
#[derive(Debug, Default)]
pub(crate) struct Integrity {
    /// `Content-MD5`.
    md5: Option<[u8; 16]>,
    /// `x-ms-content-crc64`.
    crc64: Option<u64>,
}

impl Integrity {
    /// Parses `Content-MD5` and `x-ms-content-crc64`; `InvalidHeaderValue` when malformed.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Self, ServiceError> {
        let md5 = header_str(headers, "content-md5")
            .map(|v| {
                STANDARD
                    .decode(v.trim())
                    .ok()
                    .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
                    .ok_or_else(ServiceError::invalid_header_value)
            })
            .transpose()?;
        let crc64 = header_str(headers, "x-ms-content-crc64")
            .map(|v| crc64::from_header(v).ok_or_else(ServiceError::invalid_header_value))
            .transpose()?;
        Ok(Self { md5, crc64 })
    }
}

/// A received append body: its data, length and the hashes computed over it.
#[derive(Debug)]
pub(crate) struct Received {
    /// The data.
    pub staged: Staged,
    /// Its length.
    pub len: u64,
    /// Computed only when the request sent `Content-MD5` or the caller asked (MD5 is slow).
    pub md5: Option<[u8; 16]>,
    /// Computed unless MD5 was asked for: the service answers one of the two.
    pub crc64: Option<u64>,
}

/// Streams a request body into `sink` once, hashing as it goes; checks the length and the
/// hashes the client sent; `always_md5` computes the MD5 also when none was sent. On error
/// the received data is discarded.
pub(crate) async fn receive(
    body: Body,
    mut sink: StagingSink,
    declared: u64,
    integrity: &Integrity,
    always_md5: bool,
) -> Result<Received, ServiceError> {
    let mut md5 = (always_md5 || integrity.md5.is_some()).then(Md5::new);
    let mut crc = (md5.is_none() || integrity.crc64.is_some()).then(Crc64::default);
    let mut received = 0u64;
    let mut stream = body.into_data_stream();
    let outcome: Result<(), ServiceError> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| ServiceError::invalid_header_value())?;
            received += chunk.len() as u64;
            if received > MAX_APPEND {
                return Err(ServiceError::request_body_too_large());
            }
            if let Some(md5) = &mut md5 {
                md5.update(&chunk);
            }
            if let Some(crc) = &mut crc {
                crc.update(&chunk);
            }
            sink.write(chunk).await?;
        }
        if received != declared {
            return Err(ServiceError::invalid_header_value());
        }
        Ok(())
    }
    .await;
    let md5: Option<[u8; 16]> = md5.map(|m| m.finalize().into());
    let crc64 = crc.map(|c| c.value());
    let checked = outcome.and_then(|()| {
        if integrity.md5.is_some() && integrity.md5 != md5 {
            return Err(ServiceError::md5_mismatch());
        }
        if integrity.crc64.is_some() && integrity.crc64 != crc64 {
            return Err(ServiceError::crc64_mismatch());
        }
        Ok(())
    });
    if let Err(e) = checked {
        sink.discard().await;
        return Err(e);
    }
    Ok(Received {
        staged: sink.finish().await?,
        len: received,
        md5,
        crc64,
    })
}

/// Receives a structured-message body (`x-ms-structured-body`) of `declared` bytes whose
/// content is `content_len` bytes: read whole, checked and decoded, then staged.
async fn receive_structured(
    body: Body,
    mut sink: StagingSink,
    declared: u64,
    content_len: u64,
) -> Result<Received, ServiceError> {
    let decoded = match axum::body::to_bytes(body, declared as usize + 1).await {
        Ok(bytes) if bytes.len() as u64 == declared => structured::decode(&bytes, content_len),
        Ok(_) | Err(_) => Err(ServiceError::invalid_header_value()),
    };
    let content = match decoded {
        Ok(content) => content,
        Err(e) => {
            sink.discard().await;
            return Err(e);
        }
    };
    let mut crc = Crc64::default();
    crc.update(&content);
    let len = content.len() as u64;
    sink.write(bytes::Bytes::from(content)).await?;
    Ok(Received {
        staged: sink.finish().await?,
        len,
        md5: None,
        crc64: Some(crc.value()),
    })
}

/// `x-ms-structured-content-length` of a structured upload, required.
fn structured_content_length(headers: &HeaderMap) -> Result<u64, ServiceError> {
    header_str(headers, "x-ms-structured-content-length")
        .ok_or_else(ServiceError::missing_required_header)?
        .trim()
        .parse()
        .map_err(|_| ServiceError::invalid_header_value())
}

/// A read's body as a structured message when the request asks for one
/// (`x-ms-structured-body`): sets `x-ms-structured-body`, `x-ms-structured-content-length`
/// (the content's length) and the encoded `Content-Length`.
pub(crate) async fn structure_response(
    headers: &HeaderMap,
    response: &mut Response,
    length: u64,
) -> Result<(), ServiceError> {
    if !structured::requested(headers)? {
        return Ok(());
    }
    let body = std::mem::replace(response.body_mut(), Body::empty());
    let content = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|_| ServiceError::internal_error())?;
    let encoded = structured::encode(&content, structured::SEGMENT_LEN);
    set(response, "content-length", &encoded.len().to_string());
    set(response, "x-ms-structured-body", structured::V1_CRC64);
    set(
        response,
        "x-ms-structured-content-length",
        &length.to_string(),
    );
    *response.body_mut() = Body::from(encoded);
    Ok(())
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
    let headers = request.headers();
    let declared = content_length(headers)?.ok_or_else(ServiceError::missing_content_length)?;
    if declared > MAX_APPEND {
        return Err(ServiceError::request_body_too_large());
    }
    if declared == 0 && !flush {
        return Err(ServiceError::invalid_header_value());
    }
    let integrity = Integrity::from_headers(headers)?;
    let lease = WriteLease::from_headers(headers)?;
    let held = state
        .store
        .check_appendable(at.account, at.fs, at.path, &lease)?;
    let structured = structured::requested(headers)?;
    let content_len = match structured {
        true => Some(structured_content_length(headers)?),
        false => None,
    };
    let sink = state.store.staging_sink().await?;
    let received = match content_len {
        Some(content_len) => {
            receive_structured(request.into_body(), sink, declared, content_len).await?
        }
        None => receive(request.into_body(), sink, declared, &integrity, false).await?,
    };
    let len = received.len;
    if len > 0 {
        // The store owns the staged data once the append is registered.
        let staged = received.staged.clone();
        if let Err(e) = state
            .store
            .register_append(at.account, at.fs, at.path, position, len, staged)
        {
            persist_discard(received.staged).await;
            return Err(e);
        }
    } else {
        persist_discard(received.staged).await;
    }
    let mut response = empty(StatusCode::ACCEPTED);
    if let Some(md5) = received.md5 {
        set(&mut response, "content-md5", &STANDARD.encode(md5));
    }
    if let Some(crc) = received.crc64 {
        set(&mut response, "x-ms-content-crc64", &crc64::to_header(crc));
    }
    set(&mut response, "x-ms-request-server-encrypted", "true");
    if structured {
        set(&mut response, "x-ms-structured-body", structured::V1_CRC64);
    }
    if flush {
        let request = FlushRequest {
            position: position + len,
            lease: lease.for_flush(held),
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

/// Removes the staging file of data that was not registered (nothing to do in memory).
async fn persist_discard(staged: Staged) {
    if let Some(file) = staged.file() {
        let _ = tokio::fs::remove_file(&file).await;
    }
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
        lease: WriteLease::from_headers(headers)?,
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

/// `length` bytes of committed content from `start` as a response body: streamed from disk
/// or from memory, or read whole and hashed when `with_md5` (then also returns the base64 MD5).
pub(crate) async fn content_body(
    content: Option<&Content>,
    start: u64,
    length: u64,
    with_md5: bool,
) -> Result<(Body, Option<String>), ServiceError> {
    let Some(content) = content.filter(|_| length > 0) else {
        return Ok((Body::empty(), None));
    };
    let file = match content {
        Content::File(file) => file,
        Content::Memory(chunks) => {
            let parts = chunks.slice(start, length);
            let md5 = with_md5.then(|| {
                let mut hasher = Md5::new();
                for part in &parts {
                    hasher.update(part);
                }
                STANDARD.encode(hasher.finalize())
            });
            let stream = futures::stream::iter(parts.into_iter().map(Ok::<_, std::io::Error>));
            return Ok((Body::from_stream(stream), md5));
        }
    };
    let mut file = tokio::fs::File::open(file)
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
    let (body, range_md5) = content_body(blob.as_ref(), start, length, want_range_md5).await?;
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
    structure_response(headers, &mut response, length).await?;
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
