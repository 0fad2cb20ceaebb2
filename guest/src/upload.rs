//! One run of a job, as a driver generic over the host's capabilities ([`Host`]).
//!
//! Replace ([`replace`]) first deletes temporary files that killed runs of the same job left
//! beside the target, writes the whole dataset under its own temporary path, flushes it with
//! the file's MD5, checks the committed length, and renames it onto the target; any failure
//! after the temporary file exists deletes it. Append ([`append`]) checks the existing file's
//! header, appends the dataset's rows (no second header) at the file's end and flushes with
//! `If-Match` on its ETag; unflushed appends are invisible, so a failed run leaves the file
//! as it was. Either way the target is untouched until the final rename or flush, and bad
//! input (see [`chunk`]) fails the run before it. In memory at once: at most `concurrency`
//! blocks, one read, and the block being filled.
//!
//! Faults: the host retries requests that failed transiently, so a request may reach the
//! service twice, the first attempt having succeeded unseen. Re-appending the same bytes at
//! the same position and re-creating the empty temporary file are harmless; a flush, rename
//! or delete refused because it had already happened is recognised ([`recovery`]). A token
//! the service refuses (401 `InvalidAuthenticationInfo`) is refreshed once (`auth.refresh`)
//! and the refused requests are sent again.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::{Digest, Md5};
use sha2::Sha256;

use crate::chunk::{self, Block, Chunker};
use crate::dfs::{Dfs, STORAGE_SCOPE};
use crate::model::{
    AccessToken, AuthError, DataError, DatasetInfo, DatasetRef, HttpError, Job, JobError, Level,
    Ownership, Report, Request, Response, SourceError, UpdateMode,
};
use crate::naming::Target;
use crate::{ownership, validate};

/// Bytes asked of the source per read.
pub const READ_SIZE: u32 = 1 << 20;
/// Most bytes of blocks in flight at once, whatever `concurrency` says: keeps a run within a
/// modest memory limit when blocks are large.
pub const MAX_IN_FLIGHT: usize = 256 << 20;
/// Bytes read from the start of an existing file to find its header line.
const HEADER_PROBE: u64 = 64 * 1024;

/// An open dataset stream (`source.reader`).
pub trait Source {
    /// Up to `max_bytes` more bytes; empty at the end of the data.
    fn read(&mut self, max_bytes: u32) -> Result<Vec<u8>, SourceError>;
}

/// The host's capabilities, as the imported WIT interfaces provide them.
pub trait Host {
    /// `source.describe`.
    fn describe(&mut self, dataset: &DatasetRef) -> Result<DatasetInfo, SourceError>;
    /// `source.open`.
    fn open(&mut self, dataset: &DatasetRef) -> Result<Box<dyn Source>, SourceError>;
    /// `auth.token`.
    fn token(&mut self, scope: &str) -> Result<AccessToken, AuthError>;
    /// `auth.refresh`: the token for `scope` was refused; a fresh one.
    fn refresh(&mut self, scope: &str) -> Result<AccessToken, AuthError>;
    /// `http.send`.
    fn send(&mut self, request: Request) -> Result<Response, HttpError>;
    /// `http.send-all`: outcomes in the order of `requests`. The host may take the bodies
    /// while it sends them, but every request is as it was on return, so a refused one can
    /// be sent again without being built (or its block read) anew.
    fn send_all(&mut self, requests: &mut [Request]) -> Vec<Result<Response, HttpError>>;
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
    let target = Target::new(job);
    let dfs = Dfs::new(
        &target.endpoint,
        &target.file_system,
        &job.account.account_name,
        &job.account.client_id,
        &job.run_id,
    );
    let mut run = Run {
        host,
        job,
        dfs,
        written: Written::default(),
    };
    log_start(run.host, job, &target);
    let file_size = match job.output.update {
        UpdateMode::Replace => run.replace(&target)?,
        UpdateMode::Append => run.append(&target)?,
    };
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
        md5: BASE64.encode(written.md5.finalize()),
        sha256: BASE64.encode(written.sha256.finalize()),
        blocks: written.blocks,
        ownership,
        dataset_name: info.name,
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
#[derive(Default)]
struct Written {
    rows: u64,
    bytes: u64,
    blocks: u32,
    md5: Md5,
    sha256: Sha256,
    /// The last block appended: its position, length and base64 MD5.
    last_block: Option<(u64, u64, String)>,
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
    written: Written,
}

impl<H: Host> Run<'_, H> {
    /// Fetches a token for the next request or batch.
    fn authorize(&mut self) -> Result<(), JobError> {
        let token = self.host.token(STORAGE_SCOPE)?;
        self.dfs.set_token(&token.token);
        Ok(())
    }

    /// The service refused the token: asks the host for a fresh one.
    fn refresh(&mut self) -> Result<(), JobError> {
        self.host.log(
            Level::Info,
            "the storage service refused the token (InvalidAuthenticationInfo): refreshing it",
        );
        let token = self.host.refresh(STORAGE_SCOPE)?;
        self.dfs.set_token(&token.token);
        Ok(())
    }

    /// The error for a fresh token the service refused too.
    fn refused_again(&self, response: &Response, operation: &str) -> JobError {
        let e = self.dfs.error(response, operation);
        AuthError::Rejected(format!(
            "the storage service refused a freshly issued token too ({}) during {operation}: {}",
            e.code, e.message
        ))
        .into()
    }

    /// Sends one request, refreshing a refused token once; the response, whatever its
    /// status.
    fn exchange(&mut self, request: Request, operation: &str) -> Result<Response, JobError> {
        let mut again = request.clone();
        let response = self.host.send(request)?;
        if !self.dfs.token_refused(&response) {
            return Ok(response);
        }
        self.refresh()?;
        self.dfs.reauthorize(&mut again);
        let response = self.host.send(again)?;
        if self.dfs.token_refused(&response) {
            return Err(self.refused_again(&response, operation));
        }
        Ok(response)
    }

    /// Sends one request and checks that it succeeded.
    fn send(&mut self, request: Request, operation: &str) -> Result<Response, JobError> {
        let response = self.exchange(request, operation)?;
        self.dfs.check(&response, operation)?;
        Ok(response)
    }

    /// Sends `requests` with one `send-all`; when the service refuses the token for some,
    /// refreshes it once and sends only those again. Responses in the order of `requests`.
    fn exchange_all(
        &mut self,
        requests: &mut [Request],
        operation: &str,
    ) -> Result<Vec<Response>, JobError> {
        let mut outcomes = self.send_all_counted(requests)?;
        let refused: Vec<usize> = (0..outcomes.len())
            .filter(|&i| matches!(&outcomes[i], Ok(r) if self.dfs.token_refused(r)))
            .collect();
        if !refused.is_empty() {
            self.refresh()?;
            let mut again: Vec<Request> = refused
                .iter()
                .map(|&i| {
                    let r = &mut requests[i];
                    let mut request = Request {
                        method: r.method,
                        url: r.url.clone(),
                        headers: r.headers.clone(),
                        body: std::mem::take(&mut r.body),
                    };
                    self.dfs.reauthorize(&mut request);
                    request
                })
                .collect();
            let answers = self.send_all_counted(&mut again)?;
            for ((&i, answer), request) in refused.iter().zip(answers).zip(again) {
                requests[i].body = request.body;
                if let Ok(r) = &answer
                    && self.dfs.token_refused(r)
                {
                    return Err(self.refused_again(r, operation));
                }
                outcomes[i] = answer;
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.map_err(JobError::from))
            .collect()
    }

    fn send_all_counted(
        &mut self,
        requests: &mut [Request],
    ) -> Result<Vec<Result<Response, HttpError>>, JobError> {
        let sent = requests.len();
        let outcomes = self.host.send_all(requests);
        if outcomes.len() != sent {
            return Err(HttpError::InvalidRequest(format!(
                "the host answered {} of {sent} requests",
                outcomes.len()
            ))
            .into());
        }
        Ok(outcomes)
    }

    /// Streams the dataset into `plan.path` from `plan.base`; returns the file's length
    /// after the last append. Bad input fails it before anything is flushed.
    fn upload(&mut self, source: &mut dyn Source, plan: &Plan<'_>) -> Result<u64, JobError> {
        let output = &self.job.output;
        let block_size = output.block_size as usize;
        let batch_max = (output.concurrency as usize)
            .min(MAX_IN_FLIGHT / block_size.max(1))
            .max(1);
        let mut chunker = Chunker::new(block_size, plan.skip_header)
            .reject_long_records(true)
            .strict(output.strict);
        let allow_empty = output.allow_empty;
        let mut header_checked = plan.existing_header.is_none();
        let mut position = plan.base;
        let mut prefix = plan.prefix;
        let mut batch: Vec<Block> = Vec::with_capacity(batch_max);
        let mut at_end = false;
        while !at_end {
            let data = source.read(READ_SIZE)?;
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
                        self.written = Written::default();
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
            while let Some(mut block) = chunker.next_block() {
                if !prefix.is_empty() {
                    block.data.splice(0..0, prefix.iter().copied());
                    prefix = b"";
                }
                batch.push(block);
                if batch.len() == batch_max {
                    position = self.send_blocks(plan.path, position, &mut batch)?;
                }
            }
        }
        if !batch.is_empty() {
            position = self.send_blocks(plan.path, position, &mut batch)?;
        }
        Ok(position)
    }

    /// Appends `batch` at `position` with one `send-all`; returns the position after it.
    fn send_blocks(
        &mut self,
        path: &str,
        mut position: u64,
        batch: &mut Vec<Block>,
    ) -> Result<u64, JobError> {
        self.authorize()?;
        let mut requests = Vec::with_capacity(batch.len());
        for block in batch.drain(..) {
            let len = block.data.len() as u64;
            self.written.md5.update(&block.data);
            self.written.sha256.update(&block.data);
            self.written.rows += block.rows;
            self.written.bytes += len;
            self.written.blocks += 1;
            let request = self.dfs.append(path, position, block.data);
            let md5 = request.header("Content-MD5").unwrap_or_default().to_owned();
            self.written.last_block = Some((position, len, md5));
            requests.push(request);
            position += len;
        }
        for response in self.exchange_all(&mut requests, "append")? {
            self.dfs.check(&response, "append")?;
        }
        self.host.progress(self.written.rows, self.written.bytes);
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
mod recovery;
mod replace;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_faults;
