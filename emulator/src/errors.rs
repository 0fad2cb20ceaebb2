//! Storage service errors: the codes, statuses and messages of the ADLS Gen2 DFS endpoint, and
//! their JSON rendering `{"error":{"code","message"}}` with `x-ms-error-code`.

use std::time::SystemTime;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use crate::timefmt;

/// An error answer of the storage service.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} ({status}): {message}")]
pub(crate) struct ServiceError {
    /// HTTP status.
    pub status: StatusCode,
    /// Service error code (`x-ms-error-code`).
    pub code: &'static str,
    /// First line of the message; `RequestId` and `Time` lines are added when rendered.
    pub message: String,
    /// Extra response headers (`WWW-Authenticate`, `Content-Range`).
    pub headers: Vec<(HeaderName, String)>,
}

macro_rules! service_errors {
    ($($name:ident => $status:ident, $code:literal, $message:literal;)*) => {
        impl ServiceError {
            $(
                #[doc = concat!("`", $code, "`: ", $message)]
                pub(crate) fn $name() -> Self {
                    Self::new(StatusCode::$status, $code, $message)
                }
            )*
        }
    };
}

service_errors! {
    condition_not_met => PRECONDITION_FAILED, "ConditionNotMet",
        "The condition specified using HTTP conditional header(s) is not met.";
    source_condition_not_met => PRECONDITION_FAILED, "SourceConditionNotMet",
        "The source condition specified using HTTP conditional header(s) is not met.";
    content_length_must_be_zero => BAD_REQUEST, "ContentLengthMustBeZero",
        "The Content-Length request header must be zero.";
    directory_not_empty => CONFLICT, "DirectoryNotEmpty",
        "The recursive query parameter value must be true to delete a non-empty directory.";
    filesystem_already_exists => CONFLICT, "FilesystemAlreadyExists",
        "The specified filesystem already exists.";
    filesystem_not_found => NOT_FOUND, "FilesystemNotFound",
        "The specified filesystem does not exist.";
    internal_error => INTERNAL_SERVER_ERROR, "InternalError",
        "The server encountered an internal error. Please retry the request.";
    invalid_flush_position => BAD_REQUEST, "InvalidFlushPosition",
        "The uploaded data is not contiguous or the position query parameter value is not equal to the length of the file after appending the uploaded data.";
    invalid_header_value => BAD_REQUEST, "InvalidHeaderValue",
        "The value for one of the HTTP headers is not in the correct format.";
    invalid_query_parameter_value => BAD_REQUEST, "InvalidQueryParameterValue",
        "Value for one of the query parameters specified in the request URI is invalid.";
    invalid_range => RANGE_NOT_SATISFIABLE, "InvalidRange",
        "The range specified is invalid for the current size of the resource.";
    invalid_rename_source_path => CONFLICT, "InvalidRenameSourcePath",
        "The source directory cannot be the same as the destination directory, nor can the destination be a subdirectory of the source directory.";
    invalid_resource_name => BAD_REQUEST, "InvalidResourceName",
        "The specified resource name contains invalid characters.";
    invalid_source_or_destination_resource_type => CONFLICT, "InvalidSourceOrDestinationResourceType",
        "The source and destination resource type must be identical.";
    invalid_source_uri => BAD_REQUEST, "InvalidSourceUri",
        "The source URI is invalid.";
    invalid_uri => BAD_REQUEST, "InvalidUri",
        "The request URI is invalid.";
    crc64_mismatch => BAD_REQUEST, "Crc64Mismatch",
        "The CRC64 value specified in the request did not match with the CRC64 value calculated by the server.";
    md5_mismatch => BAD_REQUEST, "Md5Mismatch",
        "The MD5 value specified in the request did not match with the MD5 value calculated by the server.";
    missing_required_header => BAD_REQUEST, "MissingRequiredHeader",
        "An HTTP header that's mandatory for this request is not specified.";
    missing_content_length => LENGTH_REQUIRED, "MissingContentLengthHeader",
        "Content-Length HTTP header is missing.";
    missing_required_query_parameter => BAD_REQUEST, "MissingRequiredQueryParameter",
        "A query parameter that's mandatory for this request is not specified.";
    path_already_exists => CONFLICT, "PathAlreadyExists",
        "The specified path already exists.";
    path_conflict => CONFLICT, "PathConflict",
        "The specified path, or an element of the path, exists and its resource type is invalid for this operation.";
    path_not_found => NOT_FOUND, "PathNotFound",
        "The specified path does not exist.";
    rename_destination_parent_path_not_found => NOT_FOUND, "RenameDestinationParentPathNotFound",
        "The parent directory of the destination path does not exist.";
    request_body_too_large => PAYLOAD_TOO_LARGE, "RequestBodyTooLarge",
        "The request body is too large and exceeds the maximum permissible limit.";
    resource_not_found => NOT_FOUND, "ResourceNotFound",
        "The specified resource does not exist.";
    server_busy => SERVICE_UNAVAILABLE, "ServerBusy",
        "The server is currently unable to receive requests. Please retry your request.";
    source_path_not_found => NOT_FOUND, "SourcePathNotFound",
        "The source path for a rename operation does not exist.";
    unsupported_http_verb => METHOD_NOT_ALLOWED, "UnsupportedHttpVerb",
        "The resource doesn't support the specified HTTP verb.";
}

impl ServiceError {
    /// An error with any status, code and message.
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// Adds a response header.
    pub(crate) fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Renders the error as the service does: JSON body (none for `HEAD`), `x-ms-error-code`.
    pub(crate) fn into_response(self, request_id: &str, head: bool) -> Response {
        let message = stamp(&self.message, request_id);
        let body = json!({"error": {"code": self.code, "message": message}}).to_string();
        let code = self.code;
        self.render(code, "application/json;charset=utf-8", body, head)
    }

    /// The error's status and extra headers with `body` (dropped for `HEAD`, whose length
    /// still shows) and `x-ms-error-code: code`: the part the JSON (DFS) and XML (Blob)
    /// renderings share.
    pub(crate) fn render(
        self,
        code: &'static str,
        content_type: &'static str,
        body: String,
        head: bool,
    ) -> Response {
        let length = body.len();
        let mut response = Response::new(if head {
            Body::empty()
        } else {
            Body::from(body)
        });
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        headers.insert("x-ms-error-code", HeaderValue::from_static(code));
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

/// A service error message as the service sends it: the text, then the request ID and the
/// time on lines of their own.
pub(crate) fn stamp(message: &str, request_id: &str) -> String {
    format!(
        "{message}\nRequestId:{request_id}\nTime:{}",
        timefmt::iso8601_7(SystemTime::now())
    )
}

impl From<std::io::Error> for ServiceError {
    fn from(err: std::io::Error) -> Self {
        tracing::error!(error = %err, "storage I/O failed");
        Self::internal_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn renders_json_with_request_id_and_time() {
        let response = ServiceError::path_not_found().into_response("rid-1", false);
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["x-ms-error-code"], "PathNotFound");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "PathNotFound");
        let message = v["error"]["message"].as_str().unwrap();
        let lines: Vec<&str> = message.split('\n').collect();
        assert_eq!(lines[0], "The specified path does not exist.");
        assert_eq!(lines[1], "RequestId:rid-1");
        assert!(lines[2].starts_with("Time:") && lines[2].ends_with('Z'));
        assert_eq!(lines[2].len(), "Time:2021-04-22T07:34:27.0577077Z".len());
    }

    #[tokio::test]
    async fn head_has_no_body() {
        let response = ServiceError::path_not_found().into_response("rid", true);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(body.is_empty());
    }
}
