//! The one place that words a failed run's errors for people: a guest's job error, a token
//! failure, a refused request. Every message names what failed and keeps the service's
//! own code.

use crate::capabilities::bindings::errors;
use crate::capabilities::bindings::exports::adls::writeback::job::JobError;
use crate::runner::report::FailureKind;

/// A one-line description of a guest's job error.
pub fn describe_job_error(error: &JobError) -> (FailureKind, String) {
    match error {
        JobError::Invalid(list) => {
            let lines: Vec<String> = list
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            (
                FailureKind::Invalid,
                format!("the job is invalid: {}", lines.join("; ")),
            )
        }
        JobError::Ownership(message) => (FailureKind::Ownership, message.clone()),
        JobError::Source(e) => (FailureKind::Source, source_message(e)),
        JobError::Auth(e) => (FailureKind::Auth, auth_message(e)),
        JobError::Http(e) => (FailureKind::Http, http_message(e)),
        JobError::Storage(e) => (
            FailureKind::Storage,
            format!(
                "{} failed: {} ({}): {}",
                e.operation, e.code, e.status, e.message
            ),
        ),
        JobError::Data(e) => (
            FailureKind::Data,
            format!(
                "bad CSV at line {} (byte {}): {}",
                e.line, e.byte_offset, e.message
            ),
        ),
    }
}

fn source_message(e: &errors::SourceError) -> String {
    match e {
        errors::SourceError::NotFound(m) => format!("dataset not found: {m}"),
        errors::SourceError::Denied(m) => format!("dataset access denied: {m}"),
        errors::SourceError::NotGranted(m) => format!("dataset not granted: {m}"),
        errors::SourceError::Unavailable(m) => format!("dataset source failed: {m}"),
    }
}

/// A one-line description of a credential failure.
pub fn auth_message(e: &errors::AuthError) -> String {
    match e {
        errors::AuthError::NotGranted(m) => format!("no credential granted: {m}"),
        errors::AuthError::Rejected(m) => format!("the credential was refused: {m}"),
        errors::AuthError::Unavailable(m) => format!("no credential could be had: {m}"),
    }
}

fn http_message(e: &errors::HttpError) -> String {
    match e {
        errors::HttpError::Denied(m) => format!("request denied by the sandbox: {m}"),
        errors::HttpError::InvalidRequest(m) => format!("invalid request: {m}"),
        errors::HttpError::Timeout(m) => format!("request timed out: {m}"),
        errors::HttpError::Connection(m) => format!("connection failed: {m}"),
        errors::HttpError::Credential(e) => auth_message(e),
    }
}
