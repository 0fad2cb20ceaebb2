//! Plain Rust mirrors of the WIT types (`wit/writeback.wit`).
//!
//! The logic modules work on these types only, so they compile and are tested on the native
//! target; `lib.rs` converts between them and the types `wit-bindgen` generates. Each type
//! documents only what the WIT does not: see the WIT for the meaning of every field.

mod http;
mod output;

pub use http::{Method, Request, Response};
pub use output::{
    AccessControl, CsvDialect, DEFAULT_ROW_GROUP_ROWS, FileNaming, Output, OutputFormat,
    ParquetCompression, ParquetOptions, SplitLimits, UpdateMode,
};

/// A person or service identity (`types.principal`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Principal {
    /// Stable identifier, e.g. a Domo user ID.
    pub id: String,
    /// Display name; may be empty.
    pub name: String,
}

impl Principal {
    /// `31 (Sam)`, or `31` when the name is empty: how messages name a principal.
    pub fn describe(&self) -> String {
        if self.name.is_empty() {
            self.id.clone()
        } else {
            format!("{} ({})", self.id, self.name)
        }
    }
}

/// Where the dataset comes from (`types.source-kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A Domo DataSet, addressed by its GUID.
    Domo,
    /// A local CSV file the host reads.
    LocalFile,
}

/// The input dataset of a job (`types.dataset-ref`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetRef {
    /// Which kind of source serves it.
    pub kind: SourceKind,
    /// DataSet GUID, or the local file's name.
    pub id: String,
}

/// How the host authorizes storage requests (`types.credential-kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    /// An Entra ID app's client secret.
    ClientSecret,
    /// An Entra ID app's certificate.
    ClientCertificate,
    /// AKS workload identity federation.
    WorkloadIdentity,
    /// The managed identity of the host's Azure resource.
    ManagedIdentity,
    /// The storage account key.
    SharedKey,
    /// A shared access signature.
    Sas,
}

/// The storage account, without any credential (`types.account`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// How the host authorizes requests.
    pub credential: CredentialKind,
    /// Who the requests act as, for messages.
    pub identity: String,
    /// Storage account name.
    pub account_name: String,
    /// The container the credentials name.
    pub container: String,
    /// Base URL of the DFS endpoint, without trailing slash.
    pub dfs_endpoint: String,
    /// Base URL of the Blob endpoint, without trailing slash.
    pub blob_endpoint: String,
    /// Which endpoint the run writes through (`types.endpoint-choice`).
    pub endpoint: EndpointChoice,
}

/// Which of the account's endpoints a run writes through (`types.endpoint-choice`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EndpointChoice {
    /// Ask the account whether it has a hierarchical namespace.
    #[default]
    Auto,
    /// The DFS endpoint.
    Dfs,
    /// The Blob endpoint.
    Blob,
}

/// One file a run published (`types.written-file`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenFile {
    /// Its path inside the file system.
    pub path: String,
    /// Data rows written to it.
    pub rows: u64,
    /// Bytes written to it.
    pub bytes: u64,
    /// Base64 MD5 of those bytes.
    pub md5: String,
    /// Base64 SHA-256 of those bytes.
    pub sha256: String,
}

/// One run of a job (`types.job`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The job's name.
    pub name: String,
    /// Credentials (without secret) and endpoint.
    pub account: Account,
    /// The input dataset.
    pub dataset: DatasetRef,
    /// The output file.
    pub output: Output,
    /// The owner the job file asserts, if any.
    pub owner: Option<String>,
    /// Identifier of this run, kept across retries.
    pub run_id: String,
    /// When the run started, milliseconds since the Unix epoch.
    pub started_at_ms: u64,
}

/// One problem with a job (`types.validation-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// The job-file key at fault, e.g. `account.tenant_id`.
    pub field: String,
    /// What is wrong and what would be right.
    pub message: String,
}

/// How the ownership rule was decided (`types.ownership`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// The writeback's owner owns the dataset.
    Owner(Principal),
    /// The writeback's owner co-owns the dataset.
    CoOwner(Principal),
    /// The source knows no owners; the reason says so.
    NotApplicable(String),
}

/// What a successful run did (`types.report`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The file system written to.
    pub file_system: String,
    /// The published file's path inside the file system.
    pub path: String,
    /// The published file's URL.
    pub url: String,
    /// Replace or append.
    pub update: UpdateMode,
    /// Data rows written (header excluded).
    pub rows: u64,
    /// Bytes written by this run.
    pub bytes: u64,
    /// Size of the target file after the run.
    pub file_size: u64,
    /// Base64 MD5 of the bytes written by this run.
    pub md5: String,
    /// Base64 SHA-256 of the bytes written by this run.
    pub sha256: String,
    /// Number of append requests.
    pub blocks: u32,
    /// The endpoint the run wrote through (`auto` resolved).
    pub endpoint: EndpointChoice,
    /// How the ownership rule was decided.
    pub ownership: Ownership,
    /// The dataset's name.
    pub dataset_name: String,
    /// Every data file written, in order.
    pub files: Vec<WrittenFile>,
}

/// A column of the dataset (`source.column`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Source type, e.g. `STRING`.
    pub kind: String,
}

/// What the source knows of a dataset (`source.dataset-info`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DatasetInfo {
    /// The dataset's identifier.
    pub id: String,
    /// The dataset's display name.
    pub name: String,
    /// The owner, when known.
    pub owner: Option<Principal>,
    /// Co-owners, when known.
    pub co_owners: Vec<Principal>,
    /// The identity the host acts as: the writeback's owner.
    pub requester: Option<Principal>,
    /// Columns, when known.
    pub columns: Vec<Column>,
    /// Row count, when known.
    pub rows: Option<u64>,
}

/// Which credential the host holds (`auth.generation`): a counter, never the credential.
pub type Generation = u64;

/// A digest algorithm (`digest.algorithm`), computed by the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// MD5, 16 bytes.
    Md5,
    /// SHA-256, 32 bytes.
    Sha256,
    /// Azure Storage's CRC-64 (CRC-64/NVME), 8 bytes little-endian.
    Crc64,
}

/// Why the dataset source failed (`errors.source-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceError {
    /// No such dataset or file.
    NotFound(String),
    /// The source refused the credentials or the request.
    Denied(String),
    /// The dataset requested is not the one the job names.
    NotGranted(String),
    /// The source failed or stalled.
    Unavailable(String),
}

/// Why the host could not authorize requests (`errors.auth-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// The job grants no credential for storage.
    NotGranted(String),
    /// The credential was refused or cannot be renewed.
    Rejected(String),
    /// The identity provider could not be reached, or a credential file read.
    Unavailable(String),
}

/// Why an HTTP request got no response (`errors.http-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// The host does not let this job reach that origin.
    Denied(String),
    /// The request was malformed.
    InvalidRequest(String),
    /// No response within the host's time limit.
    Timeout(String),
    /// The connection failed or was dropped.
    Connection(String),
    /// The host could not authorize the request.
    Credential(AuthError),
}

/// An error response from the storage service (`job.storage-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageError {
    /// What the guest was doing, e.g. `flush`.
    pub operation: String,
    /// The HTTP status.
    pub status: u16,
    /// The service's error code; empty when the response named none.
    pub code: String,
    /// The service's message and what to check.
    pub message: String,
}

impl StorageError {
    /// A response the guest could not use although the service named no error (a missing
    /// header, an unreadable body, a length that does not add up).
    pub fn unexpected(operation: &str, status: u16, message: impl Into<String>) -> Self {
        StorageError {
            operation: operation.into(),
            status,
            code: String::new(),
            message: message.into(),
        }
    }
}

/// Malformed CSV, located (`job.data-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataError {
    /// 1-based line where the offending record starts.
    pub line: u64,
    /// 0-based byte offset where the offending record starts.
    pub byte_offset: u64,
    /// What is wrong.
    pub message: String,
}

/// Why a run failed (`job.job-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobError {
    /// The job is invalid; every problem is listed.
    Invalid(Vec<ValidationError>),
    /// The ownership rule failed.
    Ownership(String),
    /// The dataset could not be read.
    Source(SourceError),
    /// No token could be had.
    Auth(AuthError),
    /// An HTTP request got no response.
    Http(HttpError),
    /// The storage service refused a request.
    Storage(StorageError),
    /// The dataset's CSV is malformed.
    Data(DataError),
}

impl From<SourceError> for JobError {
    fn from(e: SourceError) -> Self {
        JobError::Source(e)
    }
}

impl From<AuthError> for JobError {
    fn from(e: AuthError) -> Self {
        JobError::Auth(e)
    }
}

impl From<HttpError> for JobError {
    /// A request the host could not authorize fails the run as an auth error.
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Credential(e) => JobError::Auth(e),
            e => JobError::Http(e),
        }
    }
}

impl From<StorageError> for JobError {
    fn from(e: StorageError) -> Self {
        JobError::Storage(e)
    }
}

impl From<DataError> for JobError {
    fn from(e: DataError) -> Self {
        JobError::Data(e)
    }
}

/// Severity of a log message (`log.level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Very detailed.
    Trace,
    /// Detailed.
    Debug,
    /// Normal progress.
    Info,
    /// Something to look at.
    Warn,
    /// A failure.
    Error,
}

/// A valid job for tests: Domo source, replace mode, default block size and concurrency.
#[cfg(test)]
pub(crate) fn sample_job() -> Job {
    Job {
        name: "nightly sales".into(),
        account: Account {
            credential: CredentialKind::ClientSecret,
            identity: "app 11111111-2222-3333-4444-555555555555 in tenant contoso.onmicrosoft.com"
                .into(),
            account_name: "contosolake".into(),
            container: "exports".into(),
            dfs_endpoint: "https://contosolake.dfs.core.windows.net".into(),
            blob_endpoint: "https://contosolake.blob.core.windows.net".into(),
            endpoint: EndpointChoice::Dfs,
        },
        dataset: DatasetRef {
            kind: SourceKind::Domo,
            id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".into(),
        },
        output: Output {
            file_system: None,
            directory: None,
            naming: FileNaming::DatasetId,
            update: UpdateMode::Replace,
            block_size: 4 * 1024 * 1024,
            concurrency: 4,
            allow_empty: false,
            strict: false,
            format: OutputFormat::Csv,
            dialect: CsvDialect::default(),
            parquet: ParquetOptions::default(),
            split: SplitLimits::default(),
            manifest: false,
            success_marker: false,
            utc_offset_minutes: 0,
            access: AccessControl::default(),
        },
        owner: None,
        run_id: "run-1".into(),
        started_at_ms: 1_700_000_000_000,
    }
}
