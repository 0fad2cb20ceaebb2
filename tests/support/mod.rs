//! The end-to-end harness: the emulator in-process on loopback, job files written for it,
//! the real `adls-writeback` binary run against them, and a DFS client to read back.

pub mod azurite;
pub mod blob;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use adls_writeback_emulator::{Emulator, EmulatorConfig, well_known};
use serde::Serialize;
use serde_json::Value;

/// A running emulator with its folders.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub emulator: Emulator,
    /// A client of the emulator's endpoints (trusting its CA when TLS is on).
    pub client: reqwest::Client,
}

/// What a job file for the harness says; defaults name the well-known app and account.
#[derive(Clone)]
pub struct JobSpec {
    pub name: String,
    pub tenant_id: String,
    pub client_secret: String,
    pub dataset_id: String,
    /// `Some(path)` makes it a local-file job.
    pub local_file: Option<PathBuf>,
    pub with_instance: bool,
    /// Extra lines for `[output]`.
    pub output: String,
    /// Extra top-level lines (before any table).
    pub top: String,
    /// The Domo client secret written to the job's `domo-secret` file.
    pub domo_client_secret: String,
    /// Extra tables after `[output]` (`[limits]`, `[http]`, ...), as TOML text.
    pub tables: String,
}

impl Default for JobSpec {
    fn default() -> Self {
        JobSpec {
            name: "e2e".into(),
            tenant_id: well_known::TENANT_ID.into(),
            client_secret: well_known::CLIENT_SECRET.into(),
            dataset_id: String::new(),
            local_file: None,
            with_instance: false,
            output: "directory = \"out\"\n".into(),
            top: String::new(),
            domo_client_secret: well_known::DOMO_CLIENT_SECRET.into(),
            tables: String::new(),
        }
    }
}

impl Harness {
    /// Starts an emulator with a datasets folder in a new temporary directory.
    pub async fn start() -> Harness {
        Harness::start_with(false).await
    }

    /// Starts an emulator serving HTTPS with its own CA; the harness's client trusts it.
    pub async fn start_tls() -> Harness {
        Harness::start_with(true).await
    }

    async fn start_with(tls: bool) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("datasets")).unwrap();
        let mut config = EmulatorConfig::well_known(dir.path().join("emulator-data"));
        config.datasets_dir = Some(dir.path().join("datasets"));
        config.tls = tls;
        let emulator = Emulator::start(config).await.unwrap();
        let mut client = reqwest::Client::builder();
        if let Some(ca) = emulator.ca_file() {
            let pem = std::fs::read(ca).unwrap();
            client = client.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        Harness {
            dir,
            emulator,
            client: client.build().unwrap(),
        }
    }

    /// Adds (or replaces) a Domo dataset: its CSV bytes and metadata.
    pub fn add_dataset(&self, id: &str, csv: &[u8], owner: u64, co_owners: &[u64]) {
        let datasets = self.dir.path().join("datasets");
        std::fs::write(datasets.join(format!("{id}.csv")), csv).unwrap();
        let co: Vec<Value> = co_owners
            .iter()
            .map(|id| serde_json::json!({"id": id, "name": format!("User {id}")}))
            .collect();
        let meta = serde_json::json!({
            "name": format!("Dataset {id}"),
            "owner": {"id": owner, "name": format!("User {owner}")},
            "coOwners": co,
        });
        std::fs::write(datasets.join(format!("{id}.json")), meta.to_string()).unwrap();
    }

    /// Adds a Domo dataset as [`add_dataset`](Self::add_dataset) does, with a schema:
    /// each column's name and Domo type.
    pub fn add_typed_dataset(&self, id: &str, csv: &[u8], owner: u64, columns: &[(&str, &str)]) {
        self.add_dataset(id, csv, owner, &[]);
        let path = self.dir.path().join("datasets").join(format!("{id}.json"));
        let mut meta: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let columns: Vec<Value> = columns
            .iter()
            .map(|(name, kind)| serde_json::json!({"name": name, "type": kind}))
            .collect();
        meta["schema"] = serde_json::json!({ "columns": columns });
        std::fs::write(path, meta.to_string()).unwrap();
    }

    /// Writes a job file for `spec` and returns its path: the document is serialised from
    /// [`JobDocument`], with `spec`'s extra TOML merged in.
    pub fn write_job(&self, spec: &JobSpec) -> PathBuf {
        let dir = self.dir.path().join("jobs").join(&spec.name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("client-secret"), &spec.client_secret).unwrap();
        std::fs::write(dir.join("domo-secret"), &spec.domo_client_secret).unwrap();
        std::fs::write(dir.join("domo-token"), well_known::DOMO_DEVELOPER_TOKEN).unwrap();
        let source = match &spec.local_file {
            Some(path) => SourceTable {
                kind: "file",
                dataset_id: None,
                path: Some(path.display().to_string()),
                domo: None,
            },
            None => SourceTable {
                kind: "domo",
                dataset_id: Some(spec.dataset_id.clone()),
                path: None,
                domo: Some(DomoTable {
                    client_id: well_known::DOMO_CLIENT_ID.into(),
                    client_secret: SecretFile::named("domo-secret"),
                    api_host: Some(self.emulator.domo_url()),
                    instance: spec.with_instance.then(|| self.emulator.domo_url()),
                    developer_token: spec.with_instance.then(|| SecretFile::named("domo-token")),
                }),
            },
        };
        let document = JobDocument {
            name: spec.name.clone(),
            account: AccountTable {
                client_id: well_known::CLIENT_ID.into(),
                tenant_id: spec.tenant_id.clone(),
                client_secret: SecretFile::named("client-secret"),
                account_name: well_known::ACCOUNT_NAME.into(),
                container: well_known::CONTAINER.into(),
                dfs_endpoint: Some(self.emulator.account_endpoint(well_known::ACCOUNT_NAME)),
                authority_host: Some(self.emulator.authority_url()),
            },
            source,
        };
        let mut table = toml::Table::try_from(&document).unwrap();
        merge(&mut table, parse_fragment(&spec.top));
        let output = table
            .entry("output")
            .or_insert_with(|| toml::Table::new().into());
        merge(output.as_table_mut().unwrap(), parse_fragment(&spec.output));
        merge(&mut table, parse_fragment(&spec.tables));
        let path = dir.join("job.toml");
        std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
        path
    }

    /// A storage token from the emulator's Entra ID endpoint, as any client would get one.
    pub async fn storage_token(&self) -> String {
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.emulator.authority_url(),
            well_known::TENANT_ID
        );
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", well_known::CLIENT_ID),
            ("client_secret", well_known::CLIENT_SECRET),
            ("scope", "https://storage.azure.com/.default"),
        ];
        let answer: Value = self
            .client
            .post(url)
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"].as_str().unwrap().to_string()
    }

    /// The DFS URL of `path` in the well-known container.
    pub fn path_url(&self, path: &str) -> String {
        format!(
            "{}/{}/{path}",
            self.emulator.account_endpoint(well_known::ACCOUNT_NAME),
            well_known::CONTAINER
        )
    }

    /// The committed bytes of a file, or `None` when it does not exist.
    pub async fn read_file(&self, path: &str) -> Option<Vec<u8>> {
        let url = self.path_url(path);
        let token = self.storage_token().await;
        let response = self
            .client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => Some(response.bytes().await.unwrap().to_vec()),
            404 => None,
            other => panic!(
                "reading {path}: HTTP {other}: {}",
                response.text().await.unwrap()
            ),
        }
    }

    /// Deletes a file (or an empty directory).
    pub async fn delete(&self, path: &str) {
        let url = self.path_url(path);
        let token = self.storage_token().await;
        let status = self
            .client
            .delete(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "deleting {path}: {status}");
    }

    /// A file's properties from `HEAD`: `content-type`, `content-md5`, and
    /// `x-ms-properties` with its values decoded (an object).
    pub async fn properties(&self, path: &str) -> Value {
        use base64::Engine as _;
        let url = self.path_url(path);
        let token = self.storage_token().await;
        let response = self
            .client
            .head(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "HEAD {path}: {}",
            response.status()
        );
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        let mut properties = serde_json::Map::new();
        for pair in header("x-ms-properties")
            .split(',')
            .filter(|p| !p.is_empty())
        {
            let (name, value) = pair.split_once('=').unwrap();
            let value = base64::engine::general_purpose::STANDARD
                .decode(value)
                .unwrap();
            properties.insert(name.into(), String::from_utf8(value).unwrap().into());
        }
        serde_json::json!({
            "content-type": header("content-type"),
            "content-md5": header("content-md5"),
            "x-ms-properties": properties,
        })
    }

    /// Every file (not directory) in the container, recursively.
    pub async fn list_files(&self) -> Vec<String> {
        let url = format!(
            "{}/{}?resource=filesystem&recursive=true",
            self.emulator.account_endpoint(well_known::ACCOUNT_NAME),
            well_known::CONTAINER
        );
        let token = self.storage_token().await;
        let answer: Value = self
            .client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut files: Vec<String> = answer["paths"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["isDirectory"].as_str() != Some("true"))
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        files.sort();
        files
    }
}

/// A deterministic CSV of at least `min_bytes`, with a UTF-8 BOM, CRLF line ends, and
/// quoted fields holding commas, doubled quotes, LF and CRLF newlines, and non-ASCII text.
pub fn generated_csv(min_bytes: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = b"\xEF\xBB\xBFid,name,comment,amount\r\n".to_vec();
    let comments = [
        "plain",
        "\"with, comma\"",
        "\"said \"\"hi\"\"\"",
        "\"line one\nline two\"",
        "\"crlf\r\ninside\"",
        "naïve café ✓",
        "",
    ];
    let mut id = 0u64;
    while out.len() < min_bytes {
        id += 1;
        let r = next();
        let comment = comments[(r % comments.len() as u64) as usize];
        let line = format!(
            "{id},name-{:x},{comment},{}.{:02}\r\n",
            r >> 20,
            r % 10_000,
            r % 100
        );
        out.extend_from_slice(line.as_bytes());
    }
    out
}

/// The job file the harness writes, before a spec's extra TOML is merged in.
#[derive(Serialize)]
pub struct JobDocument {
    /// The job's name.
    pub name: String,
    /// `[account]`.
    pub account: AccountTable,
    /// `[source]`.
    pub source: SourceTable,
}

/// `[account]`, for the emulator's well-known app and account.
#[derive(Serialize)]
pub struct AccountTable {
    /// The app's client ID.
    pub client_id: String,
    /// Its tenant.
    pub tenant_id: String,
    /// Its secret, in a file beside the job.
    pub client_secret: SecretFile,
    /// The storage account.
    pub account_name: String,
    /// The container.
    pub container: String,
    /// The emulator's DFS endpoint for the account (none for a job's own `[emulator]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dfs_endpoint: Option<String>,
    /// The emulator's Entra ID endpoint (none for a job's own `[emulator]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority_host: Option<String>,
}

/// `[source]`: a local file, or a Domo DataSet with `[source.domo]`.
#[derive(Serialize)]
pub struct SourceTable {
    /// `file` or `domo`.
    pub kind: &'static str,
    /// The DataSet ID (Domo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset_id: Option<String>,
    /// The CSV file (a local file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `[source.domo]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domo: Option<DomoTable>,
}

/// `[source.domo]`, for the emulator's well-known Domo client.
#[derive(Serialize)]
pub struct DomoTable {
    /// The Domo client ID.
    pub client_id: String,
    /// Its secret, in a file beside the job.
    pub client_secret: SecretFile,
    /// The emulator's Domo API (none for a job's own `[emulator]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_host: Option<String>,
    /// The instance, to read co-owners through its permissions API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The developer token for `instance`, in a file beside the job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub developer_token: Option<SecretFile>,
}

/// A secret reference to a file: `{ file = "NAME" }`.
#[derive(Serialize)]
pub struct SecretFile {
    /// The file, relative to the job file.
    pub file: String,
}

impl SecretFile {
    /// `{ file = "NAME" }`.
    pub fn named(name: &str) -> SecretFile {
        SecretFile { file: name.into() }
    }
}

/// A spec's extra TOML (`top`, `output`, `tables`), parsed; a test that writes bad TOML
/// there fails here, naming it.
fn parse_fragment(text: &str) -> toml::Table {
    text.parse()
        .unwrap_or_else(|e| panic!("extra TOML of a job spec: {e}\n{text}"))
}

/// Merges `extra` into `table`: tables key by key, any other value replaced.
fn merge(table: &mut toml::Table, extra: toml::Table) {
    for (key, value) in extra {
        match (table.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(more)) => merge(inner, more),
            (_, value) => {
                table.insert(key, value);
            }
        }
    }
}

/// The one way the tests launch the CLI: arguments, environment, stdin and a deadline,
/// then the output, the exit code with stdout and stderr, or the JSON printed. By default
/// the log is at `warn` and no history is kept (tests that check it give their own).
pub struct Cli {
    command: tokio::process::Command,
    args: String,
    stdin: Option<Vec<u8>>,
    deadline: Option<Duration>,
}

impl Cli {
    /// `adls-writeback ARGS`.
    pub fn new<S: AsRef<OsStr>>(args: &[S]) -> Cli {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_adls-writeback"));
        command
            .args(args)
            .env("ADLS_WRITEBACK_LOG", "warn")
            .env("ADLS_WRITEBACK_HISTORY", "off")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let shown: Vec<String> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        Cli {
            command,
            args: shown.join(" "),
            stdin: None,
            deadline: None,
        }
    }

    /// `adls-writeback run JOB --json`.
    pub fn run_json(job: &Path) -> Cli {
        Cli::new(&[OsStr::new("run"), job.as_os_str(), OsStr::new("--json")])
    }

    /// Sets an environment variable.
    pub fn env(mut self, name: &str, value: impl AsRef<OsStr>) -> Cli {
        self.command.env(name, value);
        self
    }

    /// Leaves an environment variable unset (the defaults' too).
    pub fn env_remove(mut self, name: &str) -> Cli {
        self.command.env_remove(name);
        self
    }

    /// Feeds `text` on stdin.
    pub fn stdin(mut self, text: &str) -> Cli {
        self.stdin = Some(text.as_bytes().to_vec());
        self
    }

    /// Kills the process and fails the test when it runs longer than `deadline`.
    pub fn deadline(mut self, deadline: Duration) -> Cli {
        self.deadline = Some(deadline);
        self
    }

    /// Discards stdout and stderr (for a process killed on purpose).
    pub fn quiet(mut self) -> Cli {
        self.command.stdout(Stdio::null()).stderr(Stdio::null());
        self
    }

    /// Starts the process without waiting; it is killed when the handle is dropped.
    pub fn spawn(mut self) -> tokio::process::Child {
        if self.stdin.is_some() {
            self.command.stdin(Stdio::piped());
        }
        let mut child = self.command.spawn().unwrap();
        if let Some(bytes) = self.stdin.take() {
            let mut input = child.stdin.take().unwrap();
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt as _;
                let _ = input.write_all(&bytes).await;
            });
        }
        child
    }

    /// Runs it to the end, or `Err` naming the command when the deadline passed first.
    pub async fn try_output(self) -> Result<Output, String> {
        let (args, deadline) = (self.args.clone(), self.deadline);
        let waiting = self.spawn().wait_with_output();
        match deadline {
            Some(deadline) => match tokio::time::timeout(deadline, waiting).await {
                Ok(output) => Ok(output.unwrap()),
                Err(_) => Err(format!("`{args}` took longer than {deadline:?}")),
            },
            None => Ok(waiting.await.unwrap()),
        }
    }

    /// Runs it to the end (failing the test after the deadline).
    pub async fn output(self) -> Output {
        self.try_output().await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// The exit code, stdout and stderr.
    pub async fn text(self) -> (i32, String, String) {
        let output = self.output().await;
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// The exit code, the JSON printed on stdout, and stderr.
    pub async fn json(self) -> (i32, Value, String) {
        let (code, stdout, stderr) = self.text().await;
        let json = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"));
        (code, json, stderr)
    }
}

/// Runs the CLI with `args`.
pub async fn cli(args: &[&str]) -> Output {
    Cli::new(args).output().await
}

/// Runs `adls-writeback run JOB --json` and returns the exit code and the JSON printed.
pub async fn run_json(job: &Path) -> (i32, Value, String) {
    Cli::run_json(job).json().await
}

/// Starts `adls-writeback run JOB --json` without waiting; the process is killed when the
/// handle is dropped.
pub fn spawn_run(job: &Path) -> tokio::process::Child {
    Cli::run_json(job).spawn()
}

/// Like [`run_json`], but the run is killed (and the test fails) after `deadline`.
pub async fn run_json_within(job: &Path, deadline: Duration) -> (i32, Value, String) {
    Cli::run_json(job).deadline(deadline).json().await
}

/// The SHA-256 of `bytes` in base64, as reports give it.
pub fn sha256_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
}

/// The MD5 of `bytes` in base64, as reports and `Content-MD5` give it.
pub fn md5_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    use md5::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(bytes))
}
