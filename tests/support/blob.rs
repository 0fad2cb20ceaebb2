//! A small Blob REST client signing with SharedKey (or sending a bearer token), for the
//! suites that speak the Blob protocol directly (to Azurite and to the emulator): every
//! request as sent, every answer as received, nothing interpreted.

use adls_writeback::plumbing::shared_key;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};

/// The service version the requests name.
pub const VERSION: &str = "2025-01-05";

/// A Blob endpoint of one account and its credential.
#[derive(Clone)]
pub struct BlobClient {
    client: reqwest::Client,
    account_url: String,
    auth: Auth,
}

/// How a [`BlobClient`] authorizes its requests.
#[derive(Clone)]
enum Auth {
    /// SharedKey with the account's name and key.
    SharedKey { account: String, key: String },
    /// `Authorization: Bearer` with this token.
    Bearer(String),
}

/// An answer: status, headers and body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// A header's value, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `x-ms-error-code`, when present.
    pub fn error_code(&self) -> Option<&str> {
        self.header("x-ms-error-code")
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl BlobClient {
    /// A client for `account_url` (`http://HOST:PORT/ACCOUNT`, path style).
    pub fn new(account_url: &str, account: &str, key: &str) -> BlobClient {
        BlobClient::shared_key_with(reqwest::Client::new(), account_url, account, key)
    }

    /// Like [`new`](BlobClient::new), sending through `client` (one trusting a test CA).
    pub fn shared_key_with(
        client: reqwest::Client,
        account_url: &str,
        account: &str,
        key: &str,
    ) -> BlobClient {
        BlobClient {
            client,
            account_url: account_url.trim_end_matches('/').to_string(),
            auth: Auth::SharedKey {
                account: account.to_string(),
                key: key.to_string(),
            },
        }
    }

    /// A client of `account_url` sending `token` as a bearer token through `client`.
    pub fn bearer_with(client: reqwest::Client, account_url: &str, token: &str) -> BlobClient {
        BlobClient {
            client,
            account_url: account_url.trim_end_matches('/').to_string(),
            auth: Auth::Bearer(token.to_string()),
        }
    }

    /// Sends `method` to `path` (`container/blob?query`, relative to the account URL) with
    /// `headers` and `body`, authorized with the client's credential.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Answer {
        let url = format!("{}/{path}", self.account_url);
        let body: Vec<u8> = body.into();
        let mut request = self
            .client
            .request(method.clone(), url)
            .header("x-ms-version", VERSION);
        for (name, value) in headers {
            request = request.header(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        // Bodiless PUTs still say `Content-Length: 0`, as the service requires.
        if !body.is_empty() || method == Method::PUT {
            request = request.body(body);
        }
        if let Auth::Bearer(token) = &self.auth {
            request = request.bearer_auth(token);
        }
        let mut request = request.build().unwrap();
        if let Auth::SharedKey { account, key } = &self.auth {
            assert!(shared_key::authorize(&mut request, account, key));
        }
        let response = self.client.execute(request).await.unwrap();
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    /// `PUT` with a body and headers.
    pub async fn put(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        self.send(Method::PUT, path, headers, body.to_vec()).await
    }

    /// `GET` with headers.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send(Method::GET, path, headers, Vec::new()).await
    }
}

/// A job exporting a local CSV to `out/sales.csv` through `account.endpoint = "auto"`,
/// signed with SharedKey: what the Blob suites run against Azurite and the emulator's flat
/// account.
pub struct SharedKeyJob<'a> {
    /// The account's path-style URL, for both `dfs_endpoint` and `blob_endpoint`.
    pub account_url: &'a str,
    /// The account key, written to a file beside the job.
    pub key: &'a str,
    /// `account.container`.
    pub container: &'a str,
    /// `output.update`: `replace` or `append`.
    pub update: &'a str,
    /// `output.block_size`.
    pub block_size: u64,
}

impl SharedKeyJob<'_> {
    /// Writes the job, its key and `data` (the source) into `dir`; the job file's path.
    pub fn write(&self, dir: &std::path::Path, data: &[u8]) -> std::path::PathBuf {
        std::fs::write(dir.join("credential"), self.key).unwrap();
        std::fs::write(dir.join("data.csv"), data).unwrap();
        let document = serde_json::json!({
            "name": "blob-export",
            "account": {
                "auth": "shared-key",
                "account_key": { "file": "credential" },
                "account_name": crate::support::azurite::ACCOUNT,
                "container": self.container,
                "dfs_endpoint": self.account_url,
                "blob_endpoint": self.account_url,
                "endpoint": "auto",
            },
            "source": { "kind": "file", "path": "data.csv" },
            "output": {
                "directory": "out",
                "select_filename": "file-name",
                "file_name": "sales",
                "update": self.update,
                "block_size": self.block_size,
                "concurrency": 4,
            },
        });
        let path = dir.join("job.toml");
        std::fs::write(&path, toml::to_string(&document).unwrap()).unwrap();
        path
    }
}

/// The emulator with its well-known account's namespace off (a plain Blob account) and
/// Azurite started with `container` created in it, and a SharedKey client of it.
pub async fn azurite_with_container(container: &str) -> (super::azurite::Azurite, BlobClient) {
    use super::azurite::{ACCOUNT, Azurite, KEY};
    let azurite = Azurite::start();
    let client = BlobClient::new(&azurite.account_url(), ACCOUNT, KEY);
    let created = client
        .put(&format!("{container}?restype=container"), &[], b"")
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    (azurite, client)
}

/// `container` in it; its data under `dir`.
pub async fn flat_emulator(
    dir: &std::path::Path,
    container: &str,
) -> adls_writeback_emulator::Emulator {
    use adls_writeback_emulator::{Emulator, EmulatorConfig};
    let mut config = EmulatorConfig::well_known(dir.join("emulator-data"));
    for account in &mut config.accounts {
        account.hierarchical_namespace = false;
        account.file_systems = vec![container.into()];
    }
    Emulator::start(config).await.unwrap()
}
