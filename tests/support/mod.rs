//! The end-to-end harness: the emulator in-process on loopback, job files written for it,
//! the real `adls-writeback` binary run against them, and a DFS client to read back.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use adls_writeback_emulator::{Emulator, EmulatorConfig, well_known};
use serde_json::Value;

/// A running emulator with its folders.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub emulator: Emulator,
    client: reqwest::Client,
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

    /// Writes a job file for `spec` and returns its path.
    pub fn write_job(&self, spec: &JobSpec) -> PathBuf {
        let dir = self.dir.path().join("jobs").join(&spec.name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("client-secret"), &spec.client_secret).unwrap();
        std::fs::write(dir.join("domo-secret"), &spec.domo_client_secret).unwrap();
        std::fs::write(dir.join("domo-token"), well_known::DOMO_DEVELOPER_TOKEN).unwrap();
        let source = match &spec.local_file {
            Some(path) => format!("kind = \"file\"\npath = \"{}\"\n", path.display()),
            None => {
                let instance = if spec.with_instance {
                    format!(
                        "instance = \"{}\"\ndeveloper_token = {{ file = \"domo-token\" }}\n",
                        self.emulator.domo_url()
                    )
                } else {
                    String::new()
                };
                format!(
                    "kind = \"domo\"\ndataset_id = \"{}\"\n[source.domo]\nclient_id = \"{}\"\n\
                     client_secret = {{ file = \"domo-secret\" }}\napi_host = \"{}\"\n{instance}",
                    spec.dataset_id,
                    well_known::DOMO_CLIENT_ID,
                    self.emulator.domo_url()
                )
            }
        };
        let text = format!(
            "name = \"{name}\"\n{top}\n[account]\nclient_id = \"{client}\"\ntenant_id = \"{tenant}\"\n\
             client_secret = {{ file = \"client-secret\" }}\naccount_name = \"{account}\"\n\
             container = \"{container}\"\ndfs_endpoint = \"{dfs}\"\nauthority_host = \"{authority}\"\n\
             [source]\n{source}\n[output]\n{output}\n{tables}",
            name = spec.name,
            top = spec.top,
            client = well_known::CLIENT_ID,
            tenant = spec.tenant_id,
            account = well_known::ACCOUNT_NAME,
            container = well_known::CONTAINER,
            dfs = self.emulator.account_endpoint(well_known::ACCOUNT_NAME),
            authority = self.emulator.authority_url(),
            output = spec.output,
            tables = spec.tables,
        );
        let path = dir.join("job.toml");
        std::fs::write(&path, text).unwrap();
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

    /// The committed bytes of a file, or `None` when it does not exist.
    pub async fn read_file(&self, path: &str) -> Option<Vec<u8>> {
        let url = format!(
            "{}/{}/{path}",
            self.emulator.account_endpoint(well_known::ACCOUNT_NAME),
            well_known::CONTAINER
        );
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

/// Runs the CLI with `args`.
pub async fn cli(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_adls-writeback"))
        .args(args)
        .env("ADLS_WRITEBACK_LOG", "warn")
        // Tests that check the history give their own; the others keep none.
        .env("ADLS_WRITEBACK_HISTORY", "off")
        .output()
        .await
        .unwrap()
}

/// Runs `adls-writeback run JOB --json` and returns the exit code and the JSON printed.
pub async fn run_json(job: &Path) -> (i32, Value, String) {
    let output = cli(&["run", job.to_str().unwrap(), "--json"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (output.status.code().unwrap_or(-1), json, stderr)
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

/// Starts `adls-writeback run JOB --json` without waiting; the process is killed when the
/// handle is dropped.
pub fn spawn_run(job: &Path) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_adls-writeback"))
        .args(["run", job.to_str().unwrap(), "--json"])
        .env("ADLS_WRITEBACK_LOG", "warn")
        .env("ADLS_WRITEBACK_HISTORY", "off")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Like [`run_json`], but the run is killed (and the test fails) after `deadline`.
pub async fn run_json_within(job: &Path, deadline: std::time::Duration) -> (i32, Value, String) {
    let child = spawn_run(job);
    let output = tokio::time::timeout(deadline, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("`run {}` took longer than {deadline:?}", job.display()))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (output.status.code().unwrap_or(-1), json, stderr)
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
