//! The storage credential of a run. It never reaches the guest: the HTTP capability asks
//! the run's [`Authorizer`] to authorize each request to the storage origin after its policy
//! check, and the guest only learns a generation number (`auth.ready`) and may ask for a
//! renewal after a refusal (`auth.refresh`). Entra ID tokens ([`EntraCredential`]) are
//! cached and refreshed ahead of expiry.

pub mod authorizer;
pub mod managed;

pub use authorizer::{Authorizer, StorageCredential};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use crate::capabilities::bindings::auth;
use crate::capabilities::bindings::errors::AuthError;
use crate::job::secret::Secret;
use crate::plumbing::retry::RetryConfig;
use crate::plumbing::token::{TemporaryToken, TokenCache};

/// The scope of Azure Storage (ADLS Gen2 included).
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// How an [`EntraCredential`] proves the app's identity.
enum Grant {
    /// A client secret.
    Secret(Secret),
    /// A federated token (a Kubernetes service account token), read from this file on every
    /// fetch, as the kubelet rotates it.
    FederatedTokenFile(std::path::PathBuf),
    /// The managed identity of the host's Azure resource.
    Managed(managed::ManagedIdentity),
    /// A certificate: each fetch sends a new client assertion signed with its key.
    Certificate(crate::job::credential::ClientCertificate),
}

/// An Entra ID application's client-credentials grant against one tenant (with a secret or
/// a federated token), or a managed identity's token endpoint.
pub struct EntraCredential {
    client: reqwest::Client,
    token_url: String,
    client_id: String,
    grant: Grant,
    caches: Mutex<HashMap<String, Arc<TokenCache<String>>>>,
    retry: RetryConfig,
}

impl EntraCredential {
    /// The app `client_id` with `secret` in `tenant`, at `authority_host`
    /// (`https://login.microsoftonline.com` on Azure's public cloud).
    pub fn new(
        client: reqwest::Client,
        authority_host: &str,
        tenant: &str,
        client_id: &str,
        secret: Secret,
    ) -> Self {
        EntraCredential {
            client,
            token_url: format!(
                "{}/{tenant}/oauth2/v2.0/token",
                authority_host.trim_end_matches('/')
            ),
            client_id: client_id.to_string(),
            grant: Grant::Secret(secret),
            caches: Mutex::new(HashMap::new()),
            retry: RetryConfig::default(),
        }
    }

    /// The app `client_id` in `tenant` signing in with the federated token in `token_file`
    /// (AKS workload identity: `AZURE_FEDERATED_TOKEN_FILE`).
    pub fn federated(
        client: reqwest::Client,
        authority_host: &str,
        tenant: &str,
        client_id: &str,
        token_file: std::path::PathBuf,
    ) -> Self {
        let mut credential =
            EntraCredential::new(client, authority_host, tenant, client_id, Secret::new(""));
        credential.grant = Grant::FederatedTokenFile(token_file);
        credential
    }

    /// The app `client_id` in `tenant` signing in with client assertions signed by
    /// `certificate` (azure-identity's `CertificateCredential`).
    pub fn certificate(
        client: reqwest::Client,
        authority_host: &str,
        tenant: &str,
        client_id: &str,
        certificate: crate::job::credential::ClientCertificate,
    ) -> Self {
        let mut credential =
            EntraCredential::new(client, authority_host, tenant, client_id, Secret::new(""));
        credential.grant = Grant::Certificate(certificate);
        credential
    }

    /// The managed identity `identity`.
    pub fn managed(client: reqwest::Client, identity: managed::ManagedIdentity) -> Self {
        EntraCredential {
            client,
            token_url: identity.endpoint.clone(),
            client_id: String::new(),
            grant: Grant::Managed(identity),
            caches: Mutex::new(HashMap::new()),
            retry: RetryConfig::default(),
        }
    }

    /// Retries the token request as `retry` says (429, 5xx, transport failures; never a
    /// refusal of the credentials).
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// A token for `scope`, from the cache while it is fresh.
    pub async fn token(&self, scope: &str) -> Result<TemporaryToken<String>, AuthError> {
        self.cache(scope).get_or_fetch(|| self.fetch(scope)).await
    }

    /// A fresh token for `scope` after the service refused the cached one (expired or
    /// revoked): the cache is dropped and refilled, always — a refused token is never handed
    /// out again, even one the host believes valid (`exp` counts whole seconds, so a token
    /// can expire up to a second before its `expires_in` says).
    pub async fn refresh(&self, scope: &str) -> Result<TemporaryToken<String>, AuthError> {
        let cache = self.cache(scope);
        cache.invalidate().await;
        cache.get_or_fetch(|| self.fetch(scope)).await
    }

    /// The token cache of `scope`, made on first use.
    fn cache(&self, scope: &str) -> Arc<TokenCache<String>> {
        let mut caches = self.caches.lock().expect("not poisoned");
        caches.entry(scope.to_string()).or_default().clone()
    }

    async fn fetch(&self, scope: &str) -> Result<TemporaryToken<String>, AuthError> {
        let proof = match &self.grant {
            Grant::Secret(secret) => secret.clone(),
            Grant::FederatedTokenFile(path) => read_federated_token(path)?,
            // The assertion's audience is the token endpoint it is sent to.
            Grant::Certificate(certificate) => certificate
                .assertion(
                    &self.client_id,
                    &self.token_url,
                    std::time::SystemTime::now(),
                )
                .map_err(AuthError::Unavailable)?,
            Grant::Managed(identity) => {
                return identity.fetch(&self.client, &self.retry, scope).await;
            }
        };
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("scope", scope),
        ];
        match &self.grant {
            Grant::FederatedTokenFile(_) | Grant::Certificate(_) => form.extend([
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", proof.expose()),
            ]),
            _ => form.push(("client_secret", proof.expose())),
        }
        let secret = &proof;
        let response = crate::plumbing::retry::send(&self.retry, || {
            self.client.post(&self.token_url).form(&form)
        })
        .await
        .map_err(|e| {
            AuthError::Unavailable(format!(
                "cannot reach the token endpoint {}: {}",
                self.token_url,
                crate::plumbing::client::describe_error(&e)
            ))
        })?;
        let (status, body) = (response.status, response.body);
        if status.is_success() {
            return token_of(status, &body);
        }
        Err(match serde_json::from_slice::<ErrorAnswer>(&body) {
            Ok(err) => AuthError::Rejected(secret.scrub(&err.explain())),
            Err(_) => AuthError::Unavailable(format!(
                "the token endpoint answered {status}: {}",
                secret.scrub(&String::from_utf8_lossy(&body[..body.len().min(300)]))
            )),
        })
    }
}

/// The federated token in `path`, read afresh (the kubelet rotates it).
fn read_federated_token(path: &std::path::Path) -> Result<Secret, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        AuthError::Unavailable(format!(
            "cannot read the federated token file `{}` (account.federated_token_file or \
             AZURE_FEDERATED_TOKEN_FILE): {e}",
            path.display()
        ))
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(AuthError::Unavailable(format!(
            "the federated token file `{}` is empty",
            path.display()
        )));
    }
    Ok(Secret::new(token))
}

/// A token from a successful answer: `expires_in` (seconds, a number or a string), else
/// `expires_on` (Unix seconds, as managed identity endpoints answer).
pub(crate) fn token_of(
    status: reqwest::StatusCode,
    body: &[u8],
) -> Result<TemporaryToken<String>, AuthError> {
    let answer: TokenAnswer = serde_json::from_slice(body).map_err(|e| {
        AuthError::Unavailable(format!(
            "the token endpoint answered {status} with an unreadable body: {e}"
        ))
    })?;
    let lifetime = match (&answer.expires_in, &answer.expires_on) {
        (Some(seconds), _) => seconds.seconds(),
        (None, Some(on)) => on.seconds().saturating_sub(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
        ),
        (None, None) => 0,
    };
    Ok(TemporaryToken::new(
        answer.access_token,
        Duration::from_secs(lifetime),
    ))
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<Seconds>,
    expires_on: Option<Seconds>,
}

/// `expires_in` is a number on the v2 endpoint and a string on v1 and managed identity's.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Seconds {
    Number(u64),
    Text(String),
}

impl Seconds {
    pub(crate) fn seconds(&self) -> u64 {
        match self {
            Seconds::Number(n) => *n,
            Seconds::Text(s) => s.trim().parse().unwrap_or(0),
        }
    }
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u64>,
}

impl ErrorAnswer {
    /// The description's first part (without trace and correlation IDs), the error, and
    /// what to check.
    fn explain(&self) -> String {
        let description = self
            .error_description
            .split(['\r', '\n'])
            .next()
            .unwrap_or_default()
            .split(" Trace ID:")
            .next()
            .unwrap_or_default()
            .trim();
        let hint = match self.error_codes.first() {
            Some(7000215) | Some(7000222) => {
                "check account.client_secret (the secret's value, not its ID, and not expired)"
            }
            Some(700016) => {
                "check account.client_id, and that the app is registered in account.tenant_id"
            }
            Some(90002) | Some(900023) => "check account.tenant_id",
            Some(70021) => {
                "no federated credential of the app matches the token's issuer and subject: \
                 check the app's federated credentials and the service account"
            }
            Some(700024) => "the federated token has expired: check that the kubelet refreshes it",
            Some(50027) => "the client assertion is not a JWT the service reads",
            Some(700027) => {
                "the certificate is not registered for the app, or its key did not sign the \
                 assertion: check account.client_certificate against the app's Certificates & \
                 secrets"
            }
            Some(700021) | Some(700023) => {
                "the client assertion names another app or token endpoint: check \
                 account.client_id and account.tenant_id"
            }
            Some(1002012) | Some(70011) => "the requested scope is not valid for this app",
            _ => "check the [account] credentials",
        };
        format!("{description} ({}): {hint}", self.error)
    }
}

/// The auth capability of one run: the guest's view of the run's [`Authorizer`].
pub struct AuthCapability {
    authorizer: Option<Arc<Authorizer>>,
}

impl AuthCapability {
    /// Reports on and renews `authorizer`'s credential.
    pub fn new(authorizer: Arc<Authorizer>) -> Self {
        AuthCapability {
            authorizer: Some(authorizer),
        }
    }

    /// Grants nothing.
    pub fn none() -> Self {
        AuthCapability { authorizer: None }
    }

    fn granted(&self) -> Result<&Arc<Authorizer>, AuthError> {
        self.authorizer
            .as_ref()
            .ok_or_else(|| AuthError::NotGranted("this job grants no storage credential".into()))
    }
}

impl auth::Host for AuthCapability {
    async fn ready(&mut self) -> Result<u64, AuthError> {
        self.granted()?.ready().await
    }

    async fn refresh(&mut self, refused: u64) -> Result<u64, AuthError> {
        self.granted()?.refresh(refused).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_errors_are_explained_without_trace_ids() {
        let answer: ErrorAnswer = serde_json::from_str(
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Trace ID: 1 Correlation ID: 2 Timestamp: 3","error_codes":[7000215]}"#,
        )
        .unwrap();
        let text = answer.explain();
        assert_eq!(
            text,
            "AADSTS7000215: Invalid client secret provided. (invalid_client): check account.client_secret (the secret's value, not its ID, and not expired)"
        );
    }

    #[test]
    fn expires_in_is_read_as_number_or_text() {
        let a: TokenAnswer =
            serde_json::from_str(r#"{"access_token":"t","expires_in":3599}"#).unwrap();
        let b: TokenAnswer =
            serde_json::from_str(r#"{"access_token":"t","expires_in":"3599"}"#).unwrap();
        assert_eq!(
            (
                a.expires_in.unwrap().seconds(),
                b.expires_in.unwrap().seconds()
            ),
            (3599, 3599)
        );
    }

    #[tokio::test]
    async fn nothing_is_granted_without_a_credential() {
        let mut cap = AuthCapability::none();
        let err = auth::Host::ready(&mut cap).await.unwrap_err();
        assert!(matches!(err, AuthError::NotGranted(_)));
        let err = auth::Host::refresh(&mut cap, 1).await.unwrap_err();
        assert!(matches!(err, AuthError::NotGranted(_)));
    }

    /// A token endpoint on loopback answering `t-1`, `t-2`, …; returns its URL and the count
    /// of requests it answered.
    async fn token_endpoint() -> (String, Arc<std::sync::atomic::AtomicU32>) {
        use std::sync::atomic::{AtomicU32, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(AtomicU32::new(0));
        let served = count.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let served = served.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let n = conn.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buf).to_lowercase();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let len = text[..end]
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if buf.len() >= end + 4 + len {
                                break;
                            }
                        }
                    }
                    let n = served.fetch_add(1, Ordering::SeqCst) + 1;
                    let body = format!(r#"{{"access_token":"t-{n}","expires_in":3600}}"#);
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(response.as_bytes()).await;
                });
            }
        });
        (url, count)
    }

    #[tokio::test]
    async fn refresh_renews_once_per_generation_and_the_guest_sees_no_token() {
        use std::sync::atomic::Ordering;
        let (url, count) = token_endpoint().await;
        let credential = Arc::new(EntraCredential::new(
            reqwest::Client::new(),
            &url,
            "contoso.onmicrosoft.com",
            "app",
            Secret::new("s3cret"),
        ));
        let authorizer = Arc::new(Authorizer::new(StorageCredential::Bearer(credential)));
        let mut cap = AuthCapability::new(authorizer.clone());
        assert_eq!(auth::Host::ready(&mut cap).await.unwrap(), 1);
        assert_eq!(auth::Host::ready(&mut cap).await.unwrap(), 1, "cached");
        assert_eq!(count.load(Ordering::SeqCst), 1);
        let bearer = |a: Arc<Authorizer>| async move {
            let mut request = reqwest::Client::new()
                .get("http://127.0.0.1:1/acct/fs")
                .build()
                .unwrap();
            a.authorize(&mut request).await.unwrap();
            request.headers()["authorization"]
                .to_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(bearer(authorizer.clone()).await, "Bearer t-1");
        // Two refusals of generation 1 share one renewal.
        assert_eq!(auth::Host::refresh(&mut cap, 1).await.unwrap(), 2);
        assert_eq!(auth::Host::refresh(&mut cap, 1).await.unwrap(), 2);
        assert_eq!(count.load(Ordering::SeqCst), 2);
        assert_eq!(bearer(authorizer.clone()).await, "Bearer t-2");
        // A refusal of the current generation renews it, however new its token is.
        assert_eq!(auth::Host::refresh(&mut cap, 2).await.unwrap(), 3);
        assert_eq!(bearer(authorizer).await, "Bearer t-3");
    }
}
