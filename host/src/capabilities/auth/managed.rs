//! Managed identity tokens: the Azure Instance Metadata Service (IMDS,
//! learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token)
//! and the App Service / Functions identity endpoint (`IDENTITY_ENDPOINT` with
//! `IDENTITY_HEADER`, learn.microsoft.com/azure/app-service/overview-managed-identity), as
//! azure-identity's `ManagedIdentityCredential` calls them. Tests always point the endpoint
//! at the emulator on loopback.

use crate::capabilities::bindings::errors::AuthError;
use crate::job::secret::Secret;
use crate::plumbing::retry::RetryConfig;
use crate::plumbing::token::TemporaryToken;

/// Where a managed identity's tokens come from.
#[derive(Debug, Clone)]
pub struct ManagedIdentity {
    /// The token endpoint's URL (IMDS's by default: `crate::job::credential::IMDS_ENDPOINT`).
    pub endpoint: String,
    /// `IDENTITY_HEADER` for App Service's endpoint; none for IMDS.
    pub identity_header: Option<Secret>,
    /// A user-assigned identity's client ID; none for the system-assigned identity.
    pub client_id: Option<String>,
    /// What `auth = "default"` tried before, to prefix a failure with.
    pub tried: Option<String>,
}

impl ManagedIdentity {
    /// A token for `scope` (its resource: the scope without `/.default`).
    pub(super) async fn fetch(
        &self,
        client: &reqwest::Client,
        retry: &RetryConfig,
        scope: &str,
    ) -> Result<TemporaryToken<String>, AuthError> {
        let resource = scope.trim_end_matches("/.default");
        let api_version = if self.identity_header.is_some() {
            "2019-08-01"
        } else {
            "2018-02-01"
        };
        let mut query = vec![("api-version", api_version), ("resource", resource)];
        if let Some(id) = &self.client_id {
            query.push(("client_id", id.as_str()));
        }
        let response = crate::plumbing::retry::send(retry, || {
            let request = client.get(&self.endpoint).query(&query);
            match &self.identity_header {
                Some(header) => request.header("X-IDENTITY-HEADER", header.expose()),
                None => request.header("Metadata", "true"),
            }
        })
        .await
        .map_err(|e| {
            AuthError::Unavailable(format!(
                "{}cannot reach the managed identity endpoint {} (is this an Azure resource \
                 with a managed identity? account.identity_endpoint overrides it): {}",
                self.tried
                    .as_ref()
                    .map_or(String::new(), |t| format!("{t}: ")),
                self.endpoint,
                crate::plumbing::client::describe_error(&e)
            ))
        })?;
        let (status, body) = (response.status, response.body);
        if status.is_success() {
            return super::token_of(status, &body);
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        let text = match &self.identity_header {
            Some(header) => header.scrub(&text),
            None => text,
        };
        let described: Option<String> = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                let e = v["error"].as_str()?.to_string();
                let d = v["error_description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                Some(format!("{d} ({e})"))
            });
        Err(match described {
            Some(d) if status.is_client_error() => AuthError::Rejected(format!(
                "the managed identity endpoint refused: {d}: check account.client_id (a \
                 user-assigned identity's client ID) and that the resource has the identity"
            )),
            _ => AuthError::Unavailable(format!(
                "the managed identity endpoint answered {status}: {text}"
            )),
        })
    }
}
