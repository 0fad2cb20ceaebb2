//! The ADLS Gen2 DFS protocol, sans I/O: request builders and response interpreters.
//!
//! Requests carry `x-ms-version` and an `x-ms-client-request-id` made of the run ID and a
//! counter, and no credential: the host authorizes them at the boundary. Error responses become [`StorageError`]s with the
//! service's code (the `x-ms-error-code` header, else the JSON body), the first line of its
//! message, its request ID, and a hint for well-known codes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use crate::model::{
    AccessControl, Account, CredentialKind, Method, Request, Response, StorageError,
};
use crate::naming::{encode_path, url};

/// The service's code for an expired, malformed or otherwise refused bearer token.
pub const TOKEN_REFUSED: &str = "InvalidAuthenticationInfo";

/// The REST API version sent in `x-ms-version`.
pub const VERSION: &str = "2023-11-03";

/// Base64 of an MD5 digest.
pub fn encode_md5(digest: &[u8]) -> String {
    BASE64.encode(digest)
}

/// Bytes left as they are in a query parameter value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Builds DFS requests for one file system and interprets their responses.
#[derive(Clone, Debug)]
pub struct Dfs {
    endpoint: String,
    file_system: String,
    account_name: String,
    credential: CredentialKind,
    identity: String,
    run_id: String,
    requests: u64,
    /// Permissions and ACL of what this driver creates.
    access: AccessControl,
    /// Whether the driver is aimed at the Blob endpoint, for hints that name the endpoint's
    /// field and the kind of container.
    through_blob: bool,
}

/// A page of a listing: each path with whether it is a directory, and the continuation
/// token of the next page.
pub type ListingPage = (Vec<(String, bool)>, Option<String>);

/// What `HEAD` says of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Properties {
    /// The `ETag`, for `If-Match`.
    pub etag: String,
    /// The file's committed length.
    pub length: u64,
    /// Whether the path is a directory (`x-ms-resource-type: directory`).
    pub directory: bool,
    /// The stored `Content-MD5` (base64), when the service reports one.
    pub content_md5: Option<String>,
    /// User-defined metadata as the Blob endpoint reports it (`x-ms-meta-*`: name without
    /// the prefix, value as sent); the DFS endpoint reports none this way.
    pub metadata: Vec<(String, String)>,
}

impl Dfs {
    /// A protocol driver for `file_system` at `endpoint` (no trailing slash) of `account`.
    /// The account's name, credential kind and identity only go into hints; the run ID
    /// prefixes client request IDs.
    pub fn new(endpoint: &str, file_system: &str, account: &Account, run_id: &str) -> Dfs {
        Dfs {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            file_system: file_system.to_owned(),
            account_name: account.account_name.clone(),
            credential: account.credential,
            identity: account.identity.clone(),
            run_id: run_id.to_owned(),
            requests: 0,
            access: AccessControl::default(),
            through_blob: false,
        }
    }

    /// The same driver aimed at the Blob endpoint (reads, `HEAD` and deletes have the same
    /// shape there): its hints name `account.blob_endpoint` and the container.
    pub fn through_blob(mut self) -> Dfs {
        self.through_blob = true;
        self
    }

    /// The same driver, creating files and directories with `access`'s permissions and
    /// umask, and offering its ACL ([`set_acl`](Dfs::set_acl)).
    pub fn with_access(mut self, access: AccessControl) -> Dfs {
        self.access = access;
        self
    }

    /// `x-ms-permissions` and `x-ms-umask` of a create, when the job gives them.
    fn add_creation_access(&self, req: &mut Request) {
        for (name, value) in [
            ("x-ms-permissions", &self.access.permissions),
            ("x-ms-umask", &self.access.umask),
        ] {
            if let Some(value) = value {
                req.headers.push((name.into(), value.clone()));
            }
        }
    }

    fn request(&mut self, method: Method, path: &str, query: &str) -> Request {
        let mut url = url(&self.endpoint, &self.file_system, path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        self.request_to(method, url)
    }

    fn request_to(&mut self, method: Method, url: String) -> Request {
        self.requests += 1;
        Request {
            method,
            url,
            headers: vec![
                ("x-ms-version".into(), VERSION.into()),
                (
                    "x-ms-client-request-id".into(),
                    format!("{}-{}", self.run_id, self.requests),
                ),
            ],
            body: Vec::new(),
        }
    }

    /// `PUT ?resource=file`: creates (or, without `if_none_match`, truncates) a file.
    pub fn create_file(&mut self, path: &str, if_none_match: bool) -> Request {
        let mut req = self.request(Method::Put, path, "resource=file");
        self.add_creation_access(&mut req);
        if if_none_match {
            req.headers.push(("If-None-Match".into(), "*".into()));
        }
        req
    }

    /// `PATCH ?action=append&position=N` with `x-ms-content-crc64` (the block's CRC-64, 8
    /// bytes little-endian), which the service checks; the block itself goes as the body.
    pub fn append(&mut self, path: &str, position: u64, crc64: &[u8]) -> Request {
        let mut req = self.request(
            Method::Patch,
            path,
            &format!("action=append&position={position}"),
        );
        req.headers
            .push(("x-ms-content-crc64".into(), BASE64.encode(crc64)));
        req
    }

    /// `PATCH ?action=flush&position=N&close=true`: commits the data appended up to
    /// `position`, stores `md5` (of the whole file) when given, sets the content type to
    /// `text/csv`, and requires `if_match` as the file's ETag when given.
    pub fn flush(
        &mut self,
        path: &str,
        position: u64,
        md5: Option<&[u8]>,
        if_match: Option<&str>,
    ) -> Request {
        let mut req = self.request(
            Method::Patch,
            path,
            &format!("action=flush&position={position}&close=true"),
        );
        if let Some(md5) = md5 {
            req.headers
                .push(("x-ms-content-md5".into(), BASE64.encode(md5)));
        }
        req.headers
            .push(("x-ms-content-type".into(), "text/csv".into()));
        if let Some(etag) = if_match {
            req.headers.push(("If-Match".into(), etag.into()));
        }
        req
    }

    /// `PUT {dest}?mode=legacy` with `x-ms-rename-source: /{fs}/{source}`: renames `source`
    /// onto `dest`, replacing an existing file.
    pub fn rename(&mut self, source: &str, dest: &str) -> Request {
        let rename_source = format!(
            "/{}/{}",
            encode_path(&self.file_system),
            encode_path(source)
        );
        let mut req = self.request(Method::Put, dest, "mode=legacy");
        req.headers
            .push(("x-ms-rename-source".into(), rename_source));
        req
    }

    /// `HEAD`: the path's properties.
    pub fn get_properties(&mut self, path: &str) -> Request {
        self.request(Method::Head, path, "")
    }

    /// `GET` with `Range: bytes={first}-{last}` (inclusive).
    pub fn read(&mut self, path: &str, first: u64, last: u64) -> Request {
        let mut req = self.request(Method::Get, path, "");
        req.headers
            .push(("Range".into(), format!("bytes={first}-{last}")));
        req
    }

    /// `HEAD {fs}?resource=filesystem`: the file system's properties, among them
    /// `x-ms-namespace-enabled`.
    pub fn get_filesystem_properties(&mut self) -> Request {
        let url = format!(
            "{}/{}?resource=filesystem",
            self.endpoint,
            encode_path(&self.file_system)
        );
        self.request_to(Method::Head, url)
    }

    /// `DELETE`: removes a file.
    pub fn delete(&mut self, path: &str) -> Request {
        self.request(Method::Delete, path, "")
    }

    /// `GET {fs}?resource=filesystem&directory=…&recursive=false`: one page of the paths
    /// directly in `directory` (the root when `None`), from `continuation` when given.
    pub fn list_paths(&mut self, directory: Option<&str>, continuation: Option<&str>) -> Request {
        let mut url = format!(
            "{}/{}?resource=filesystem&recursive=false",
            self.endpoint,
            encode_path(&self.file_system)
        );
        if let Some(dir) = directory {
            url.push_str("&directory=");
            url.extend(utf8_percent_encode(dir, QUERY_VALUE));
        }
        if let Some(token) = continuation {
            url.push_str("&continuation=");
            url.extend(utf8_percent_encode(token, QUERY_VALUE));
        }
        self.request_to(Method::Get, url)
    }

    /// Interprets a listing page: the names of its files (directories left out) and the
    /// continuation token of the next page, if any.
    pub fn paths(&self, resp: &Response) -> Result<(Vec<String>, Option<String>), StorageError> {
        let (entries, next) = self.entries(resp)?;
        let files = entries
            .into_iter()
            .filter(|(_, dir)| !dir)
            .map(|(name, _)| name);
        Ok((files.collect(), next))
    }

    /// Every path of a page of `list_paths`, with whether it is a directory, and the
    /// continuation token.
    pub fn entries(&self, resp: &Response) -> Result<ListingPage, StorageError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            paths: Vec<Entry>,
        }
        #[derive(Deserialize)]
        struct Entry {
            name: String,
            #[serde(default, rename = "isDirectory")]
            is_directory: Option<serde_json::Value>,
        }
        let page: Page = serde_json::from_slice(&resp.body).map_err(|e| {
            StorageError::unexpected(
                "list target directory",
                resp.status,
                format!("the listing is not the JSON expected: {e}"),
            )
        })?;
        let names = page
            .paths
            .into_iter()
            .map(|e| {
                let directory = matches!(&e.is_directory, Some(serde_json::Value::Bool(true)))
                    || matches!(&e.is_directory, Some(serde_json::Value::String(s)) if s == "true");
                (e.name, directory)
            })
            .collect();
        let next = resp
            .header("x-ms-continuation")
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        Ok((names, next))
    }

    /// Whether the service refused the bearer token (401 `InvalidAuthenticationInfo`): an
    /// expired or revoked token, which a fresh one may cure.
    pub fn token_refused(&self, resp: &Response) -> bool {
        resp.status == 401 && self.error_code(resp) == TOKEN_REFUSED
    }

    /// The service's error code: `x-ms-error-code`, else the JSON body's; empty when none.
    pub fn error_code(&self, resp: &Response) -> String {
        resp.header("x-ms-error-code")
            .map(str::to_owned)
            .or_else(|| {
                serde_json::from_slice::<ErrorBody>(&resp.body)
                    .ok()
                    .and_then(|b| b.error)
                    .and_then(|b| b.code)
            })
            .unwrap_or_default()
    }

    /// `Ok` for a 2xx response, else the storage error it reports.
    pub fn check(&self, resp: &Response, operation: &str) -> Result<(), StorageError> {
        if (200..300).contains(&resp.status) {
            Ok(())
        } else {
            Err(self.error(resp, operation))
        }
    }

    /// Interprets a `HEAD` response: `None` when the path does not exist (404).
    pub fn properties(&self, resp: &Response) -> Result<Option<Properties>, StorageError> {
        const OPERATION: &str = "get properties of target";
        if resp.status == 404 {
            return Ok(None);
        }
        self.check(resp, OPERATION)?;
        let etag = resp.header("ETag").unwrap_or_default().to_owned();
        let length = resp
            .header("Content-Length")
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| {
                StorageError::unexpected(
                    OPERATION,
                    resp.status,
                    "the response has no valid Content-Length",
                )
            })?;
        let directory = resp
            .header("x-ms-resource-type")
            .is_some_and(|t| t.eq_ignore_ascii_case("directory"));
        let content_md5 = resp
            .header("Content-MD5")
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned);
        let metadata = resp
            .headers
            .iter()
            .filter_map(|(name, value)| {
                const PREFIX: &str = "x-ms-meta-";
                let prefix = name.get(..PREFIX.len())?;
                prefix
                    .eq_ignore_ascii_case(PREFIX)
                    .then(|| (name[PREFIX.len()..].to_owned(), value.clone()))
            })
            .collect();
        Ok(Some(Properties {
            etag,
            length,
            directory,
            content_md5,
            metadata,
        }))
    }

    /// The storage error an error response reports, with a hint where one helps.
    pub fn error(&self, resp: &Response, operation: &str) -> StorageError {
        let body = serde_json::from_slice::<ErrorBody>(&resp.body)
            .ok()
            .and_then(|b| b.error);
        let code = resp
            .header("x-ms-error-code")
            .map(str::to_owned)
            .or_else(|| body.as_ref().and_then(|b| b.code.clone()))
            .unwrap_or_default();
        // The Blob endpoint answers in XML; the DFS endpoint in JSON.
        let service_message = body
            .and_then(|b| b.message)
            .or_else(|| crate::blob::error_message(&resp.body))
            .unwrap_or_default();
        let mut lines = service_message.lines();
        let first = lines.next().unwrap_or_default().trim();
        let request_id = lines
            .find_map(|l| l.trim().strip_prefix("RequestId:"))
            .map(str::trim)
            .or_else(|| resp.header("x-ms-request-id"))
            .filter(|id| !id.is_empty());
        let mut message = if first.is_empty() {
            format!("the service answered {}", status_text(resp.status))
        } else {
            first.to_owned()
        };
        if let Some(id) = request_id {
            message.push_str(&format!(" (RequestId:{id})"));
        }
        if let Some(hint) = self.hint(&code, resp.status) {
            message.push_str("; ");
            message.push_str(&hint);
        }
        StorageError {
            operation: operation.into(),
            status: resp.status,
            code,
            message,
        }
    }

    fn hint(&self, code: &str, status: u16) -> Option<String> {
        let fs = &self.file_system;
        let account = &self.account_name;
        let (endpoint_field, kind) = if self.through_blob {
            ("account.blob_endpoint", "container")
        } else {
            ("account.dfs_endpoint", "file system")
        };
        let role = || match self.credential {
            CredentialKind::Sas => format!(
                "the SAS does not allow this: give one whose permissions (sp) include read, \
                 add, create, write, delete and list, for {kind} `{fs}` of account \
                 `{account}` (srt=sco for an account SAS)"
            ),
            CredentialKind::SharedKey => format!(
                "the account key of `{account}` was refused: check that account access keys \
                 are allowed on the account"
            ),
            _ => format!(
                "grant {} the Storage Blob Data Contributor role on storage account \
                 `{account}` (or on {kind} `{fs}`)",
                self.identity
            ),
        };
        let token = || match self.credential {
            CredentialKind::SharedKey => format!(
                "the signature was refused: check that account.account_key is a key of \
                 storage account `{account}`"
            ),
            CredentialKind::Sas => format!(
                "the SAS was refused: check that account.sas_token was made for storage \
                 account `{account}` with its current key, and has not expired"
            ),
            _ => format!(
                "the token of {} was refused: check its tenant and app, and that the endpoint \
                 belongs to that tenant",
                self.identity
            ),
        };
        Some(match code {
            "FilesystemNotFound" | "ContainerNotFound" if self.through_blob => format!(
                "create container `{fs}`, or check {endpoint_field} and output.file_system / \
                 account.container"
            ),
            "FilesystemNotFound" | "ContainerNotFound" => {
                format!("create file system `{fs}` or check output.file_system / account.container")
            }
            "AuthorizationPermissionMismatch" | "AuthorizationFailure" => role(),
            "InvalidAuthenticationInfo" | "AuthenticationFailed" => token(),
            "PathNotFound" | "SourcePathNotFound" | "BlobNotFound" => {
                "the file is gone: was it deleted or moved while the run wrote it?".into()
            }
            "ConditionNotMet" => {
                "the file changed while this run appended to it (its ETag no longer \
                 matches): run again"
                    .into()
            }
            "InvalidFlushPosition" => {
                "the data appended does not end where the flush says: another writer may be \
                 writing the same path"
                    .into()
            }
            "PathAlreadyExists" => "a file already exists at this path".into(),
            "RenameDestinationParentPathNotFound" => {
                "the target's directory vanished during the run".into()
            }
            "ResourceTypeMismatch" | "PathConflict" => {
                "a directory and a file clash at this path: choose another output.file_name".into()
            }
            "LeaseIdMissing" | "LeaseAlreadyPresent" | "LeaseNotPresent" => {
                "the file is leased by another client: wait for the lease to end".into()
            }
            "ServerBusy" | "OperationTimedOut" | "InternalError" => {
                "the service is busy or failing: retry the run later".into()
            }
            "AccountIsDisabled" => "the storage account is disabled".into(),
            "" => match status {
                401 => token(),
                403 => role(),
                404 => format!("check {endpoint_field} and that {kind} `{fs}` exists"),
                500..=599 => "the service is busy or failing: retry the run later".into(),
                _ => return None,
            },
            _ => return None,
        })
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: Option<String>,
    message: Option<String>,
}

fn status_text(status: u16) -> String {
    let reason = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return format!("HTTP {status} without error details"),
    };
    format!("HTTP {status} {reason} without error details")
}

mod output;
pub use output::Destination;

#[cfg(test)]
mod tests;
