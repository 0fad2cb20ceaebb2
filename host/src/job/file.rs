//! The job file as written: its sections and keys, as serde reads them (`deny_unknown_fields`,
//! so a misspelt key stops the load with its line). [`JobFile::resolve`](super::JobFile)
//! turns them into a [`Job`](super::Job).

use std::path::PathBuf;

use serde::Deserialize;

use crate::job::secret::SecretRef;

/// The job file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    /// Job name; the file's stem when absent.
    pub name: Option<String>,
    /// Asserted writeback owner (a Domo user ID).
    pub owner: Option<String>,
    /// A PEM file of extra root certificates to trust (an emulator's or a private CA).
    pub ca_file: Option<PathBuf>,
    /// `[account]`, or `account = "name"`: a saved account (`adls-writeback accounts`).
    #[serde(default)]
    pub account: crate::job::accounts::AccountField,
    /// `[source]`.
    pub source: SourceSection,
    /// `[output]`.
    #[serde(default)]
    pub output: OutputSection,
    /// `[limits]`.
    #[serde(default)]
    pub limits: LimitsSection,
    /// `[http]`: retries and timeouts of each request.
    #[serde(default)]
    pub http: HttpSection,
    /// `[emulator]`: run against the built-in emulator, started in-process.
    pub emulator: Option<EmulatorSection>,
    /// `[schedule]`: when `serve` runs the job (none: manual).
    pub schedule: Option<crate::job::schedule::ScheduleSection>,
    /// `[retry]`: retries of a failed run (default none).
    #[serde(default)]
    pub retry: crate::job::retry::RetrySection,
    #[serde(skip)]
    pub(super) base_dir: PathBuf,
    #[serde(skip)]
    pub(super) stem: String,
}

/// `[account]`: the storage account and its credential.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSection {
    /// How requests are authorized: `client-secret` (default), `client-certificate`,
    /// `shared-key`, `sas`, `workload-identity`, `managed-identity` or `default`.
    pub auth: Option<String>,
    /// `public` (default), `china` or `us-government`: the DFS suffix and the authority.
    pub cloud: Option<String>,
    /// The Entra ID application (client) ID.
    pub client_id: Option<String>,
    /// The tenant: a GUID or a domain.
    pub tenant_id: Option<String>,
    /// Where the client secret is (`{ env = … }` or `{ file = … }`); never inline.
    pub client_secret: Option<SecretRef>,
    /// Where the PEM holding the app's certificate and private key is, with
    /// `auth = "client-certificate"` (`{ file = "app.pem" }` or `{ env = … }`).
    pub client_certificate: Option<SecretRef>,
    /// Where the account key is, with `auth = "shared-key"`.
    pub account_key: Option<SecretRef>,
    /// Where the SAS token is, with `auth = "sas"`.
    pub sas_token: Option<SecretRef>,
    /// The service account token file, with `auth = "workload-identity"`.
    pub federated_token_file: Option<PathBuf>,
    /// The managed identity's token endpoint, when not IMDS's (an emulator's, in tests).
    pub identity_endpoint: Option<String>,
    /// The storage account's name.
    pub account_name: Option<String>,
    /// The container (file system) the job writes into.
    pub container: Option<String>,
    /// The DFS endpoint, when not the account's default one in its cloud.
    pub dfs_endpoint: Option<String>,
    /// The Blob endpoint, when not the one beside the DFS endpoint.
    pub blob_endpoint: Option<String>,
    /// `auto` (default), `dfs` or `blob`: which endpoint runs write through.
    pub endpoint: Option<String>,
    /// The Entra ID authority, when not the cloud's (`https://login.microsoftonline.com`).
    pub authority_host: Option<String>,
}

/// `[source]`: the input dataset.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    /// `domo` or `file`.
    pub kind: String,
    /// The DataSet ID (Domo), or the ID a local file is reported under.
    pub dataset_id: Option<String>,
    /// The CSV file of a `file` source, relative to the job file.
    pub path: Option<PathBuf>,
    /// `[source.domo]`: the Domo API client.
    pub domo: Option<DomoSection>,
}

/// `[source.domo]`: Domo API credentials.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomoSection {
    /// The Domo API client ID.
    pub client_id: Option<String>,
    /// Where the Domo client secret is.
    pub client_secret: Option<SecretRef>,
    /// The Domo API host, when not `https://api.domo.com`.
    pub api_host: Option<String>,
    /// The Domo instance URL, to read co-owners through its permissions API.
    pub instance: Option<String>,
    /// Where the Domo developer token for `instance` is.
    pub developer_token: Option<SecretRef>,
}

/// `[output]`: where the file goes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// The file system to write into, when not the account's container.
    pub file_system: Option<String>,
    /// The directory inside the file system.
    pub directory: Option<String>,
    /// `dataset-id` or `file-name`: how the file is named.
    pub select_filename: Option<String>,
    /// The file's name, with `select_filename = "file-name"`.
    pub file_name: Option<String>,
    /// `replace` or `append`.
    pub update: Option<String>,
    /// Bytes per append request.
    pub block_size: Option<u32>,
    /// Append requests in flight at once.
    pub concurrency: Option<u32>,
    /// Write a dataset with a header and no rows instead of failing.
    pub allow_empty: Option<bool>,
    /// Fail on a record whose field count differs from the header's.
    pub strict: Option<bool>,
    /// `csv`, `csv.gz` or `parquet`.
    pub format: Option<String>,
    /// Rows in one Parquet row group.
    pub parquet_row_group_rows: Option<u32>,
    /// Compression of Parquet pages: `snappy`, `zstd` or `none`.
    pub parquet_compression: Option<String>,
    /// Field separator of CSV output: `,`, `;`, `|` or a tab.
    pub delimiter: Option<String>,
    /// Whether every CSV file starts with the header record.
    pub header: Option<bool>,
    /// Quote every CSV field.
    pub quote_all: Option<bool>,
    /// Start every CSV file with a byte-order mark (true), never (false); as the source
    /// when absent.
    pub bom: Option<bool>,
    /// Most data rows in one part of a split output.
    pub max_rows_per_file: Option<u64>,
    /// Most bytes in one part of a split output.
    pub max_bytes_per_file: Option<u64>,
    /// Write `_manifest.json` beside the parts.
    pub manifest: Option<bool>,
    /// Write an empty `_SUCCESS` marker beside the parts.
    pub success_marker: Option<bool>,
    /// The IANA time zone of the name templates' date and time tokens (default UTC).
    pub time_zone: Option<String>,
    /// `x-ms-permissions` of the files and directories a run creates (`0640`, `rw-r-----`).
    pub permissions: Option<String>,
    /// `x-ms-umask` of what a run creates (`0027`).
    pub umask: Option<String>,
    /// The POSIX ACL set on each file a run creates, before it is published.
    pub acl: Option<String>,
}

/// `[limits]`: the sandbox's caps.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Wall-time limit of a run, in seconds.
    pub timeout_secs: Option<u64>,
    /// Memory cap of a run (the guest's memory and the bodies the host holds), in MiB.
    pub memory_mib: Option<u64>,
    /// Fuel budget of a run (roughly, WebAssembly instructions); unlimited when absent.
    pub fuel: Option<u64>,
    /// Seconds a read may wait for the source's next bytes before the run fails.
    pub stall_secs: Option<u64>,
}

/// `[http]`: how each request is retried and how long one attempt may take.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Retries of one request after its first attempt.
    pub max_retries: Option<u32>,
    /// Ceiling of the first wait between attempts, in milliseconds.
    pub backoff_initial_ms: Option<u64>,
    /// Longest wait between attempts, in milliseconds.
    pub backoff_max_ms: Option<u64>,
    /// Total time budget of a request, its retries included, in seconds.
    pub retry_timeout_secs: Option<u64>,
    /// Longest time one attempt of a request may take, in seconds.
    pub request_timeout_secs: Option<u64>,
    /// The proxy every request goes through (`http://host:port`), instead of
    /// `HTTPS_PROXY` / `HTTP_PROXY`; `NO_PROXY` still applies.
    pub proxy: Option<String>,
    /// The proxy's user name, for Basic authentication.
    pub proxy_username: Option<String>,
    /// Where the proxy's password is (`{ env = … }` or `{ file = … }`).
    pub proxy_password: Option<SecretRef>,
}

/// `[emulator]`: paths are relative to the job file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmulatorSection {
    /// Where the emulator keeps its files (default `.adls-emulator` beside the job file).
    pub data_dir: Option<PathBuf>,
    /// Folder of Domo datasets (`<id>.csv` + `<id>.json`) it serves.
    pub datasets_dir: Option<PathBuf>,
}
