//! Lease Blob and Lease Container (`PUT ?comp=lease` with `x-ms-lease-action`): acquire,
//! renew, change, release and break, over the lease state of [`crate::lease`] that the DFS
//! API's lease headers share.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::conditions::Conditions;
use crate::dfs::{DfsState, empty, header_str, set, set_version};
use crate::errors::ServiceError;
use crate::lease;

/// What a lease operation answers besides the version.
struct Done {
    status: StatusCode,
    /// `x-ms-lease-id` (acquire, renew, change).
    id: Option<String>,
    /// `x-ms-lease-time` (break).
    time: Option<u64>,
}

/// `PUT ?comp=lease` on a blob (`path`) or on a container (`path` is `None`).
pub(crate) fn lease(
    state: &DfsState,
    headers: &HeaderMap,
    account: &str,
    fs: &str,
    path: Option<&str>,
) -> Result<Response, ServiceError> {
    let action = header_str(headers, "x-ms-lease-action")
        .ok_or_else(ServiceError::missing_required_header)?
        .trim()
        .to_ascii_lowercase();
    let id = header_str(headers, "x-ms-lease-id").map(str::to_string);
    let required_id = || id.clone().ok_or_else(ServiceError::missing_required_header);
    let conditions = Conditions::from_headers(headers);
    let store = &state.store;
    let (done, etag, modified) = match action.as_str() {
        "acquire" => {
            let duration = lease::duration_header(headers)?;
            let proposed = lease::proposed_header(headers)?;
            store.lease_path(account, fs, path, &conditions, |slot, now| {
                let id = lease::acquire(slot, proposed, duration, now)?;
                Ok(Done {
                    status: StatusCode::CREATED,
                    id: Some(id),
                    time: None,
                })
            })?
        }
        "renew" => {
            let id = required_id()?;
            store.lease_path(account, fs, path, &conditions, |slot, now| {
                lease::renew(slot, &id, now)?;
                Ok(Done {
                    status: StatusCode::OK,
                    id: Some(id),
                    time: None,
                })
            })?
        }
        "change" => {
            let id = required_id()?;
            let proposed = lease::proposed_header(headers)?
                .ok_or_else(ServiceError::missing_required_header)?;
            store.lease_path(account, fs, path, &conditions, |slot, now| {
                lease::change(slot, &id, proposed.clone(), now)?;
                Ok(Done {
                    status: StatusCode::OK,
                    id: Some(proposed),
                    time: None,
                })
            })?
        }
        "release" => {
            let id = required_id()?;
            store.lease_path(account, fs, path, &conditions, |slot, _| {
                lease::release(slot, &id)?;
                Ok(Done {
                    status: StatusCode::OK,
                    id: None,
                    time: None,
                })
            })?
        }
        "break" => {
            let period = lease::break_period_header(headers)?;
            store.lease_path(account, fs, path, &conditions, |slot, now| {
                let time = lease::break_lease(slot, period, now)?;
                Ok(Done {
                    status: StatusCode::ACCEPTED,
                    id: None,
                    time: Some(time),
                })
            })?
        }
        _ => return Err(ServiceError::invalid_header_value()),
    };
    let mut response = empty(done.status);
    set_version(&mut response, &etag, modified);
    if let Some(id) = &done.id {
        set(&mut response, "x-ms-lease-id", id);
    }
    if let Some(time) = done.time {
        set(&mut response, "x-ms-lease-time", &time.to_string());
    }
    Ok(response)
}
