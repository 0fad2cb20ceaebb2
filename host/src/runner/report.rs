//! What a run prints: the report of a success or the failure, as text for people and as
//! JSON for machines (`--json`).

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::capabilities::bindings::exports::adls::writeback::job::JobError;
use crate::capabilities::bindings::types;
use crate::job::{FieldError, Job, UpdateMode};
use crate::runner::history::Status;

/// How a run met the ownership rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OwnershipKind {
    /// The writeback's owner owns the dataset.
    Owner,
    /// The writeback's owner co-owns the dataset.
    CoOwner,
    /// The rule does not apply (a local file).
    NotApplicable,
}

impl OwnershipKind {
    /// The kind's name, as the JSON gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            OwnershipKind::Owner => "owner",
            OwnershipKind::CoOwner => "co-owner",
            OwnershipKind::NotApplicable => "not-applicable",
        }
    }
}

/// A successful run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Always [`Status::Succeeded`].
    pub status: Status,
    /// The job's name.
    pub job: String,
    /// The run's ID.
    pub run_id: String,
    /// The dataset exported.
    pub dataset_id: String,
    /// The dataset's name.
    pub dataset_name: String,
    /// The file system written into.
    pub file_system: String,
    /// The file's path in the file system.
    pub path: String,
    /// The file's URL.
    pub url: String,
    /// The endpoint the run wrote through: `dfs` or `blob` (`account.endpoint = "auto"`
    /// resolved).
    pub endpoint: &'static str,
    /// Whether the file was replaced or appended to.
    pub update: UpdateMode,
    /// Data rows written (the header left out).
    pub rows: u64,
    /// Bytes this run wrote.
    pub bytes: u64,
    /// The file's size after the run.
    pub file_size: u64,
    /// Base64 MD5 of the bytes this run wrote.
    pub md5: String,
    /// Base64 SHA-256 of the bytes this run wrote.
    pub sha256: String,
    /// Append (DFS) or Put Block (Blob) requests sent.
    pub blocks: u32,
    /// How the ownership rule was met.
    pub ownership: OwnershipKind,
    /// The owner's ID, or why the rule did not apply.
    pub ownership_detail: String,
    /// Wall time of the run, in milliseconds.
    pub elapsed_ms: u64,
    /// Wall time the component's own code ran, host calls (network, hashing, the source)
    /// left out: what the sandboxed transfer logic costs.
    pub guest_ms: u64,
    /// SHA-256 of the component that ran the job.
    pub component_sha256: String,
    /// `run --verify` read the file back and found the report's digests (shown only then).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub verified: bool,
    /// Every data file written, in order (one unless the output is split; `path` is then
    /// the output directory).
    pub files: Vec<FileReport>,
}

/// One data file a run wrote.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// Its path in the file system.
    pub path: String,
    /// Data rows in it.
    pub rows: u64,
    /// Bytes written to it.
    pub bytes: u64,
    /// Base64 MD5 of them.
    pub md5: String,
    /// Base64 SHA-256 of them.
    pub sha256: String,
}

/// A failed run. The target path is as it was before the run.
#[derive(Debug, Clone, Serialize)]
pub struct RunFailure {
    /// Always [`Status::Failed`].
    pub status: Status,
    /// The job's name.
    pub job: String,
    /// The run's ID.
    pub run_id: String,
    /// What failed.
    pub kind: FailureKind,
    /// What happened and what to do about it.
    pub message: String,
    /// For `invalid`: every problem by field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// Wall time of the run, in milliseconds.
    pub elapsed_ms: u64,
    /// SHA-256 of the component that ran the job.
    pub component_sha256: String,
}

/// What failed in a run: the `kind` of a failure, in its JSON and its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    /// The job is invalid (every problem by field in `fields`).
    Invalid,
    /// The writeback's owner neither owns nor co-owns the dataset.
    Ownership,
    /// The dataset could not be described or read.
    Source,
    /// No usable credential: refused (by Entra ID, or a key or SAS the service refused), or
    /// not to be had.
    Auth,
    /// A request failed without an answer from the service.
    Http,
    /// The storage service refused a request.
    Storage,
    /// The dataset is not CSV the job accepts (the line and byte offset say where).
    Data,
    /// The component was stopped: time, memory, fuel, a trap.
    Sandbox,
    /// The component's report broke the contract, so it is not believed.
    Contract,
    /// `run --verify` read back other bytes than the report's.
    Verify,
    /// A signal stopped the run before it finished.
    Cancelled,
}

impl FailureKind {
    /// The kind's name, as the JSON gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Invalid => "invalid",
            FailureKind::Ownership => "ownership",
            FailureKind::Source => "source",
            FailureKind::Auth => "auth",
            FailureKind::Http => "http",
            FailureKind::Storage => "storage",
            FailureKind::Data => "data",
            FailureKind::Sandbox => "sandbox",
            FailureKind::Contract => "contract",
            FailureKind::Verify => "verify",
            FailureKind::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which run a report or a failure is of.
#[derive(Debug, Clone, Copy)]
pub struct RunMeta<'a> {
    /// The job's name.
    pub job: &'a str,
    /// The run's ID.
    pub run_id: &'a str,
    /// SHA-256 of the component that ran it.
    pub component_sha256: &'a str,
}

impl RunReport {
    /// The report with the wall time the component's own code ran.
    pub fn with_guest_time(mut self, guest_time: Duration) -> Self {
        self.guest_ms = guest_time.as_millis() as u64;
        self
    }

    /// Builds the report of `job`'s run from the guest's.
    pub fn new(meta: RunMeta<'_>, job: &Job, report: types::Report, elapsed: Duration) -> Self {
        let (ownership, ownership_detail) = match report.ownership {
            types::Ownership::Owner(p) => (OwnershipKind::Owner, p.id),
            types::Ownership::CoOwner(p) => (OwnershipKind::CoOwner, p.id),
            types::Ownership::NotApplicable(why) => (OwnershipKind::NotApplicable, why),
        };
        RunReport {
            status: Status::Succeeded,
            job: meta.job.to_string(),
            run_id: meta.run_id.to_string(),
            dataset_id: job.dataset_id().to_string(),
            dataset_name: report.dataset_name,
            file_system: report.file_system,
            path: report.path,
            url: report.url,
            endpoint: match report.endpoint {
                types::EndpointChoice::Blob => "blob",
                _ => "dfs",
            },
            update: match report.update {
                types::UpdateMode::Replace => UpdateMode::Replace,
                types::UpdateMode::Append => UpdateMode::Append,
            },
            rows: report.rows,
            bytes: report.bytes,
            file_size: report.file_size,
            md5: report.md5,
            sha256: report.sha256,
            blocks: report.blocks,
            ownership,
            ownership_detail,
            elapsed_ms: elapsed.as_millis() as u64,
            guest_ms: 0,
            component_sha256: meta.component_sha256.to_string(),
            verified: false,
            files: report
                .files
                .into_iter()
                .map(|f| FileReport {
                    path: f.path,
                    rows: f.rows,
                    bytes: f.bytes,
                    md5: f.md5,
                    sha256: f.sha256,
                })
                .collect(),
        }
    }
}

impl RunFailure {
    /// A failure of `kind` with `message`.
    pub fn new(meta: RunMeta<'_>, kind: FailureKind, message: String, elapsed: Duration) -> Self {
        RunFailure {
            status: Status::Failed,
            job: meta.job.to_string(),
            run_id: meta.run_id.to_string(),
            kind,
            message,
            fields: Vec::new(),
            elapsed_ms: elapsed.as_millis() as u64,
            component_sha256: meta.component_sha256.to_string(),
        }
    }

    /// The failure the guest returned.
    pub fn from_job_error(meta: RunMeta<'_>, error: JobError, elapsed: Duration) -> Self {
        let (kind, message) = crate::runner::wording::describe_job_error(&error);
        let mut failure = RunFailure::new(meta, kind, message, elapsed);
        if let JobError::Invalid(list) = error {
            failure.fields = list
                .into_iter()
                .map(|e| FieldError {
                    field: e.field,
                    message: e.message,
                })
                .collect();
        }
        failure
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed_ms as f64 / 1000.0;
        let rate = self.bytes as f64 / seconds.max(0.001) / (1024.0 * 1024.0);
        writeln!(
            f,
            "Exported {} ({}) to {}/{}",
            self.dataset_id, self.dataset_name, self.file_system, self.path
        )?;
        writeln!(f, "  url        {}", self.url)?;
        writeln!(f, "  endpoint   {}", self.endpoint)?;
        writeln!(f, "  update     {}", self.update.as_str())?;
        writeln!(f, "  rows       {}", self.rows)?;
        writeln!(
            f,
            "  bytes      {} (file now {} bytes)",
            self.bytes, self.file_size
        )?;
        writeln!(f, "  md5        {}", self.md5)?;
        writeln!(f, "  sha256     {}", self.sha256)?;
        if self.verified {
            writeln!(f, "  verified   read back, digests match")?;
        }
        writeln!(
            f,
            "  ownership  {} ({})",
            self.ownership.as_str(),
            self.ownership_detail
        )?;
        writeln!(
            f,
            "  run        {} in {seconds:.2} s ({rate:.1} MiB/s, {} blocks)",
            self.run_id, self.blocks
        )?;
        write!(f, "  component  sha256:{}", self.component_sha256)
    }
}

impl fmt::Display for RunFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Run {} of job `{}` failed ({}): {}",
            self.run_id, self.job, self.kind, self.message
        )?;
        for field in &self.fields {
            write!(f, "\n  {}: {}", field.field, field.message)?;
        }
        match self.kind {
            // The run published; what reads back is not what it wrote.
            FailureKind::Verify => write!(f, "\nThe file was published; check it before using it."),
            _ => write!(f, "\nThe target was left as it was."),
        }
    }
}
