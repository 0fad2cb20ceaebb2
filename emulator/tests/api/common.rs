//! Helpers: start an emulator on loopback and talk to it as a client would.

use adls_writeback_emulator::{Emulator, EmulatorConfig, well_known};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;

/// A running emulator with its folders, a client and a storage token.
pub struct Env {
    pub emulator: Emulator,
    pub data: TempDir,
    pub datasets: TempDir,
    pub client: reqwest::Client,
    pub token: String,
}

/// Starts the well-known emulator.
pub async fn start() -> Env {
    start_with(|_| {}).await
}

/// Starts the well-known emulator with its store in memory only.
pub async fn start_in_memory() -> Env {
    start_with(|config| config.in_memory = true).await
}

/// Defines a test module `$name` with two tests, `on_disk` and `in_memory`, each running the
/// body against a fresh [`Env`] (named by the closure's argument) with that kind of store.
macro_rules! on_both_stores {
    ($name:ident, |$env:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($env: crate::common::Env) $body

            #[tokio::test]
            async fn on_disk() {
                run(crate::common::start().await).await
            }

            #[tokio::test]
            async fn in_memory() {
                run(crate::common::start_in_memory().await).await
            }
        }
    };
}

/// Starts an emulator after `adjust` changes the well-known configuration.
pub async fn start_with(adjust: impl FnOnce(&mut EmulatorConfig)) -> Env {
    let data = tempfile::tempdir().unwrap();
    let datasets = tempfile::tempdir().unwrap();
    let mut config = EmulatorConfig::well_known(data.path());
    config.datasets_dir = Some(datasets.path().to_path_buf());
    adjust(&mut config);
    let emulator = Emulator::start(config).await.unwrap();
    let client = client_for(&emulator);
    let token = storage_token(&client, &emulator, "https://storage.azure.com/.default").await;
    Env {
        emulator,
        data,
        datasets,
        client,
        token,
    }
}

/// A client for the emulator: trusting its CA when it serves HTTPS.
pub fn client_for(emulator: &Emulator) -> reqwest::Client {
    let mut builder = reqwest::Client::builder();
    if let Some(ca) = emulator.ca_file() {
        let pem = std::fs::read(ca).unwrap();
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

/// Asks the emulator's Entra ID endpoint for a token with the well-known app.
pub async fn token_response(
    client: &reqwest::Client,
    emulator: &Emulator,
    tenant: &str,
    form: &[(&str, &str)],
) -> Response {
    client
        .post(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            emulator.authority_url()
        ))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// A token for `scope` from the well-known app.
pub async fn storage_token(client: &reqwest::Client, emulator: &Emulator, scope: &str) -> String {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", well_known::CLIENT_ID),
        ("client_secret", well_known::CLIENT_SECRET),
        ("scope", scope),
    ];
    let response = token_response(client, emulator, well_known::TENANT_ID, &form).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

impl Env {
    /// Stops the emulator and starts a fresh one on the same data folder (the well-known
    /// configuration), with a new token.
    pub async fn restart(self) -> Env {
        self.restart_after(|_| {}).await
    }

    /// As [`Env::restart`], running `offline` on the data folder while no emulator runs.
    pub async fn restart_after(self, offline: impl FnOnce(&std::path::Path)) -> Env {
        let Env {
            emulator,
            data,
            datasets,
            client,
            ..
        } = self;
        emulator.shutdown().await;
        offline(data.path());
        let mut config = EmulatorConfig::well_known(data.path());
        config.datasets_dir = Some(datasets.path().to_path_buf());
        let emulator = Emulator::start(config).await.unwrap();
        let token = storage_token(&client, &emulator, "https://storage.azure.com/.default").await;
        Env {
            emulator,
            data,
            datasets,
            client,
            token,
        }
    }

    /// A request to `{account endpoint}/{path_and_query}` with the bearer token.
    pub fn req(&self, method: Method, path_and_query: &str) -> RequestBuilder {
        let url = format!(
            "{}/{path_and_query}",
            self.emulator.account_endpoint(well_known::ACCOUNT_NAME)
        );
        self.client
            .request(method, url)
            .bearer_auth(&self.token)
            .header("x-ms-version", "2023-11-03")
    }

    /// `PUT {fs}/{path}?resource=file` in the well-known container.
    pub async fn create_file(&self, path: &str) -> Response {
        self.req(
            Method::PUT,
            &format!("{}/{path}?resource=file", well_known::CONTAINER),
        )
        .send()
        .await
        .unwrap()
    }

    /// `PATCH ?action=append&position=N`.
    pub async fn append(&self, path: &str, position: u64, data: Vec<u8>) -> Response {
        let pq = format!(
            "{}/{path}?action=append&position={position}",
            well_known::CONTAINER
        );
        self.req(Method::PATCH, &pq)
            .body(data)
            .send()
            .await
            .unwrap()
    }

    /// `PATCH ?action=flush&position=N`.
    pub async fn flush(&self, path: &str, position: u64) -> Response {
        let pq = format!(
            "{}/{path}?action=flush&position={position}",
            well_known::CONTAINER
        );
        self.req(Method::PATCH, &pq).send().await.unwrap()
    }

    /// `GET` the file's committed bytes.
    pub async fn read(&self, path: &str) -> Vec<u8> {
        let response = self
            .req(Method::GET, &format!("{}/{path}", well_known::CONTAINER))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "read {path}");
        response.bytes().await.unwrap().to_vec()
    }

    /// Creates a file holding `data` (append + flush).
    pub async fn put_file(&self, path: &str, data: &[u8]) {
        assert_eq!(self.create_file(path).await.status(), StatusCode::CREATED);
        if !data.is_empty() {
            assert_eq!(
                self.append(path, 0, data.to_vec()).await.status(),
                StatusCode::ACCEPTED
            );
        }
        assert_eq!(
            self.flush(path, data.len() as u64).await.status(),
            StatusCode::OK
        );
    }

    /// `HEAD` a path.
    pub async fn head(&self, path: &str) -> Response {
        self.req(Method::HEAD, &format!("{}/{path}", well_known::CONTAINER))
            .send()
            .await
            .unwrap()
    }
}

/// Status, `x-ms-error-code` and the JSON error body of a storage error.
pub async fn storage_error(response: Response) -> (StatusCode, String, Value) {
    let status = response.status();
    let code = response
        .headers()
        .get("x-ms-error-code")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert_eq!(
        response.headers()["content-type"],
        "application/json;charset=utf-8"
    );
    assert!(response.headers().contains_key("x-ms-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code.as_str());
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("\nRequestId:") && message.contains("\nTime:"),
        "{message}"
    );
    (status, code, body)
}

/// Asserts a storage error's status and code.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> Value {
    let (got_status, got_code, body) = storage_error(response).await;
    assert_eq!((got_status, got_code.as_str()), (status, code), "{body}");
    body
}

/// The quoted ETag of a response.
pub fn etag(response: &Response) -> String {
    response.headers()["etag"].to_str().unwrap().to_string()
}
