//! A fake host for driver tests: a dataset in memory and an in-memory DFS file system that
//! plays the protocol (create, append, flush, rename, HEAD, ranged GET, delete, ETags,
//! `If-Match`, `x-ms-content-crc64`, directory listing with paging), digests and a pipeline
//! as the host provides them (requests in flight answered first in, first out, or last in,
//! first out with [`FakeHost::out_of_order`]), with failure injection: any
//! response ([`Fault`]), a request that succeeds but whose response is lost while the host
//! retries it ([`Replay`]), and refused credentials (the fake authorizes each request when it
//! is sent, as the host does, and answers 401 `InvalidAuthenticationInfo` to one sent under a
//! credential renewed since).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::{Digest, Md5};
use percent_encoding::percent_decode_str;
use sha2::Sha256;

use super::{Body, Host, Source};
use crate::dfs::VERSION;
use crate::model::{
    Algorithm, AuthError, DatasetInfo, DatasetRef, Generation, HttpError, Level, Method, Request,
    Response, SourceError,
};
use source::FakeSource;

mod source;

/// The digest of `data`, as the host's `digest` interface computes it.
pub fn digest(algorithm: Algorithm, data: &[u8]) -> Vec<u8> {
    match algorithm {
        Algorithm::Md5 => Md5::digest(data).to_vec(),
        Algorithm::Sha256 => Sha256::digest(data).to_vec(),
        Algorithm::Crc64 => {
            let mut crc = crc64fast_nvme::Digest::new();
            crc.write(data);
            crc.sum64().to_le_bytes().to_vec()
        }
    }
}

/// Base64 of the MD5 of `data`.
pub fn md5_base64(data: &[u8]) -> String {
    BASE64.encode(digest(Algorithm::Md5, data))
}

impl Body for Rc<Vec<u8>> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
}

/// The endpoint the fake serves (a job's `account.dfs_endpoint`).
pub const ENDPOINT: &str = "http://127.0.0.1:10004/acct";
/// The Blob endpoint the fake serves over the same files (a job's `account.blob_endpoint`).
pub const BLOB_ENDPOINT: &str = "http://127.0.0.1:10000/acct";

/// A file in the fake file system.
#[derive(Clone, Debug, Default)]
pub struct File {
    /// Flushed content.
    pub committed: Vec<u8>,
    /// Appended, not yet flushed: position → bytes.
    pub uncommitted: BTreeMap<u64, Vec<u8>>,
    /// Bumped by every change of the committed content.
    pub etag: u64,
    /// `x-ms-content-md5` of the last flush.
    pub content_md5: Option<String>,
    /// `x-ms-properties` of the last `setProperties`.
    pub properties: Option<String>,
    /// Through Blob: the committed blocks, ID and size, in order.
    pub blocks: Vec<(String, usize)>,
    /// Through Blob: `x-ms-blob-content-type` of the last block list.
    pub content_type: Option<String>,
    /// Through Blob: the `x-ms-meta-*` of the last block list (name without the prefix).
    pub metadata: Vec<(String, String)>,
}

/// A request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The method.
    pub method: Method,
    /// The decoded path inside the file system.
    pub path: String,
    /// The query string.
    pub query: String,
    /// The request headers.
    pub headers: Vec<(String, String)>,
    /// Whether it went to the Blob endpoint.
    pub blob: bool,
}

/// Decides the response to a request instead of the fake file system.
pub type Fault = Box<dyn FnMut(&Request, &Seen) -> Option<Result<Response, HttpError>>>;

/// What the host's transparent retry of a request whose first response was lost got.
pub enum Replay {
    /// The file system served the request twice; the guest sees the second response.
    Again,
    /// The file system served it once; the guest sees this response instead of its own.
    Answer(Response),
}

/// Picks requests whose first attempt succeeds with its response lost.
pub type Lost = Box<dyn FnMut(&Seen) -> Option<Replay>>;

/// The fake host.
pub struct FakeHost {
    /// What `describe` answers.
    pub info: Result<DatasetInfo, SourceError>,
    /// The dataset's bytes.
    pub data: Vec<u8>,
    /// Bytes per `read` (at most `max-bytes`).
    pub read_size: usize,
    /// `read` fails after this many bytes.
    pub read_fails_at: Option<usize>,
    /// Files by path, in file system `exports`.
    pub files: HashMap<String, File>,
    /// Every request, in order.
    pub seen: Vec<Seen>,
    /// The credential's generation: the first `ready` call makes the first, every renewal
    /// the next; other calls hand out the latest, as the host's cache does.
    pub generation: Generation,
    /// Calls of `ready`.
    pub ready_calls: u32,
    /// `ready` fails with this.
    pub auth_error: Option<AuthError>,
    /// Renewals of the credential (`refresh` calls naming the current generation).
    pub refreshes: u32,
    /// Consulted before the file system for every request.
    pub fault: Option<Fault>,
    /// Consulted after a request passed the token check.
    pub lost: Option<Lost>,
    /// Most paths per listing page.
    pub list_page: usize,
    /// Progress reports.
    pub progress: Vec<(u64, u64)>,
    /// Log lines.
    pub logs: Vec<(Level, String)>,
    /// Whether `describe` was called.
    pub described: bool,
    /// Running digests: their algorithm and every byte added.
    pub hashers: Vec<(Algorithm, Vec<u8>)>,
    /// Requests submitted to a pipeline and not yet answered, with their tickets.
    pub in_flight: VecDeque<(u64, Request, Generation)>,
    /// Most requests ever in flight at once.
    pub most_in_flight: usize,
    /// The bound the guest gave its pipeline.
    pub pipeline_bound: Option<u32>,
    /// Answer the latest request in flight first.
    pub out_of_order: bool,
    /// Through Blob: staged blocks by blob path, then by ID.
    pub staged: HashMap<String, HashMap<String, Vec<u8>>>,
    /// What Get Account Information says of the namespace (`None`: no header).
    pub hns: Option<bool>,
    tickets: u64,
}

impl FakeHost {
    /// A host serving `data` as a dataset owned by user 27 (Dana Domo), acting as user 27.
    pub fn new(data: &[u8]) -> FakeHost {
        let dana = crate::model::Principal {
            id: "27".into(),
            name: "Dana Domo".into(),
        };
        FakeHost {
            info: Ok(DatasetInfo {
                id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".into(),
                name: "Sales".into(),
                owner: Some(dana.clone()),
                requester: Some(dana),
                ..DatasetInfo::default()
            }),
            data: data.to_vec(),
            read_size: 7919,
            read_fails_at: None,
            files: HashMap::new(),
            seen: Vec::new(),
            generation: 0,
            ready_calls: 0,
            auth_error: None,
            refreshes: 0,
            fault: None,
            lost: None,
            list_page: 1000,
            progress: Vec::new(),
            logs: Vec::new(),
            described: false,
            hashers: Vec::new(),
            in_flight: VecDeque::new(),
            most_in_flight: 0,
            pipeline_bound: None,
            out_of_order: false,
            staged: HashMap::new(),
            hns: Some(true),
            tickets: 0,
        }
    }

    /// The committed content of `path`.
    pub fn content(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(|f| &f.committed[..])
    }

    /// Requests that were not reads (`HEAD`, `GET`), as `METHOD path?query`.
    pub fn writes(&self) -> Vec<String> {
        self.seen
            .iter()
            .filter(|s| !matches!(s.method, Method::Head | Method::Get))
            .map(|s| format!("{:?} {}?{}", s.method, s.path, s.query))
            .collect()
    }

    /// Serves `request`, which the fake authorized under credential `sent_under`.
    fn serve(&mut self, request: Request, sent_under: Generation) -> Result<Response, HttpError> {
        let (blob, rest) = match request.url.strip_prefix(BLOB_ENDPOINT) {
            Some(rest) => (true, rest),
            None => (false, request.url.strip_prefix(ENDPOINT).unwrap_or("")),
        };
        // Get Account Information addresses the account, not the container.
        let rest = match rest.strip_prefix('/') {
            Some(account) if blob && account.starts_with('?') => account,
            _ => rest
                .strip_prefix("/exports")
                .ok_or_else(|| HttpError::Denied(format!("origin not granted: {}", request.url)))?,
        };
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let seen = Seen {
            method: request.method,
            path: percent_decode_str(path).decode_utf8().unwrap().into_owned(),
            query: query.to_owned(),
            headers: request.headers.clone(),
            blob,
        };
        self.seen.push(seen.clone());
        assert_eq!(request.header("x-ms-version"), Some(VERSION));
        assert!(request.header("x-ms-client-request-id").is_some());
        assert_eq!(
            request.header("Authorization"),
            None,
            "the guest never authorizes a request itself"
        );
        if let Some(fault) = &mut self.fault
            && let Some(outcome) = fault(&request, &seen)
        {
            return outcome;
        }
        if sent_under != self.generation {
            return Ok(error(
                401,
                "InvalidAuthenticationInfo",
                "Server failed to authenticate the request.",
            ));
        }
        match self.lost.as_mut().and_then(|lost| lost(&seen)) {
            None => Ok(self.answer(&request, &seen)),
            Some(Replay::Again) => {
                self.answer(&request, &seen);
                Ok(self.answer(&request, &seen))
            }
            Some(Replay::Answer(response)) => {
                self.answer(&request, &seen);
                Ok(response)
            }
        }
    }

    /// One page of the files directly in `directory` (paths from the root, in name order).
    fn list(&self, directory: &str, from: usize) -> Response {
        let mut names: Vec<&String> = self
            .files
            .keys()
            .filter(|p| match p.rsplit_once('/') {
                Some((dir, _)) => dir == directory,
                None => directory.is_empty(),
            })
            .collect();
        if names.is_empty() && !directory.is_empty() {
            return error(404, "PathNotFound", "The specified path does not exist.");
        }
        names.sort();
        let page: Vec<serde_json::Value> = names
            .iter()
            .skip(from)
            .take(self.list_page)
            .map(|n| serde_json::json!({ "name": n, "contentLength": "0" }))
            .collect();
        let mut headers = vec![];
        if from + self.list_page < names.len() {
            headers.push((
                "x-ms-continuation".into(),
                (from + self.list_page).to_string(),
            ));
        }
        Response {
            status: 200,
            headers,
            body: serde_json::json!({ "paths": page })
                .to_string()
                .into_bytes(),
        }
    }

    fn answer(&mut self, request: &Request, seen: &Seen) -> Response {
        if seen.blob {
            self.blob(request, seen)
        } else {
            self.dfs(request, seen)
        }
    }

    /// Serves the requests that are the same on both endpoints (HEAD, ranged GET, delete).
    pub(super) fn dfs(&mut self, request: &Request, seen: &Seen) -> Response {
        let path = seen.path.clone();
        let param = |name: &str| {
            seen.query
                .split('&')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .map(str::to_owned)
        };
        match (
            request.method,
            param("resource"),
            param("action"),
            param("mode"),
        ) {
            (Method::Put, Some(_), _, _) => {
                if request.header("If-None-Match") == Some("*") && self.files.contains_key(&path) {
                    return error(
                        409,
                        "PathAlreadyExists",
                        "The specified path already exists.",
                    );
                }
                let etag = self.files.get(&path).map_or(1, |f| f.etag + 1);
                self.files.insert(
                    path,
                    File {
                        etag,
                        ..File::default()
                    },
                );
                ok(201, vec![])
            }
            (Method::Patch, _, Some(action), _) if action == "append" => {
                let Some(file) = self.files.get_mut(&path) else {
                    return error(404, "PathNotFound", "The specified path does not exist.");
                };
                let crc64 = BASE64.encode(digest(Algorithm::Crc64, &request.body));
                if request.header("x-ms-content-crc64") != Some(&crc64) {
                    return error(
                        400,
                        "Crc64Mismatch",
                        "The CRC64 value specified in the request did not match.",
                    );
                }
                let position: u64 = param("position").unwrap().parse().unwrap();
                file.uncommitted.insert(position, request.body.clone());
                ok(202, vec![])
            }
            (Method::Patch, _, Some(action), _) if action == "flush" => {
                let Some(file) = self.files.get_mut(&path) else {
                    return error(404, "PathNotFound", "The specified path does not exist.");
                };
                if let Some(want) = request.header("If-Match")
                    && want != format!("\"{}\"", file.etag)
                {
                    return error(
                        412,
                        "ConditionNotMet",
                        "The condition specified using HTTP conditional header(s) is not met.",
                    );
                }
                let position: u64 = param("position").unwrap().parse().unwrap();
                let mut data = file.committed.clone();
                for (at, bytes) in &file.uncommitted {
                    if *at != data.len() as u64 {
                        return error(
                            400,
                            "InvalidFlushPosition",
                            "The uploaded data is not contiguous.",
                        );
                    }
                    data.extend_from_slice(bytes);
                }
                if data.len() as u64 != position {
                    return error(
                        400,
                        "InvalidFlushPosition",
                        "The uploaded data is not contiguous or the position query parameter value is not equal to the length of the file after appending the uploaded data.",
                    );
                }
                file.committed = data;
                file.uncommitted.clear();
                file.etag += 1;
                file.content_md5 = request.header("x-ms-content-md5").map(str::to_owned);
                ok(200, vec![])
            }
            (Method::Patch, _, Some(action), _) if action == "setProperties" => {
                let Some(file) = self.files.get_mut(&path) else {
                    return error(404, "PathNotFound", "The specified path does not exist.");
                };
                file.properties = request.header("x-ms-properties").map(str::to_owned);
                file.etag += 1;
                ok(200, vec![])
            }
            (Method::Put, _, _, Some(_)) => {
                let source = request.header("x-ms-rename-source").unwrap();
                let source = percent_decode_str(source.strip_prefix("/exports/").unwrap())
                    .decode_utf8()
                    .unwrap()
                    .into_owned();
                let Some(mut file) = self.files.remove(&source) else {
                    return error(
                        404,
                        "SourcePathNotFound",
                        "The source path for a rename operation does not exist.",
                    );
                };
                file.etag += 1;
                self.files.insert(path, file);
                ok(201, vec![])
            }
            (Method::Get, Some(resource), ..) if resource == "filesystem" => {
                let directory = param("directory").unwrap_or_default();
                let directory = percent_decode_str(&directory).decode_utf8().unwrap();
                let from = param("continuation").map_or(0, |c| c.parse().unwrap());
                self.list(&directory, from)
            }
            (Method::Head, ..) => match self.files.get(&path) {
                Some(f) => {
                    let mut headers = vec![
                        ("ETag".into(), format!("\"{}\"", f.etag)),
                        ("Content-Length".into(), f.committed.len().to_string()),
                        ("x-ms-resource-type".into(), "file".into()),
                    ];
                    if let Some(md5) = &f.content_md5 {
                        headers.push(("Content-MD5".into(), md5.clone()));
                    }
                    for (key, value) in &f.metadata {
                        headers.push((format!("x-ms-meta-{key}"), value.clone()));
                    }
                    ok(200, headers)
                }
                None => Response {
                    status: 404,
                    headers: vec![("x-ms-error-code".into(), "PathNotFound".into())],
                    body: vec![],
                },
            },
            (Method::Get, ..) => {
                let Some(f) = self.files.get(&path) else {
                    return error(404, "PathNotFound", "The specified path does not exist.");
                };
                let range = request
                    .header("Range")
                    .unwrap()
                    .strip_prefix("bytes=")
                    .unwrap();
                let (a, b) = range.split_once('-').unwrap();
                let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
                let b = b.min(f.committed.len() - 1);
                Response {
                    status: 206,
                    headers: vec![],
                    body: f.committed[a..=b].to_vec(),
                }
            }
            (Method::Delete, ..) => match self.files.remove(&path) {
                Some(_) => ok(200, vec![]),
                None => error(404, "PathNotFound", "The specified path does not exist."),
            },
            _ => error(400, "InvalidInput", "unsupported"),
        }
    }
}

fn ok(status: u16, headers: Vec<(String, String)>) -> Response {
    Response {
        status,
        headers,
        body: vec![],
    }
}

/// An error response as the service sends it.
pub fn error(status: u16, code: &str, message: &str) -> Response {
    Response {
        status,
        headers: vec![("x-ms-error-code".into(), code.into())],
        body: format!(
            r#"{{"error":{{"code":"{code}","message":"{message}\nRequestId:req-1\nTime:2024-01-01T00:00:00Z"}}}}"#
        )
        .into_bytes(),
    }
}

impl Host for FakeHost {
    type Body = Rc<Vec<u8>>;
    type Hasher = usize;
    type Pipeline = ();

    fn describe(&mut self, _dataset: &DatasetRef) -> Result<DatasetInfo, SourceError> {
        self.described = true;
        self.info.clone()
    }

    fn open(&mut self, _dataset: &DatasetRef) -> Result<Box<dyn Source<Rc<Vec<u8>>>>, SourceError> {
        Ok(Box::new(FakeSource {
            data: self.data.clone(),
            at: 0,
            read_size: self.read_size,
            fails_at: self.read_fails_at,
            kept: VecDeque::new(),
        }))
    }

    fn ready(&mut self) -> Result<Generation, AuthError> {
        if let Some(e) = &self.auth_error {
            return Err(e.clone());
        }
        self.ready_calls += 1;
        self.generation = self.generation.max(1);
        Ok(self.generation)
    }

    fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        let now = self.generation;
        self.serve(request, now)
    }

    fn refresh(&mut self, refused: Generation) -> Result<Generation, AuthError> {
        if refused >= self.generation {
            self.refreshes += 1;
            self.generation += 1;
        }
        Ok(self.generation)
    }

    fn body(&mut self, data: Vec<u8>) -> Rc<Vec<u8>> {
        Rc::new(data)
    }

    fn digest(&mut self, algorithm: Algorithm, body: &Rc<Vec<u8>>) -> Vec<u8> {
        digest(algorithm, body)
    }

    fn hasher(&mut self, algorithm: Algorithm) -> usize {
        self.hashers.push((algorithm, Vec::new()));
        self.hashers.len() - 1
    }

    fn hash(&mut self, hasher: &usize, body: &Rc<Vec<u8>>) {
        self.hashers[*hasher].1.extend_from_slice(body);
    }

    fn hash_value(&mut self, hasher: &usize) -> Vec<u8> {
        let (algorithm, data) = &self.hashers[*hasher];
        digest(*algorithm, data)
    }

    fn pipeline(&mut self, max_in_flight: u32) {
        self.pipeline_bound = Some(max_in_flight);
    }

    fn submit(&mut self, _pipeline: &(), head: &Request, body: &Rc<Vec<u8>>) -> u64 {
        self.tickets += 1;
        let mut request = head.clone();
        request.body = body.to_vec();
        // Authorized as it leaves, as the host does.
        self.in_flight
            .push_back((self.tickets, request, self.generation));
        self.most_in_flight = self.most_in_flight.max(self.in_flight.len());
        self.tickets
    }

    fn next(&mut self, _pipeline: &()) -> Option<(u64, Result<Response, HttpError>)> {
        let (ticket, request, sent_under) = if self.out_of_order {
            self.in_flight.pop_back()?
        } else {
            self.in_flight.pop_front()?
        };
        Some((ticket, self.serve(request, sent_under)))
    }

    fn log(&mut self, level: Level, message: &str) {
        self.logs.push((level, message.to_owned()));
    }

    fn progress(&mut self, rows: u64, bytes: u64) {
        self.progress.push((rows, bytes));
    }
}
