//! The job file: a TOML document naming the account, the dataset and the output.
//! Every key is documented in `docs/job-file.md`.
//!
//! Loading is two steps: [`JobFile::load`] parses (a syntax error or unknown key stops
//! there, with its line), then [`JobFile::resolve`] applies defaults, reads secrets and
//! checks what only the host can check, collecting every problem by field. The guest's
//! `validate` checks the rest.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use reqwest::Url;
use serde::Deserialize;

use crate::secret::{Secret, SecretRef};

/// Azure's public authority host, as azure-identity defaults it.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// Domo's public API host.
pub const DEFAULT_DOMO_API_HOST: &str = "https://api.domo.com";
/// Default size of one append request.
pub const DEFAULT_BLOCK_SIZE: u32 = 4 * 1024 * 1024;
/// Default number of append requests in flight.
pub const DEFAULT_CONCURRENCY: u32 = 4;

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
    pub account: crate::accounts::AccountField,
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
    pub schedule: Option<crate::schedule::ScheduleSection>,
    /// `[retry]`: retries of a failed run (default none).
    #[serde(default)]
    pub retry: crate::retry::RetrySection,
    #[serde(skip)]
    base_dir: PathBuf,
    #[serde(skip)]
    stem: String,
}

/// `[account]`: the Entra ID application and the storage account.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSection {
    pub client_id: Option<String>,
    pub tenant_id: Option<String>,
    pub client_secret: Option<SecretRef>,
    pub account_name: Option<String>,
    pub container: Option<String>,
    pub dfs_endpoint: Option<String>,
    pub authority_host: Option<String>,
}

/// `[source]`: the input dataset.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    pub kind: String,
    pub dataset_id: Option<String>,
    pub path: Option<PathBuf>,
    pub domo: Option<DomoSection>,
}

/// `[source.domo]`: Domo API credentials.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomoSection {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretRef>,
    pub api_host: Option<String>,
    pub instance: Option<String>,
    pub developer_token: Option<SecretRef>,
}

/// `[output]`: where the file goes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    pub file_system: Option<String>,
    pub directory: Option<String>,
    pub select_filename: Option<String>,
    pub file_name: Option<String>,
    pub update: Option<String>,
    pub block_size: Option<u32>,
    pub concurrency: Option<u32>,
    pub allow_empty: Option<bool>,
    pub strict: Option<bool>,
}

/// `[limits]`: the sandbox's caps.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    pub timeout_secs: Option<u64>,
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
    pub max_retries: Option<u32>,
    pub backoff_initial_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    pub retry_timeout_secs: Option<u64>,
    pub request_timeout_secs: Option<u64>,
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
    pub name: String,
    pub owner: Option<String>,
    /// Extra root certificates to trust, besides the public ones.
    pub ca_file: Option<PathBuf>,
    pub account: Account,
    pub source: Source,
    pub output: Output,
    pub limits: Limits,
    /// Request retries and timeouts.
    pub http: Http,
    pub emulator: Option<EmulatorSection>,
    /// When `serve` runs it.
    pub schedule: crate::schedule::Schedule,
    /// Retries of a failed run.
    pub retry: crate::retry::RetryPolicy,
    /// The job file's folder; relative paths start here.
    pub base_dir: PathBuf,
}

/// The storage account and the credentials to reach it.
#[derive(Debug, Clone)]
pub struct Account {
    pub client_id: String,
    pub tenant_id: String,
    pub client_secret: Option<Secret>,
    pub account_name: String,
    pub container: String,
    pub dfs_endpoint: String,
    pub authority_host: String,
}

/// The dataset source.
#[derive(Debug, Clone)]
pub enum Source {
    /// A CSV file on this machine.
    LocalFile { path: PathBuf, dataset_id: String },
    /// A Domo DataSet.
    Domo(DomoSource),
}

/// Domo credentials and the DataSet.
#[derive(Debug, Clone)]
pub struct DomoSource {
    pub dataset_id: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub api_host: String,
    /// The instance (`https://company.domo.com`) and developer token for co-owners.
    pub instance: Option<(String, Option<Secret>)>,
}

/// How the output is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Naming {
    DatasetId,
    FileName(String),
}

/// Output options.
#[derive(Debug, Clone)]
pub struct Output {
    pub file_system: Option<String>,
    pub directory: Option<String>,
    pub naming: Naming,
    pub append: bool,
    pub block_size: u32,
    pub concurrency: u32,
    /// Write a dataset with a header and no rows instead of failing.
    pub allow_empty: bool,
    /// Fail on a record whose field count differs from the header's.
    pub strict: bool,
}

/// Sandbox caps.
#[derive(Debug, Clone)]
pub struct Limits {
    pub timeout: Duration,
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
    pub retry: crate::backoff::RetryConfig,
    /// Longest time one attempt of a request may take, its answer included.
    pub request_timeout: Duration,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            retry: crate::backoff::RetryConfig::default(),
            request_timeout: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
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
        let a = self.account.into_section(&mut problems);
        let from_env = |v: Option<String>, var: &str| v.or_else(|| std::env::var(var).ok());
        let account_name = a.account_name.unwrap_or_default();
        let client_secret = match a.client_secret {
            Some(r) => resolve_secret(&r, &base, "account.client_secret", &mut problems),
            None => match std::env::var("AZURE_CLIENT_SECRET") {
                Ok(v) if !v.is_empty() => Some(Secret::new(v)),
                _ => {
                    problems.push(FieldError::new(
                        "account.client_secret",
                        "missing: give `{ env = \"NAME\" }` or `{ file = \"path\" }`, or set AZURE_CLIENT_SECRET",
                    ));
                    None
                }
            },
        };
        let authority_host = from_env(a.authority_host, "AZURE_AUTHORITY_HOST")
            .unwrap_or_else(|| DEFAULT_AUTHORITY_HOST.into());
        check_endpoint("account.authority_host", &authority_host, &mut problems);
        let account = Account {
            client_id: from_env(a.client_id, "AZURE_CLIENT_ID").unwrap_or_default(),
            tenant_id: from_env(a.tenant_id, "AZURE_TENANT_ID").unwrap_or_default(),
            client_secret,
            dfs_endpoint: a
                .dfs_endpoint
                .map(|e| e.trim_end_matches('/').to_string())
                .unwrap_or_else(|| format!("https://{account_name}.dfs.core.windows.net")),
            account_name,
            container: a.container.unwrap_or_default(),
            authority_host: authority_host.trim_end_matches('/').to_string(),
        };

        let source = resolve_source(self.source, &base, &mut problems);
        let output = resolve_output(self.output, &mut problems);
        let limits = Limits {
            timeout: Duration::from_secs(self.limits.timeout_secs.unwrap_or(3600).max(1)),
            memory_bytes: (self.limits.memory_mib.unwrap_or(512).clamp(16, 4096) as usize) << 20,
            fuel: self.limits.fuel,
            stall: Duration::from_secs(DEFAULT_STALL_SECS),
        };
        let mut limits = limits;
        if let Some(secs) = self.limits.stall_secs
            && in_range("limits.stall_secs", secs, 1, 86_400, &mut problems)
        {
            limits.stall = Duration::from_secs(secs);
        }
        let http = resolve_http(&self.http, &mut problems);
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
            Some(section) => crate::schedule::Schedule::from_section(section),
            None => Ok(crate::schedule::Schedule::manual()),
        };
        let schedule = schedule
            .map_err(|list| problems.extend(list))
            .unwrap_or_else(|()| crate::schedule::Schedule::manual());
        let retry = crate::retry::RetryPolicy::from_section(&self.retry)
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

fn resolve_secret(
    r: &SecretRef,
    base: &Path,
    field: &str,
    problems: &mut Vec<FieldError>,
) -> Option<Secret> {
    r.resolve(base)
        .map_err(|e| problems.push(FieldError::new(field, e)))
        .ok()
}

fn resolve_source(s: SourceSection, base: &Path, problems: &mut Vec<FieldError>) -> Source {
    match s.kind.as_str() {
        "file" => {
            let path = match s.path {
                Some(p) => base.join(p),
                None => {
                    problems.push(FieldError::new(
                        "source.path",
                        "missing: the CSV file to export",
                    ));
                    PathBuf::new()
                }
            };
            if !path.as_os_str().is_empty() && !path.is_file() {
                problems.push(FieldError::new(
                    "source.path",
                    format!("no such file `{}`", path.display()),
                ));
            }
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            let dataset_id = s.dataset_id.or(stem).unwrap_or_default();
            Source::LocalFile { path, dataset_id }
        }
        kind => {
            if kind != "domo" {
                problems.push(FieldError::new(
                    "source.kind",
                    format!("`{kind}` is not a source kind: use \"domo\" or \"file\""),
                ));
            }
            let d = s.domo.unwrap_or_default();
            let field = "source.domo.client_id";
            let client_id = d.client_id.unwrap_or_else(|| {
                problems.push(FieldError::new(field, "missing: the Domo API client ID"));
                String::new()
            });
            let client_secret = match d.client_secret {
                Some(r) => resolve_secret(&r, base, "source.domo.client_secret", problems),
                None => {
                    problems.push(FieldError::new(
                        "source.domo.client_secret",
                        "missing: give `{ env = \"NAME\" }` or `{ file = \"path\" }`",
                    ));
                    None
                }
            };
            let api_host = d.api_host.unwrap_or_else(|| DEFAULT_DOMO_API_HOST.into());
            check_endpoint("source.domo.api_host", &api_host, problems);
            let instance = d.instance.map(|url| {
                check_endpoint("source.domo.instance", &url, problems);
                let token = match d.developer_token {
                    Some(r) => resolve_secret(&r, base, "source.domo.developer_token", problems),
                    None => {
                        problems.push(FieldError::new(
                            "source.domo.developer_token",
                            "missing: reading co-owners from the instance needs a developer token",
                        ));
                        None
                    }
                };
                (url.trim_end_matches('/').to_string(), token)
            });
            Source::Domo(DomoSource {
                dataset_id: s.dataset_id.unwrap_or_default(),
                client_id,
                client_secret,
                api_host: api_host.trim_end_matches('/').to_string(),
                instance,
            })
        }
    }
}

fn resolve_output(o: OutputSection, problems: &mut Vec<FieldError>) -> Output {
    let naming = match o.select_filename.as_deref().unwrap_or("dataset-id") {
        "dataset-id" => Naming::DatasetId,
        // An empty name is reported by the guest's validation, with its other rules.
        "file-name" => Naming::FileName(o.file_name.unwrap_or_default()),
        other => {
            problems.push(FieldError::new(
                "output.select_filename",
                format!("`{other}` is not an option: use \"dataset-id\" or \"file-name\""),
            ));
            Naming::DatasetId
        }
    };
    let append = match o.update.as_deref().unwrap_or("replace") {
        "replace" => false,
        "append" => true,
        other => {
            problems.push(FieldError::new(
                "output.update",
                format!("`{other}` is not an update mode: use \"replace\" or \"append\""),
            ));
            false
        }
    };
    Output {
        file_system: o.file_system,
        directory: o.directory,
        naming,
        append,
        block_size: o.block_size.unwrap_or(DEFAULT_BLOCK_SIZE),
        concurrency: o.concurrency.unwrap_or(DEFAULT_CONCURRENCY),
        allow_empty: o.allow_empty.unwrap_or(false),
        strict: o.strict.unwrap_or(false),
    }
}

fn in_range(field: &str, value: u64, min: u64, max: u64, problems: &mut Vec<FieldError>) -> bool {
    let ok = (min..=max).contains(&value);
    if !ok {
        problems.push(FieldError::new(
            field,
            format!("{value} is out of range: {min} to {max}"),
        ));
    }
    ok
}

fn resolve_http(h: &HttpSection, problems: &mut Vec<FieldError>) -> Http {
    let mut http = Http::default();
    let retry = &mut http.retry;
    if let Some(n) = h.max_retries
        && in_range("http.max_retries", n.into(), 0, 20, problems)
    {
        retry.max_retries = n;
    }
    if let Some(ms) = h.backoff_initial_ms
        && in_range("http.backoff_initial_ms", ms, 1, 60_000, problems)
    {
        retry.backoff.initial = Duration::from_millis(ms);
    }
    if let Some(ms) = h.backoff_max_ms
        && in_range("http.backoff_max_ms", ms, 1, 600_000, problems)
    {
        retry.backoff.max = Duration::from_millis(ms);
    }
    if retry.backoff.max < retry.backoff.initial {
        problems.push(FieldError::new(
            if h.backoff_max_ms.is_some() {
                "http.backoff_max_ms"
            } else {
                "http.backoff_initial_ms"
            },
            format!(
                "backoff_max_ms ({} ms) is less than backoff_initial_ms ({} ms)",
                retry.backoff.max.as_millis(),
                retry.backoff.initial.as_millis()
            ),
        ));
    }
    if let Some(secs) = h.retry_timeout_secs
        && in_range("http.retry_timeout_secs", secs, 1, 86_400, problems)
    {
        retry.retry_timeout = Duration::from_secs(secs);
    }
    if let Some(secs) = h.request_timeout_secs
        && in_range("http.request_timeout_secs", secs, 1, 86_400, problems)
    {
        http.request_timeout = Duration::from_secs(secs);
    }
    http
}

/// An endpoint is `https://`, or `http://` on a loopback address (an emulator).
pub fn check_endpoint(field: &str, value: &str, problems: &mut Vec<FieldError>) {
    match Url::parse(value) {
        Ok(url) if url.scheme() == "https" && url.host().is_some() => {}
        Ok(url) if url.scheme() == "http" && is_loopback(&url) => {}
        Ok(url) if url.scheme() == "http" => problems.push(FieldError::new(
            field,
            format!("`{value}` uses plain http, which is allowed only for loopback addresses"),
        )),
        _ => problems.push(FieldError::new(
            field,
            format!("`{value}` is not an https URL"),
        )),
    }
}

/// True for `localhost`, 127.0.0.0/8 and `::1`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Job, Vec<FieldError>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), "s3cret\n").unwrap();
        std::fs::write(dir.path().join("data.csv"), "a\n1\n").unwrap();
        let path = dir.path().join("job.toml");
        std::fs::write(&path, text).unwrap();
        JobFile::load(&path).unwrap().resolve()
    }

    const BASE: &str = r#"
        [account]
        client_id = "c"
        tenant_id = "t"
        client_secret = { file = "secret" }
        account_name = "acct"
        container = "box"
        [source]
        kind = "file"
        path = "data.csv"
    "#;

    #[test]
    fn defaults_fill_the_gaps() {
        let (job, problems) = load(BASE);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(job.name, "job");
        assert_eq!(
            job.account.dfs_endpoint,
            "https://acct.dfs.core.windows.net"
        );
        assert_eq!(job.account.authority_host, DEFAULT_AUTHORITY_HOST);
        assert_eq!(
            job.account.client_secret.as_ref().unwrap().expose(),
            "s3cret"
        );
        assert_eq!(job.dataset_id(), "data");
        assert_eq!(job.output.naming, Naming::DatasetId);
        assert_eq!(job.output.block_size, DEFAULT_BLOCK_SIZE);
        assert!(!job.output.append);
    }

    #[test]
    fn every_host_side_problem_is_reported_at_once() {
        let text = BASE
            .replace("{ file = \"secret\" }", "{ file = \"missing\" }")
            .replace("path = \"data.csv\"", "path = \"nope.csv\"")
            + "[output]\nselect_filename = \"whatever\"\nupdate = \"merge\"\n";
        let text = text.replace(
            "tenant_id = \"t\"",
            "tenant_id = \"t\"\nauthority_host = \"http://login.example.com\"",
        );
        let (_, problems) = load(&text);
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "account.client_secret",
                "account.authority_host",
                "source.path",
                "output.select_filename",
                "output.update"
            ]
        );
        assert!(problems.iter().all(|p| !p.message.contains("s3cret")));
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.toml");
        std::fs::write(&path, BASE.replace("client_id = \"c\"", "clientid = \"c\"")).unwrap();
        let err = JobFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("clientid"), "{err}");
    }

    #[test]
    fn domo_source_needs_its_credentials() {
        let text = BASE.replace(
            "kind = \"file\"\n        path = \"data.csv\"",
            "kind = \"domo\"\ndataset_id = \"x\"",
        );
        let (job, problems) = load(&text);
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            ["source.domo.client_id", "source.domo.client_secret"]
        );
        assert!(matches!(job.source, Source::Domo(_)));
    }

    #[test]
    fn http_and_stall_settings_are_read_and_checked_by_field() {
        let (job, problems) = load(BASE);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(job.http, Http::default());
        assert_eq!(job.http.retry.max_retries, 8);
        assert_eq!(job.limits.stall, Duration::from_secs(120));
        let text = BASE.to_string()
            + "[limits]\nstall_secs = 5\n[http]\nmax_retries = 2\nbackoff_initial_ms = 50\n\
               backoff_max_ms = 1000\nretry_timeout_secs = 30\nrequest_timeout_secs = 10\n";
        let (job, problems) = load(&text);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(job.limits.stall, Duration::from_secs(5));
        let retry = &job.http.retry;
        assert_eq!(retry.max_retries, 2);
        assert_eq!(retry.backoff.initial, Duration::from_millis(50));
        assert_eq!(retry.backoff.max, Duration::from_secs(1));
        assert_eq!(retry.retry_timeout, Duration::from_secs(30));
        assert_eq!(job.http.request_timeout, Duration::from_secs(10));

        let text = BASE.to_string()
            + "[limits]\nstall_secs = 0\n[http]\nmax_retries = 99\nbackoff_initial_ms = 0\n\
               retry_timeout_secs = 0\nrequest_timeout_secs = 0\n";
        let (_, problems) = load(&text);
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "limits.stall_secs",
                "http.max_retries",
                "http.backoff_initial_ms",
                "http.retry_timeout_secs",
                "http.request_timeout_secs"
            ]
        );
        let text = BASE.to_string() + "[http]\nbackoff_initial_ms = 5000\nbackoff_max_ms = 100\n";
        let (_, problems) = load(&text);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "http.backoff_max_ms");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.toml");
        std::fs::write(&path, BASE.to_string() + "[http]\nretries = 1\n").unwrap();
        let err = JobFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("retries"), "{err}");
    }

    #[test]
    fn endpoints_must_be_https_or_loopback_http() {
        for (value, ok) in [
            ("https://login.microsoftonline.com", true),
            ("http://127.0.0.1:1234", true),
            ("http://localhost:80", true),
            ("http://[::1]:80", true),
            ("http://10.0.0.1", false),
            ("ftp://host", false),
            ("not a url", false),
        ] {
            let mut problems = Vec::new();
            check_endpoint("x", value, &mut problems);
            assert_eq!(problems.is_empty(), ok, "{value}: {problems:?}");
        }
    }
}
