//! The fault layer: middleware in front of every service router that asks the plan about each
//! request and injects the chosen fault.
//!
//! Error faults read and discard the request body, then answer in the service's own error
//! format, so the client sees the answer rather than a broken pipe, and the handler never runs.
//!
//! Drops close the connection from inside the HTTP server. A dropped connection gets an answer
//! that hyper refuses to send: its head carries two different `Content-Length` values, which
//! hyper detects while encoding the head, so it discards it and closes the connection before
//! writing a byte (for any method, `HEAD` included); its body also fails at once, in case the
//! head were ever sent. The client sees the connection close with no answer: reqwest reports an
//! error whose `is_request()` is true and `status()` is `None` (hyper's "connection closed
//! before message completed", or a reset when request bytes were still unread). A partial drop
//! (`body_bytes`) sends the head and up to that many body bytes, then fails the body: reqwest's
//! `send()` succeeds and reading the body fails (`is_body()`/`is_decode()`).

use std::io;
use std::sync::Arc;
use std::task::{Poll, ready};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use percent_encoding::percent_decode_str;
use serde_json::json;

use super::classify::classify;
use super::plan::{Fault, Service};
use super::state::{Faults, Incoming};
use crate::errors::ServiceError;
use crate::timefmt;

#[derive(Debug, Clone)]
struct Layer {
    service: Service,
    faults: Arc<Faults>,
}

/// Puts the fault layer in front of every route of `router`, the requests of `service`.
pub(crate) fn wrap(router: Router, service: Service, faults: Arc<Faults>) -> Router {
    router.layer(middleware::from_fn_with_state(
        Layer { service, faults },
        inject,
    ))
}

async fn inject(State(layer): State<Layer>, request: Request, next: Next) -> Response {
    let path = percent_decode_str(request.uri().path())
        .decode_utf8_lossy()
        .into_owned();
    let operation = classify(
        layer.service,
        request.method(),
        request.uri().path(),
        request.uri().query(),
        request.headers(),
    );
    let incoming = Incoming {
        service: layer.service,
        method: request.method().as_str(),
        operation,
        path: &path,
    };
    let Some(fault) = layer.faults.decide(&incoming) else {
        return next.run(request).await;
    };
    tracing::info!(service = ?layer.service, ?operation, %path, ?fault, "injecting a fault");
    match fault {
        Fault::ServerBusy { .. } | Fault::OperationTimedOut | Fault::InternalError => {
            let (parts, body) = request.into_parts();
            if drain(body).await.is_err() {
                return severed();
            }
            error_answer(layer.service, &parts, &fault)
        }
        Fault::DropRequest => {
            let mut body = request.into_body().into_data_stream();
            let _ = body.next().await;
            severed()
        }
        Fault::DropResponse { body_bytes } => {
            let head = request.method() == Method::HEAD;
            let response = next.run(request).await;
            match body_bytes {
                Some(keep) if !head => truncated(response, keep),
                _ => severed(),
            }
        }
        Fault::Slow { ms } => {
            let response = next.run(request).await;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            response
        }
    }
}

/// Reads a request body to its end, keeping nothing.
async fn drain(body: Body) -> Result<(), axum::Error> {
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        chunk?;
    }
    Ok(())
}

fn aborted() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "fault injection: connection dropped",
    )
}

/// An answer hyper will not send: it closes the connection instead (see the module docs).
fn severed() -> Response {
    let body = futures::stream::once(async { Err::<Bytes, io::Error>(aborted()) });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.append(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    headers.append(header::CONTENT_LENGTH, HeaderValue::from_static("1"));
    response
}

/// `response` with its body cut after `keep` bytes and the connection closed there.
fn truncated(response: Response, keep: u64) -> Response {
    let (mut parts, body) = response.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_none_or(|len| len <= keep) {
        // Without a length the missing end of a chunked body is what breaks the answer.
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    if matches!(
        parts.status,
        StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
    ) {
        return severed();
    }
    let mut inner = body.into_data_stream();
    let mut left = keep;
    let mut paused = false;
    let stream = futures::stream::poll_fn(move |cx| {
        while left > 0 {
            match ready!(inner.poll_next_unpin(cx)) {
                Some(Ok(mut chunk)) if !chunk.is_empty() => {
                    chunk.truncate(left.min(chunk.len() as u64) as usize);
                    left -= chunk.len() as u64;
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => left = 0,
            }
        }
        if !paused {
            // One pause lets hyper flush what it holds before the connection goes.
            paused = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Some(Err::<Bytes, io::Error>(aborted())))
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

/// The service's own error answer for an error fault.
fn error_answer(service: Service, request: &Parts, fault: &Fault) -> Response {
    let error = match fault {
        Fault::ServerBusy { .. } => ServiceError::server_busy(),
        Fault::OperationTimedOut => ServiceError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "OperationTimedOut",
            "The operation could not be completed within the permitted time.",
        ),
        _ => ServiceError::internal_error(),
    };
    let status = error.status;
    let mut response = match service {
        Service::Dfs | Service::Any => storage_error(error, request),
        Service::Login => entra_error(status, request),
        Service::Domo => crate::domo::error(status, request.uri.path(), &error.message),
    };
    if let Fault::ServerBusy {
        retry_after: Some(seconds),
    } = fault
    {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
    }
    response
}

/// A storage error with the headers the DFS endpoint puts on every answer: JSON for DFS
/// requests, XML for Blob requests (which share the listener).
fn storage_error(error: ServiceError, request: &Parts) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let head = request.method == Method::HEAD;
    let query = crate::dfs::Query::parse(request.uri.query());
    let blob = crate::blob::is_blob_request(&request.method, &query, &request.headers);
    let mut response = if blob {
        crate::blob::error_response(error, &request_id, head)
    } else {
        error.into_response(&request_id, head)
    };
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-ms-request-id", id);
    }
    let version = request.headers.get("x-ms-version").cloned();
    headers.insert(
        "x-ms-version",
        version.unwrap_or(HeaderValue::from_static(crate::dfs::DEFAULT_VERSION)),
    );
    if let Some(id) = request.headers.get("x-ms-client-request-id") {
        headers.insert("x-ms-client-request-id", id.clone());
    }
    if let Ok(date) = HeaderValue::from_str(&timefmt::rfc1123(SystemTime::now())) {
        headers.insert(header::DATE, date);
    }
    headers.insert(
        header::SERVER,
        HeaderValue::from_static(if blob {
            "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0"
        } else {
            "Windows-Azure-HDFS/1.0 Microsoft-HTTPAPI/2.0"
        }),
    );
    response
}

/// Entra ID's answer to a transient failure (`temporarily_unavailable`, AADSTS90033).
fn entra_error(status: StatusCode, request: &Parts) -> Response {
    let trace_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = request
        .headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let timestamp = timefmt::entra_timestamp(SystemTime::now());
    let body = json!({
        "error": "temporarily_unavailable",
        "error_description": format!(
            "AADSTS90033: A transient error has occurred. Please try again.\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
        ),
        "error_codes": [90033],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}
