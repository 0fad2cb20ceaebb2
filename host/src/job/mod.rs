//! The job file: a TOML document naming the account, the dataset and the output.
//! Every key is documented in `docs/job-file.md`.
//!
//! Loading is two steps: [`JobFile::load`] parses (a syntax error or unknown key stops
//! there, with its line), then [`JobFile::resolve`] applies defaults, reads secrets and
//! checks what only the host can check, collecting every problem by field. The guest's
//! `validate` checks the rest.

pub mod accounts;
pub mod credential;
mod file;
pub mod output;
pub mod retry;
pub mod schedule;
pub mod secret;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use reqwest::Url;

use crate::job::secret::{Secret, SecretRef};

pub use file::{
    AccountSection, DomoSection, EmulatorSection, HttpSection, JobFile, LimitsSection,
    OutputSection, SourceSection,
};

/// Azure's public authority host, as azure-identity defaults it.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// Domo's public API host.
pub const DEFAULT_DOMO_API_HOST: &str = "https://api.domo.com";
/// Default size of one append request.
pub const DEFAULT_BLOCK_SIZE: u32 = 4 * 1024 * 1024;
/// Default number of append requests in flight.
pub const DEFAULT_CONCURRENCY: u32 = 4;

/// One problem with a job, by job-file key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The key, e.g. `account.client_secret`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A job with defaults applied and secrets read, ready to run.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job's name (the file's stem unless `name` is given).
    pub name: String,
    /// The writeback's owner, when the job file asserts one.
    pub owner: Option<String>,
    /// Extra root certificates to trust, besides the public ones.
    pub ca_file: Option<PathBuf>,
    /// The storage account and its credentials.
    pub account: Account,
    /// The input dataset.
    pub source: Source,
    /// Where and how the file is written.
    pub output: Output,
    /// The sandbox's caps.
    pub limits: Limits,
    /// Request retries and timeouts.
    pub http: Http,
    /// `[emulator]`: run against the emulator started in-process.
    pub emulator: Option<EmulatorSection>,
    /// When `serve` runs it.
    pub schedule: crate::job::schedule::Schedule,
    /// Retries of a failed run.
    pub retry: crate::job::retry::RetryPolicy,
    /// The job file's folder; relative paths start here.
    pub base_dir: PathBuf,
}

/// The storage account and the credentials to reach it.
#[derive(Debug, Clone)]
pub struct Account {
    /// The Entra ID application (client) ID (empty for a key or SAS).
    pub client_id: String,
    /// The tenant: a GUID or a domain (empty for a key or SAS).
    pub tenant_id: String,
    /// The credential, secrets read (`None` when it could not be).
    pub credential: Option<crate::job::credential::Credential>,
    /// The cloud the account lives in.
    pub cloud: crate::job::credential::Cloud,
    /// The storage account's name.
    pub account_name: String,
    /// The container (file system).
    pub container: String,
    /// The DFS endpoint the run may reach.
    pub dfs_endpoint: String,
    /// The Blob endpoint the run may reach.
    pub blob_endpoint: String,
    /// Which endpoint runs write through.
    pub endpoint: Endpoint,
    /// The Entra ID authority host.
    pub authority_host: String,
}

/// Which of the account's endpoints runs write through (`account.endpoint`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Endpoint {
    /// Whichever the account's namespace calls for, asked once per run.
    #[default]
    Auto,
    /// The DFS endpoint (hierarchical namespace).
    Dfs,
    /// The Blob endpoint (any account, the only one of a flat-namespace account).
    Blob,
}

impl Endpoint {
    /// Reads `account.endpoint`.
    pub fn parse(value: &str) -> Result<Endpoint, String> {
        match value {
            "auto" => Ok(Endpoint::Auto),
            "dfs" => Ok(Endpoint::Dfs),
            "blob" => Ok(Endpoint::Blob),
            other => Err(format!(
                "`{other}` is not an endpoint: use \"auto\" (ask the account), \"dfs\" or \"blob\""
            )),
        }
    }
}

/// The Blob endpoint beside a DFS one: `.dfs.` becomes `.blob.` in an Azure host name; a
/// path-style emulator URL serves both APIs at one address.
pub fn blob_endpoint_of(dfs_endpoint: &str) -> String {
    match Url::parse(dfs_endpoint) {
        Ok(url) if url.host_str().is_some_and(|h| h.contains(".dfs.")) => {
            dfs_endpoint.replacen(".dfs.", ".blob.", 1)
        }
        _ => dfs_endpoint.to_owned(),
    }
}

/// The dataset source.
#[derive(Debug, Clone)]
pub enum Source {
    /// A CSV file on this machine.
    LocalFile {
        /// The file.
        path: PathBuf,
        /// The ID the file is reported under.
        dataset_id: String,
    },
    /// A Domo DataSet.
    Domo(DomoSource),
}

/// Domo credentials and the DataSet.
#[derive(Debug, Clone)]
pub struct DomoSource {
    /// The DataSet ID.
    pub dataset_id: String,
    /// The Domo API client ID.
    pub client_id: String,
    /// The Domo client secret, read from its reference (`None` when it could not be).
    pub client_secret: Option<Secret>,
    /// The Domo API host.
    pub api_host: String,
    /// The instance (`https://company.domo.com`) and developer token for co-owners.
    pub instance: Option<(String, Option<Secret>)>,
}

/// How the output is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Naming {
    /// `{dataset_id}.csv`.
    DatasetId,
    /// The name the job gives (`.csv` added when missing).
    FileName(String),
}

/// How a run writes its file: `update` in `[output]`, `update` in a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateMode {
    /// The file is written under a temporary name and renamed onto the target.
    #[default]
    Replace,
    /// Rows are added at the file's current end, with no second header.
    Append,
}

impl UpdateMode {
    /// `replace` or `append`, as the job file and the report spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateMode::Replace => "replace",
            UpdateMode::Append => "append",
        }
    }
}

/// Output options.
#[derive(Debug, Clone)]
pub struct Output {
    /// The file system, when not the account's container.
    pub file_system: Option<String>,
    /// The directory inside the file system.
    pub directory: Option<String>,
    /// How the file is named.
    pub naming: Naming,
    /// Replace the file or append to it.
    pub update: UpdateMode,
    /// Bytes per append request.
    pub block_size: u32,
    /// Append requests in flight at once.
    pub concurrency: u32,
    /// Write a dataset with a header and no rows instead of failing.
    pub allow_empty: bool,
    /// Fail on a record whose field count differs from the header's.
    pub strict: bool,
    /// The files' format, dialect, parts, manifest and time zone.
    pub files: crate::job::output::FileOptions,
}

/// Sandbox caps.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-time limit of a run.
    pub timeout: Duration,
    /// Memory cap of a run, in bytes.
    pub memory_bytes: usize,
    /// Fuel budget of a run; `None` is unlimited.
    pub fuel: Option<u64>,
    /// How long a read may wait for the source's next bytes.
    pub stall: Duration,
}

/// Default of `limits.stall_secs`.
pub const DEFAULT_STALL_SECS: u64 = 120;
/// Default of `http.request_timeout_secs`.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 300;

/// Request retries and timeouts, for every request of a run (the guest's, the token
/// requests, Domo's metadata calls).
#[derive(Debug, Clone, PartialEq)]
pub struct Http {
    /// How each request is retried.
    pub retry: crate::plumbing::retry::RetryConfig,
    /// Longest time one attempt of a request may take, its answer included.
    pub request_timeout: Duration,
    /// `http.proxy`, with its credentials; none: the environment's proxy, if any.
    pub proxy: Option<crate::plumbing::client::ProxySettings>,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            retry: crate::plumbing::retry::RetryConfig::default(),
            request_timeout: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
            proxy: None,
        }
    }
}

impl AccountSection {
    /// Applies the cloud's defaults and the `AZURE_*` environment variables and reads the
    /// credential (secrets relative to `base`; `run_bound` bounds a run, for a SAS's expiry),
    /// adding every problem to `problems`.
    pub fn resolve(
        self,
        base: &Path,
        run_bound: Duration,
        problems: &mut Vec<FieldError>,
    ) -> Account {
        let a = self;
        let from_env = |v: Option<String>, var: &str| v.or_else(|| std::env::var(var).ok());
        let account_name = a.account_name.unwrap_or_default();
        let cloud = match a.cloud.as_deref().map(credential::Cloud::parse) {
            None => credential::Cloud::default(),
            Some(Ok(cloud)) => cloud,
            Some(Err(message)) => {
                problems.push(FieldError::new("account.cloud", message));
                credential::Cloud::default()
            }
        };
        let client_id = from_env(a.client_id, "AZURE_CLIENT_ID").unwrap_or_default();
        let tenant_id = from_env(a.tenant_id, "AZURE_TENANT_ID").unwrap_or_default();
        let keys = credential::CredentialKeys {
            auth: a.auth.as_deref(),
            client_id: &client_id,
            tenant_id: &tenant_id,
            client_secret: a.client_secret.as_ref(),
            client_certificate: a.client_certificate.as_ref(),
            account_key: a.account_key.as_ref(),
            sas_token: a.sas_token.as_ref(),
            federated_token_file: a.federated_token_file.as_deref(),
            identity_endpoint: a.identity_endpoint.as_deref(),
        };
        let credential = credential::resolve(keys, base, run_bound, problems);
        let authority_host = from_env(a.authority_host, "AZURE_AUTHORITY_HOST")
            .unwrap_or_else(|| cloud.authority_host().into());
        check_endpoint("account.authority_host", &authority_host, problems);
        let endpoint = match a.endpoint.as_deref().map(Endpoint::parse) {
            None => Endpoint::default(),
            Some(Ok(endpoint)) => endpoint,
            Some(Err(message)) => {
                problems.push(FieldError::new("account.endpoint", message));
                Endpoint::default()
            }
        };
        let dfs_endpoint = a
            .dfs_endpoint
            .map(|e| e.trim_end_matches('/').to_string())
            .unwrap_or_else(|| cloud.dfs_endpoint(&account_name));
        let blob_endpoint = match a.blob_endpoint {
            Some(e) => {
                check_endpoint("account.blob_endpoint", &e, problems);
                e.trim_end_matches('/').to_string()
            }
            None => blob_endpoint_of(&dfs_endpoint),
        };
        Account {
            client_id,
            tenant_id,
            credential,
            cloud,
            dfs_endpoint,
            blob_endpoint,
            endpoint,
            account_name,
            container: a.container.unwrap_or_default(),
            authority_host: authority_host.trim_end_matches('/').to_string(),
        }
    }
}

impl JobFile {
    /// Reads and parses a job file.
    pub fn load(path: &Path) -> anyhow::Result<JobFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read job file `{}`", path.display()))?;
        let mut file: JobFile = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        file.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if file.base_dir.as_os_str().is_empty() {
            file.base_dir = PathBuf::from(".");
        }
        file.stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(file)
    }

    /// Applies defaults and the `AZURE_*` environment variables, reads secrets, and
    /// returns the job with every problem the host can see.
    pub fn resolve(self) -> (Job, Vec<FieldError>) {
        let mut problems = Vec::new();
        let base = self.base_dir.clone();
        let run_bound = Duration::from_secs(self.limits.timeout_secs.unwrap_or(3600).max(1));
        let account =
            self.account
                .into_section(&mut problems)
                .resolve(&base, run_bound, &mut problems);

        let source = resolve_source(self.source, &base, &mut problems);
        let output = resolve_output(self.output, &mut problems);
        let limits = Limits {
            timeout: Duration::from_secs(self.limits.timeout_secs.unwrap_or(3600).max(1)),
            memory_bytes: resolve::memory_bytes(self.limits.memory_mib, &output, &mut problems),
            fuel: self.limits.fuel,
            stall: Duration::from_secs(DEFAULT_STALL_SECS),
        };
        let mut limits = limits;
        if let Some(secs) = self.limits.stall_secs
            && in_range("limits.stall_secs", secs, 1, 86_400, &mut problems)
        {
            limits.stall = Duration::from_secs(secs);
        }
        let http = resolve_http(&self.http, &base, &mut problems);
        if limits.fuel == Some(0) {
            problems.push(FieldError::new(
                "limits.fuel",
                "0 would stop the run before it starts: give a budget (e.g. 10000000000) or remove the key",
            ));
        }
        let ca_file = self.ca_file.map(|f| base.join(f));
        if let Some(f) = ca_file.as_ref().filter(|f| !f.is_file()) {
            problems.push(FieldError::new(
                "ca_file",
                format!("no such file `{}`", f.display()),
            ));
        }
        let schedule = match &self.schedule {
            Some(section) => crate::job::schedule::Schedule::from_section(section),
            None => Ok(crate::job::schedule::Schedule::manual()),
        };
        let schedule = schedule
            .map_err(|list| problems.extend(list))
            .unwrap_or_else(|()| crate::job::schedule::Schedule::manual());
        let retry = crate::job::retry::RetryPolicy::from_section(&self.retry)
            .map_err(|list| problems.extend(list))
            .unwrap_or_default();
        let job = Job {
            name: self.name.unwrap_or(self.stem),
            owner: self.owner,
            ca_file,
            account,
            source,
            output,
            limits,
            http,
            emulator: self.emulator,
            schedule,
            retry,
            base_dir: base,
        };
        (job, problems)
    }
}

impl Job {
    /// The dataset's identifier as the guest sees it.
    pub fn dataset_id(&self) -> &str {
        match &self.source {
            Source::LocalFile { dataset_id, .. } => dataset_id,
            Source::Domo(d) => &d.dataset_id,
        }
    }
}

mod resolve;

use resolve::*;
pub use resolve::{check_endpoint, is_loopback};

#[cfg(test)]
mod tests;
