//! A small Blob REST client signing with SharedKey, for the suites that speak the Blob
//! protocol directly (to Azurite and to the emulator): every request as sent, every answer
//! as received, nothing interpreted.

use adls_writeback::plumbing::shared_key;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};

/// The service version the requests name.
pub const VERSION: &str = "2025-01-05";

/// A Blob endpoint of one account and its key.
#[derive(Clone)]
pub struct BlobClient {
    client: reqwest::Client,
    account_url: String,
    account: String,
    key: String,
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
        BlobClient {
            client: reqwest::Client::new(),
            account_url: account_url.trim_end_matches('/').to_string(),
            account: account.to_string(),
            key: key.to_string(),
        }
    }

    /// Sends `method` to `path` (`container/blob?query`, relative to the account URL) with
    /// `headers` and `body`, signed with the account key.
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
        let mut request = request.build().unwrap();
        assert!(shared_key::authorize(
            &mut request,
            &self.account,
            &self.key
        ));
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
