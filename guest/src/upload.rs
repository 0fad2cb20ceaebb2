//! One run of a job, as a driver generic over the host's capabilities ([`Host`]).
//!
//! Replace writes the whole dataset under a temporary path, flushes it with the file's MD5
//! and renames it onto the target; any failure after the temporary file exists deletes it.
//! Append checks the existing file's header, appends the dataset's rows (no second header)
//! at the file's end and flushes with `If-Match` on its ETag; unflushed appends are invisible,
//! so a failed run leaves the file as it was. Either way the target is untouched until the
//! final rename or flush. In memory at once: at most `concurrency` blocks, one read, and the
//! block being filled.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::{Digest, Md5};

use crate::chunk::{self, Block, Chunker};
use crate::dfs::{Dfs, STORAGE_SCOPE};
use crate::model::{
    AccessToken, AuthError, DataError, DatasetInfo, DatasetRef, HttpError, Job, JobError, Level,
    Ownership, Report, Request, Response, SourceError, StorageError, UpdateMode,
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
    /// `http.send`.
    fn send(&mut self, request: Request) -> Result<Response, HttpError>;
    /// `http.send-all`: outcomes in the order of `requests`.
    fn send_all(&mut self, requests: Vec<Request>) -> Vec<Result<Response, HttpError>>;
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

    /// Sends one request and checks that it succeeded.
    fn send(&mut self, request: Request, operation: &str) -> Result<Response, JobError> {
        let response = self.host.send(request)?;
        self.dfs.check(&response, operation)?;
        Ok(response)
    }

    /// Replace: temporary file, upload, flush, rename. Returns the file's size.
    fn replace(&mut self, target: &Target) -> Result<u64, JobError> {
        let mut source = self.host.open(&self.job.dataset)?;
        self.authorize()?;
        let create = self.dfs.create_file(&target.temp_path, false);
        self.send(create, "create temporary file")?;
        let outcome = self.fill_and_publish(source.as_mut(), target);
        if outcome.is_err() {
            self.discard(&target.temp_path);
        }
        outcome
    }

    fn fill_and_publish(
        &mut self,
        source: &mut dyn Source,
        target: &Target,
    ) -> Result<u64, JobError> {
        let plan = Plan {
            path: &target.temp_path,
            base: 0,
            skip_header: false,
            prefix: b"",
            existing_header: None,
        };
        let size = self.upload(source, &plan)?;
        let md5 = self.written.md5.clone().finalize();
        self.authorize()?;
        let flush = self.dfs.flush(&target.temp_path, size, Some(&md5), None);
        self.send(flush, "flush temporary file")?;
        self.authorize()?;
        let rename = self.dfs.rename(&target.temp_path, &target.path);
        self.send(rename, "rename onto target")?;
        Ok(size)
    }

    /// Deletes the temporary file after a failure; its own outcome is only logged.
    fn discard(&mut self, path: &str) {
        let outcome = self.authorize().and_then(|()| {
            let delete = self.dfs.delete(path);
            self.send(delete, "delete temporary file")
        });
        if let Err(e) = outcome {
            self.host.log(
                Level::Warn,
                &format!("could not delete the temporary file {path}: {e:?}"),
            );
        }
    }

    /// Append: check the existing file, then append the rows and flush with `If-Match`.
    /// Returns the file's size after the run.
    fn append(&mut self, target: &Target) -> Result<u64, JobError> {
        self.authorize()?;
        let head = self.dfs.get_properties(&target.path);
        let response = self.host.send(head)?;
        let Some(props) = self.dfs.properties(&response)? else {
            self.host.log(
                Level::Info,
                &format!("{} does not exist yet: writing it whole", target.path),
            );
            return self.replace(target);
        };
        if props.directory {
            return Err(StorageError {
                operation: "get properties of target".into(),
                status: response.status,
                code: String::new(),
                message: format!(
                    "`{}` is a directory, not a file: choose another output.file_name",
                    target.path
                ),
            }
            .into());
        }
        let etag = (!props.etag.is_empty()).then_some(props.etag.as_str());
        if props.length == 0 {
            // An empty file: the whole dataset, header included.
            let plan = Plan {
                path: &target.path,
                base: 0,
                skip_header: false,
                prefix: b"",
                existing_header: None,
            };
            return self.append_and_flush(&plan, etag);
        }
        let (header, crlf, last_byte) = self.existing_header(&target.path, props.length)?;
        let prefix: &[u8] = match last_byte {
            b'\n' | b'\r' => b"",
            _ if crlf => b"\r\n",
            _ => b"\n",
        };
        let plan = Plan {
            path: &target.path,
            base: props.length,
            skip_header: true,
            prefix,
            existing_header: Some(&header),
        };
        self.append_and_flush(&plan, etag)
    }

    fn append_and_flush(&mut self, plan: &Plan<'_>, etag: Option<&str>) -> Result<u64, JobError> {
        let mut source = self.host.open(&self.job.dataset)?;
        let size = self.upload(source.as_mut(), plan)?;
        if self.written.bytes > 0 {
            self.authorize()?;
            let flush = self.dfs.flush(plan.path, size, None, etag);
            self.send(flush, "flush")?;
        }
        Ok(size)
    }

    /// The existing file's header record, whether it ends with CRLF, and the file's last
    /// byte.
    fn existing_header(
        &mut self,
        path: &str,
        length: u64,
    ) -> Result<(Vec<u8>, bool, u8), JobError> {
        const OPERATION: &str = "read existing header";
        let last = length.min(HEADER_PROBE) - 1;
        self.authorize()?;
        let read = self.dfs.read(path, 0, last);
        let response = self.send(read, OPERATION)?;
        // The whole file, when it is short (or the server ignored the range).
        let whole = response.body.len() as u64 == length;
        let bad = |message: String| StorageError {
            operation: OPERATION.into(),
            status: response.status,
            code: String::new(),
            message,
        };
        let (header, crlf) = chunk::first_record(&response.body, whole).ok_or_else(|| {
            bad(if whole {
                format!("the existing file `{path}` has no complete header line")
            } else {
                format!(
                    "the existing file `{path}` has no header line within its first \
                     {HEADER_PROBE} bytes"
                )
            })
        })?;
        let last_byte = if let (true, Some(&last)) = (whole, response.body.last()) {
            last
        } else {
            self.authorize()?;
            let read = self.dfs.read(path, length - 1, length - 1);
            let response = self.send(read, "read existing last byte")?;
            *response.body.last().ok_or_else(|| StorageError {
                operation: "read existing last byte".into(),
                status: response.status,
                code: String::new(),
                message: format!("reading the last byte of `{path}` returned nothing"),
            })?
        };
        Ok((header, crlf, last_byte))
    }

    /// Streams the dataset into `plan.path` from `plan.base`; returns the file's length
    /// after the last append.
    fn upload(&mut self, source: &mut dyn Source, plan: &Plan<'_>) -> Result<u64, JobError> {
        let output = &self.job.output;
        let block_size = output.block_size as usize;
        let batch_max = (output.concurrency as usize)
            .min(MAX_IN_FLIGHT / block_size.max(1))
            .max(1);
        let mut chunker = Chunker::new(block_size, plan.skip_header);
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
            } else {
                chunker.feed(&data);
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
            self.written.rows += block.rows;
            self.written.bytes += len;
            self.written.blocks += 1;
            requests.push(self.dfs.append(path, position, block.data));
            position += len;
        }
        let sent = requests.len();
        let outcomes = self.host.send_all(requests);
        if outcomes.len() != sent {
            return Err(HttpError::InvalidRequest(format!(
                "the host answered {} of {sent} append requests",
                outcomes.len()
            ))
            .into());
        }
        for outcome in outcomes {
            self.dfs.check(&outcome?, "append")?;
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

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
