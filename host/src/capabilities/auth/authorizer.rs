//! The run's storage credential, applied to each request at the boundary: a bearer token
//! from Entra ID, a SharedKey signature, or a SAS appended to the query. The guest never
//! sees any of them; it sees a generation number that grows with each renewal, so the
//! refusals of requests in flight under the same credential share one renewal.

use std::sync::Arc;
use std::time::SystemTime;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use tokio::sync::Mutex;

use super::{EntraCredential, STORAGE_SCOPE};
use crate::capabilities::bindings::errors::AuthError;
use crate::job::credential::{ClientCertificate, Credential, Sas};
use crate::job::secret::Secret;

/// How the account's Entra ID app proves itself.
pub enum AppProof<'a> {
    /// Its client secret.
    Secret(&'a Secret),
    /// A federated token in this file.
    FederatedTokenFile(&'a std::path::Path),
    /// Its certificate (client assertions signed with the certificate's key).
    Certificate(&'a ClientCertificate),
}

/// What the host authorizes storage requests with.
pub enum StorageCredential {
    /// Entra ID bearer tokens for Azure Storage (an app's, or a managed identity's).
    Bearer(Arc<EntraCredential>),
    /// The key of `account`, for SharedKey signatures.
    SharedKey {
        /// The storage account's name.
        account: String,
        /// Its key (base64).
        key: Secret,
    },
    /// A SAS appended to each request's query.
    Sas(Sas),
}

impl StorageCredential {
    /// The storage credential of a job's `credential`, with `app` making the Entra ID
    /// credential of the account's app from a client secret or a federated token file, and
    /// token requests sent by `client`.
    pub fn of(
        credential: &Credential,
        account: &str,
        client: &reqwest::Client,
        app: impl FnOnce(AppProof<'_>) -> EntraCredential,
    ) -> StorageCredential {
        match credential {
            Credential::ClientSecret(secret) => {
                StorageCredential::Bearer(Arc::new(app(AppProof::Secret(secret))))
            }
            Credential::ClientCertificate(certificate) => {
                StorageCredential::Bearer(Arc::new(app(AppProof::Certificate(certificate))))
            }
            Credential::WorkloadIdentity(file) => {
                StorageCredential::Bearer(Arc::new(app(AppProof::FederatedTokenFile(file))))
            }
            Credential::ManagedIdentity(endpoint) => {
                let identity = super::managed::ManagedIdentity {
                    endpoint: endpoint.url.clone(),
                    identity_header: endpoint.identity_header.clone(),
                    client_id: endpoint.client_id.clone(),
                    tried: endpoint.tried.clone(),
                };
                StorageCredential::Bearer(Arc::new(EntraCredential::managed(
                    client.clone(),
                    identity,
                )))
            }
            Credential::SharedKey(key) => StorageCredential::SharedKey {
                account: account.to_string(),
                key: key.clone(),
            },
            Credential::Sas(sas) => StorageCredential::Sas(sas.clone()),
        }
    }
}

/// Authorizes requests with one credential and counts its renewals.
pub struct Authorizer {
    credential: StorageCredential,
    /// The credential's generation, starting at 1; held while a renewal runs.
    generation: Mutex<u64>,
}

impl Authorizer {
    /// Authorizes with `credential`.
    pub fn new(credential: StorageCredential) -> Self {
        Authorizer {
            credential,
            generation: Mutex::new(1),
        }
    }

    /// Makes sure the credential is usable now (a token is fetched or taken from the cache;
    /// a SAS has not expired); its generation.
    pub async fn ready(&self) -> Result<u64, AuthError> {
        let generation = *self.generation.lock().await;
        match &self.credential {
            StorageCredential::Bearer(entra) => {
                entra.token(STORAGE_SCOPE).await?;
            }
            StorageCredential::Sas(sas) => {
                if sas.expiry <= SystemTime::now() {
                    return Err(AuthError::Rejected(
                        "the SAS in account.sas_token has expired: make a new one".into(),
                    ));
                }
            }
            StorageCredential::SharedKey { .. } => {}
        }
        Ok(generation)
    }

    /// A request sent under generation `refused` was refused for its credential: renews it
    /// unless that happened already; the generation to resend with.
    pub async fn refresh(&self, refused: u64) -> Result<u64, AuthError> {
        let mut generation = self.generation.lock().await;
        if *generation > refused {
            return Ok(*generation);
        }
        match &self.credential {
            StorageCredential::Bearer(entra) => {
                entra.refresh(STORAGE_SCOPE).await?;
            }
            StorageCredential::SharedKey { account, .. } => {
                return Err(AuthError::Rejected(format!(
                    "the storage service refused the SharedKey signature made with the key of \
                     `{account}`, which cannot be renewed: check account.account_key"
                )));
            }
            StorageCredential::Sas(_) => {
                return Err(AuthError::Rejected(
                    "the storage service refused the SAS, which cannot be renewed: check \
                     account.sas_token"
                        .into(),
                ));
            }
        }
        *generation += 1;
        Ok(*generation)
    }

    /// Adds the credential to `request` (built, its body set): `Authorization: Bearer`, a
    /// SharedKey signature with `x-ms-date`, or the SAS in the query.
    pub async fn authorize(&self, request: &mut reqwest::Request) -> Result<(), AuthError> {
        match &self.credential {
            StorageCredential::Bearer(entra) => {
                let token = entra.token(STORAGE_SCOPE).await?;
                let value =
                    HeaderValue::from_str(&format!("Bearer {}", token.token)).map_err(|_| {
                        AuthError::Unavailable("the token endpoint issued an unusable token".into())
                    })?;
                request.headers_mut().insert(AUTHORIZATION, value);
            }
            StorageCredential::SharedKey { account, key } => {
                if !crate::plumbing::shared_key::authorize(request, account, key.expose()) {
                    return Err(AuthError::Rejected(
                        "account.account_key is not base64: use key1 or key2 of the account".into(),
                    ));
                }
            }
            StorageCredential::Sas(sas) => {
                let url = request.url_mut();
                let query = match url.query() {
                    Some(q) if !q.is_empty() => format!("{q}&{}", sas.token.expose()),
                    _ => sas.token.expose().to_string(),
                };
                url.set_query(Some(&query));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str) -> reqwest::Request {
        reqwest::Client::new().put(url).build().unwrap()
    }

    #[tokio::test]
    async fn a_sas_is_appended_to_the_query() {
        let sas =
            Sas::parse("?sv=2023-11-03&se=2999-01-01T00:00:00Z&sp=racwdl&sr=c&sig=abc%3D").unwrap();
        let authorizer = Authorizer::new(StorageCredential::Sas(sas));
        let mut r = request("http://127.0.0.1:1/acct/fs/a.csv?resource=file");
        authorizer.authorize(&mut r).await.unwrap();
        assert_eq!(
            r.url().query(),
            Some("resource=file&sv=2023-11-03&se=2999-01-01T00:00:00Z&sp=racwdl&sr=c&sig=abc%3D")
        );
        assert!(r.headers().get(AUTHORIZATION).is_none());
        let mut r = request("http://127.0.0.1:1/acct/fs");
        authorizer.authorize(&mut r).await.unwrap();
        assert!(r.url().query().unwrap().starts_with("sv="));
        assert_eq!(authorizer.ready().await.unwrap(), 1);
        assert!(matches!(
            authorizer.refresh(1).await,
            Err(AuthError::Rejected(m)) if m.contains("account.sas_token")
        ));
    }

    #[tokio::test]
    async fn an_expired_sas_is_refused_before_any_request() {
        let sas = Sas::parse("sv=2023-11-03&se=2001-01-01T00:00:00Z&sig=x").unwrap();
        let authorizer = Authorizer::new(StorageCredential::Sas(sas));
        assert!(
            matches!(authorizer.ready().await, Err(AuthError::Rejected(m)) if m.contains("expired"))
        );
    }

    #[tokio::test]
    async fn a_shared_key_signs_and_cannot_be_renewed() {
        let authorizer = Authorizer::new(StorageCredential::SharedKey {
            account: "acct".into(),
            key: Secret::new("a2V5"),
        });
        let mut r = request("http://127.0.0.1:1/acct/fs?resource=filesystem");
        authorizer.authorize(&mut r).await.unwrap();
        let auth = r.headers()[AUTHORIZATION].to_str().unwrap();
        assert!(auth.starts_with("SharedKey acct:"), "{auth}");
        assert!(!auth.contains("a2V5"));
        assert!(authorizer.refresh(1).await.is_err());
    }
}
