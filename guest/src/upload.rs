//! One run of a job, as a driver generic over the host's capabilities ([`Host`]).
//!
//! Replace ([`replace`]) first deletes temporary files that killed runs of the same job left
//! beside the target, writes the whole dataset under its own temporary path, flushes it with
//! the file's MD5, checks the committed length, and renames it onto the target; any failure
//! after the temporary file exists deletes it. Append ([`append`]) checks the existing file's
//! header, appends the dataset's rows (no second header) at the file's end and flushes with
//! `If-Match` on its ETag; unflushed appends are invisible, so a failed run leaves the file
//! as it was. Either way the target is untouched until the final rename or flush, and bad
//! input (see [`chunk`]) fails the run before it.
//!
//! The data path is a pipeline: each block is handed to the host once (`http.body`), its
//! CRC-64 and the file's running MD5 and SHA-256 are computed there in native code
//! (`digest`), and its append goes into an `http.pipeline` that keeps `concurrency`
//! requests in flight while the guest reads and cuts the next blocks. In the guest's memory
//! at once: one read, the block being filled and the blocks of one read; in the host's, the
//! blocks in flight.
//!
//! Faults: the host retries requests that failed transiently, so a request may reach the
//! service twice, the first attempt having succeeded unseen. Re-appending the same bytes at
//! the same position and re-creating the empty temporary file are harmless; a flush, rename
//! or delete refused because it had already happened is recognised ([`recovery`]). The guest
//! holds no credential: the host authorizes every request. When the service refuses one for
//! its credential (401 `InvalidAuthenticationInfo`, an expired token), the guest asks the host
//! to renew it (`auth.refresh`, naming the generation it knew, so concurrent refusals share
//! one renewal) and sends the refused requests again.

use std::collections::BTreeMap;
use std::mem;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::blob::Blob;
use crate::chunk::{self, Chunker};
use crate::dfs::Dfs;
use crate::model::{
    Algorithm, AuthError, DataError, DatasetInfo, DatasetRef, EndpointChoice, Generation,
    HttpError, Job, JobError, Level, Ownership, Report, Request, Response, SourceError, UpdateMode,
    WrittenFile,
};
use crate::naming::Target;
use crate::{ownership, validate};
use flight::InFlight;

/// Bytes asked of the source per read.
pub const READ_SIZE: u32 = 1 << 20;
/// Times one append may be sent again after the service refused its credential, before the
/// run fails.
const MAX_TOKEN_RESENDS: u32 = 2;
/// Bytes read from the start of an existing file to find its header line.
const HEADER_PROBE: u64 = 64 * 1024;

/// An open dataset stream (`source.reader`), whose bytes the host can hand on as bodies `B`.
pub trait Source<B> {
    /// Up to `max_bytes` more bytes; empty at the end of the data.
    fn read(&mut self, max_bytes: u32) -> Result<Vec<u8>, SourceError>;
    /// As [`read`](Self::read), and the host keeps the bytes for [`take`](Self::take).
    fn read_kept(&mut self, max_bytes: u32) -> Result<Vec<u8>, SourceError>;
    /// The next `len` kept bytes as a body, without them crossing the boundary again.
    fn take(&mut self, len: u64) -> B;
}

/// A request body the host holds (`http.body`); clones share it.
pub trait Body: Clone {
    /// Its length in bytes.
    fn len(&self) -> u64;
    /// Whether it is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The host's capabilities, as the imported WIT interfaces provide them.
pub trait Host {
    /// A request body the host holds (`http.body`).
    type Body: Body;
    /// A running digest (`digest.hasher`).
    type Hasher;
    /// Requests in flight (`http.pipeline`).
    type Pipeline;

    /// `source.describe`.
    fn describe(&mut self, dataset: &DatasetRef) -> Result<DatasetInfo, SourceError>;
    /// `source.open`.
    fn open(&mut self, dataset: &DatasetRef) -> Result<Box<dyn Source<Self::Body>>, SourceError>;
    /// `auth.ready`: the generation of the credential the host authorizes requests with.
    fn ready(&mut self) -> Result<Generation, AuthError>;
    /// `auth.refresh`: a request sent under generation `refused` was refused for its
    /// credential; the generation to resend with.
    fn refresh(&mut self, refused: Generation) -> Result<Generation, AuthError>;
    /// `http.send`.
    fn send(&mut self, request: Request) -> Result<Response, HttpError>;
    /// `http.body`: hands `data` over to the host.
    fn body(&mut self, data: Vec<u8>) -> Self::Body;
    /// `digest.of-body`.
    fn digest(&mut self, algorithm: Algorithm, body: &Self::Body) -> Vec<u8>;
    /// `digest.hasher` constructor.
    fn hasher(&mut self, algorithm: Algorithm) -> Self::Hasher;
    /// `digest.hasher.update`.
    fn hash(&mut self, hasher: &Self::Hasher, body: &Self::Body);
    /// `digest.hasher.finish`: the digest so far.
    fn hash_value(&mut self, hasher: &Self::Hasher) -> Vec<u8>;
    /// `http.pipeline` constructor.
    fn pipeline(&mut self, max_in_flight: u32) -> Self::Pipeline;
    /// `http.pipeline.submit`: starts `head` (whose own body is ignored) with `body`; its
    /// ticket.
    fn submit(&mut self, pipeline: &Self::Pipeline, head: &Request, body: &Self::Body) -> u64;
    /// `http.pipeline.next`: the next request to finish, `None` when none is in flight.
    fn next(&mut self, pipeline: &Self::Pipeline) -> Option<(u64, Result<Response, HttpError>)>;
    /// `log.log`.
    fn log(&mut self, level: Level, message: &str);
    /// `log.progress`.
    fn progress(&mut self, rows: u64, bytes: u64);
}

/// Runs `job`: validate, describe, apply the ownership rule, upload, publish.
pub fn run<H: Host>(host: &mut H, job: &Job) -> Result<Report, JobError> {
    let problems = validate::validate(job);
    if !problems.is_empty() {
        return Err(JobError::Invalid(problems));
    }
    let info = host.describe(&job.dataset)?;
    let ownership = ownership::decide(job, &info).map_err(JobError::Ownership)?;
    host.log(Level::Info, &ownership_text(&ownership));
    let mut target = Target::new(job, &info.name);
    let endpoint = endpoint::choose(host, job)?;
    let blob = (endpoint == EndpointChoice::Blob).then(|| {
        target.endpoint = job.account.blob_endpoint.trim_end_matches('/').to_owned();
        Blob::new(&target.endpoint, &target.file_system, &job.run_id)
    });
    if blob.is_some() {
        let problems = endpoint::blob_problems(job);
        if !problems.is_empty() {
            return Err(JobError::Invalid(problems));
        }
    }
    // Reads, HEAD and deletes have the same shape on both endpoints: through Blob, this
    // driver is aimed at the Blob endpoint.
    let dfs = Dfs::new(
        &target.endpoint,
        &target.file_system,
        &job.account,
        &job.run_id,
    )
    .with_access(job.output.access.clone());
    let dfs = if blob.is_some() {
        dfs.through_blob()
    } else {
        dfs
    };
    let written = Written::new(host);
    let mut run = Run {
        host,
        job,
        dfs,
        blob,
        written,
        generation: 0,
    };
    log_start(run.host, job, &target);
    let through_blob = run.blob.is_some();
    let (file_size, files) = match (job.output.passthrough(), job.output.update) {
        (true, UpdateMode::Replace) if through_blob => (run.replace_blob(&target)?, None),
        (true, UpdateMode::Append) if through_blob => (run.append_blob(&target)?, None),
        (true, UpdateMode::Replace) => (run.replace(&target)?, None),
        (true, UpdateMode::Append) => (run.append(&target)?, None),
        (false, _) => {
            let (size, files) = run.encoded(&target, &info)?;
            (size, Some(files))
        }
    };
    let md5 = run.host.hash_value(&run.written.md5);
    let sha256 = run.host.hash_value(&run.written.sha256);
    let files = files.unwrap_or_else(|| {
        vec![WrittenFile {
            path: target.path.clone(),
            rows: run.written.rows,
            bytes: run.written.bytes,
            md5: BASE64.encode(&md5),
            sha256: BASE64.encode(&sha256),
        }]
    });
    let written = run.written;
    run.host.log(
        Level::Info,
        &format!(
            "published {}: {} rows, {} bytes in {} blocks, file size {file_size}",
            target.url(),
            written.rows,
            written.bytes,
            written.blocks
        ),
    );
    Ok(Report {
        url: target.url(),
        file_system: target.file_system,
        path: target.path,
        update: job.output.update,
        rows: written.rows,
        bytes: written.bytes,
        file_size,
        md5: BASE64.encode(md5),
        sha256: BASE64.encode(sha256),
        blocks: written.blocks,
        endpoint,
        ownership,
        dataset_name: info.name,
        files,
    })
}

fn ownership_text(ownership: &Ownership) -> String {
    match ownership {
        Ownership::Owner(p) => format!("ownership: user {} owns the dataset", p.describe()),
        Ownership::CoOwner(p) => format!("ownership: user {} co-owns the dataset", p.describe()),
        Ownership::NotApplicable(why) => format!("ownership: {why}"),
    }
}

fn log_start<H: Host>(host: &mut H, job: &Job, target: &Target) {
    let mode = match job.output.update {
        UpdateMode::Replace => "replace",
        UpdateMode::Append => "append",
    };
    host.log(
        Level::Info,
        &format!(
            "writing dataset {} to {} ({mode})",
            job.dataset.id,
            target.url()
        ),
    );
}

/// What this run has written.
struct Written<H: Host> {
    rows: u64,
    bytes: u64,
    blocks: u32,
    /// Running digests of the bytes written, in file order.
    md5: H::Hasher,
    sha256: H::Hasher,
    /// The last block appended, its position and bytes (kept by an append only).
    last_block: Option<(u64, H::Body)>,
    /// Rows and bytes of the appends the service has acknowledged.
    landed: (u64, u64),
    /// Digests of a whole multi-file output, fed alongside each file's own.
    also: Option<(H::Hasher, H::Hasher)>,
    /// Through Blob: the IDs of the blocks staged, in file order.
    block_ids: Vec<String>,
}

impl<H: Host> Written<H> {
    /// Nothing written yet.
    fn new(host: &mut H) -> Written<H> {
        Written {
            rows: 0,
            bytes: 0,
            blocks: 0,
            md5: host.hasher(Algorithm::Md5),
            sha256: host.hasher(Algorithm::Sha256),
            last_block: None,
            landed: (0, 0),
            also: None,
            block_ids: Vec::new(),
        }
    }
}

/// How to upload the dataset into one file.
struct Plan<'a> {
    /// The file written.
    path: &'a str,
    /// Where the first byte goes: the file's current length.
    base: u64,
    /// Leave out the dataset's header record.
    skip_header: bool,
    /// Bytes written before the first block (a newline the existing file lacks).
    prefix: &'a [u8],
    /// The existing file's header record, which the dataset's must match.
    existing_header: Option<&'a [u8]>,
}

struct Run<'a, H: Host> {
    host: &'a mut H,
    job: &'a Job,
    dfs: Dfs,
    /// Set when the run writes through the Blob endpoint.
    blob: Option<Blob>,
    written: Written<H>,
    /// The generation of the host's credential, as the guest last learnt it.
    generation: Generation,
}

impl<H: Host> Run<'_, H> {
    /// Makes sure the host holds a usable credential for the next request or batch.
    fn authorize(&mut self) -> Result<(), JobError> {
        self.generation = self.host.ready()?;
        Ok(())
    }

    /// The service refused a request sent under generation `refused`: asks the host to
    /// renew the credential (it does once for concurrent refusals).
    fn refresh(&mut self, refused: Generation) -> Result<(), JobError> {
        self.host.log(
            Level::Info,
            "the storage service refused the credential (InvalidAuthenticationInfo): renewing it",
        );
        self.generation = self.host.refresh(refused)?;
        Ok(())
    }

    /// The error for a renewed credential the service refused too.
    fn refused_again(&self, response: &Response, operation: &str) -> JobError {
        let e = self.dfs.error(response, operation);
        AuthError::Rejected(format!(
            "the storage service refused a freshly renewed credential too ({}) during \
             {operation}: {}",
            e.code, e.message
        ))
        .into()
    }

    /// Sends one request, renewing a refused credential once; the response, whatever its
    /// status.
    fn exchange(&mut self, request: Request, operation: &str) -> Result<Response, JobError> {
        let again = request.clone();
        let sent_under = self.generation;
        let response = self.host.send(request)?;
        if !self.dfs.token_refused(&response) {
            return Ok(response);
        }
        self.refresh(sent_under)?;
        let response = self.host.send(again)?;
        if self.dfs.token_refused(&response) {
            return Err(self.refused_again(&response, operation));
        }
        Ok(response)
    }

    /// Creates `path` (a directory when `directory`) with the job's permissions and umask;
    /// a file then gets the job's ACL, if any, before anything is written into it. (A
    /// directory does not: a file's ACL, without `x`, would lock readers out of it.)
    fn create(&mut self, path: &str, directory: bool, operation: &str) -> Result<(), JobError> {
        let create = match directory {
            true => self.dfs.create_directory(path),
            false => self.dfs.create_file(path, false),
        };
        self.send(create, operation)?;
        if !directory && let Some(set_acl) = self.dfs.set_acl(path) {
            self.authorize()?;
            self.send(set_acl, "set access control")?;
        }
        Ok(())
    }

    /// The user-defined properties every written file carries: the dataset ID, the run
    /// ID, its rows and its SHA-256 (base64).
    fn file_properties(&self, rows: u64, sha256: &str) -> [(&'static str, String); 4] {
        [
            ("dataset_id", self.job.dataset.id.clone()),
            ("run_id", self.job.run_id.clone()),
            ("rows", rows.to_string()),
            ("sha256", sha256.to_owned()),
        ]
    }

    /// Sets the user-defined properties every written file carries (`x-ms-meta-*` on the
    /// Blob endpoint): the dataset ID, the run ID, its rows and its SHA-256 (base64).
    fn set_file_properties(&mut self, path: &str, rows: u64, sha256: &str) -> Result<(), JobError> {
        let owned = self.file_properties(rows, sha256);
        let properties = owned.each_ref().map(|(key, value)| (*key, value.as_str()));
        self.authorize()?;
        let set = self.dfs.set_properties(path, &properties);
        self.send(set, "set file properties")?;
        Ok(())
    }

    /// Sends one request and checks that it succeeded.
    fn send(&mut self, request: Request, operation: &str) -> Result<Response, JobError> {
        let response = self.exchange(request, operation)?;
        self.dfs.check(&response, operation)?;
        Ok(response)
    }

    /// Streams the dataset into `plan.path` from `plan.base`; returns the file's length
    /// after the last append. Bad input fails it before anything is flushed.
    fn upload(
        &mut self,
        source: &mut dyn Source<H::Body>,
        plan: &Plan<'_>,
    ) -> Result<u64, JobError> {
        let output = &self.job.output;
        // The host keeps what it reads; the guest cuts it and says which bytes make each block.
        let mut chunker = Chunker::new(output.block_size as usize, plan.skip_header)
            .reject_long_records(true)
            .strict(output.strict)
            .counting(true);
        // Input bytes the host no longer keeps.
        let mut taken = 0;
        let allow_empty = output.allow_empty;
        let pipeline = self.host.pipeline(output.concurrency.max(1));
        let mut flight: BTreeMap<u64, InFlight<H::Body>> = BTreeMap::new();
        let mut header_checked = plan.existing_header.is_none();
        let mut position = plan.base;
        let mut prefix = plan.prefix;
        let mut at_end = false;
        while !at_end {
            let data = source.read_kept(READ_SIZE)?;
            if data.is_empty() {
                chunker.finish()?;
                at_end = true;
                if chunker.rows() == 0 {
                    if !allow_empty {
                        return Err(DataError {
                            line: 1,
                            byte_offset: 0,
                            message: "the dataset has a header but no rows: set \
                                      output.allow_empty = true to write it anyway"
                                .into(),
                        }
                        .into());
                    }
                    if plan.skip_header {
                        // Appending no rows writes nothing: drop what was appended (blank
                        // lines at most), which no flush will commit.
                        self.land_all(&pipeline, &mut flight)?;
                        self.written = Written::new(self.host);
                        return Ok(plan.base);
                    }
                }
            } else {
                chunker.feed(&data);
                chunker.check()?;
            }
            if !header_checked && let Some(header) = chunker.header() {
                check_header(plan, header)?;
                header_checked = true;
            }
            while let Some(cut) = chunker.next_cut() {
                if cut.start > taken {
                    // The header (with its BOM) an append leaves out.
                    drop(source.take(cut.start - taken));
                }
                let body = source.take(cut.len);
                taken = cut.start + cut.len;
                if !prefix.is_empty() {
                    // The newline the existing file lacks goes first, in an append of its own.
                    let newline = self.host.body(mem::take(&mut prefix).to_vec());
                    position =
                        self.start_append(&pipeline, &mut flight, plan.path, position, newline, 0)?;
                }
                position =
                    self.start_append(&pipeline, &mut flight, plan.path, position, body, cut.rows)?;
            }
        }
        self.land_all(&pipeline, &mut flight)?;
        Ok(position)
    }
}

/// Fails unless the dataset's header has the same fields as the existing file's.
fn check_header(plan: &Plan<'_>, header: &[u8]) -> Result<(), DataError> {
    let Some(existing) = plan.existing_header else {
        return Ok(());
    };
    if chunk::fields(existing) == chunk::fields(header) {
        return Ok(());
    }
    Err(DataError {
        line: 1,
        byte_offset: 0,
        message: format!(
            "the dataset's header {} differs from the header of the existing file `{}`, {}: \
             appending would mix columns. Write to another file, or use update = replace.",
            validate::quote(&String::from_utf8_lossy(header)),
            plan.path,
            validate::quote(&String::from_utf8_lossy(existing)),
        ),
    })
}

mod append;
mod append_parts;
mod blob_encoded;
mod blob_write;
mod encoded;
mod endpoint;
mod flight;
mod publish;
mod recovery;
mod replace;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod fake_blob;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_blob;
#[cfg(test)]
mod tests_faults;
#[cfg(test)]
mod tests_parquet;
