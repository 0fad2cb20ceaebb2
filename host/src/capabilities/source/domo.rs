//! A client of the Domo API: client-credentials token, DataSet metadata, the CSV export,
//! and co-owners from the instance permissions API. The token and metadata calls are
//! retried as the job's `[http]` says (`crate::plumbing::retry`); the export stream is not (a broken
//! export fails the run as a source error).

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::capabilities::bindings::errors::SourceError;
use crate::job::secret::Secret;
use crate::plumbing::client::describe_error;
use crate::plumbing::retry::{self, Buffered, RetryConfig};
use crate::plumbing::token::{TemporaryToken, TokenCache};

/// Credentials and hosts of one Domo connection.
pub struct DomoClient {
    client: reqwest::Client,
    api_host: String,
    client_id: String,
    secret: Secret,
    instance: Option<(String, Option<Secret>)>,
    token: TokenCache<DomoToken>,
    retry: RetryConfig,
}

/// A Domo access token and the user it acts as.
#[derive(Debug, Clone)]
pub struct DomoToken {
    access_token: String,
    /// The Domo user behind the client credentials: the writeback's owner.
    pub user_id: String,
}

/// What the DataSet API says of a DataSet.
#[derive(Debug, Clone, Deserialize)]
pub struct DataSet {
    /// DataSet ID.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Row count.
    pub rows: Option<u64>,
    /// Owner, when shown.
    pub owner: Option<DomoUser>,
    /// Schema, when shown.
    pub schema: Option<Schema>,
}

/// A Domo user as the API shows one; IDs come as numbers or strings.
#[derive(Debug, Clone, Deserialize)]
pub struct DomoUser {
    /// User ID.
    pub id: Value,
    /// Display name.
    #[serde(default)]
    pub name: String,
}

impl DomoUser {
    /// The ID as text.
    pub fn id_text(&self) -> String {
        match &self.id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// A DataSet schema.
#[derive(Debug, Clone, Deserialize)]
pub struct Schema {
    /// Columns in order.
    #[serde(default)]
    pub columns: Vec<SchemaColumn>,
}

/// One column of a schema.
#[derive(Debug, Clone, Deserialize)]
pub struct SchemaColumn {
    /// Column name.
    pub name: String,
    /// Domo type (`STRING`, `LONG`, ...).
    #[serde(rename = "type", default)]
    pub kind: String,
}

#[derive(Deserialize)]
struct Permissions {
    #[serde(default)]
    list: Vec<Permission>,
}

#[derive(Deserialize)]
struct Permission {
    #[serde(rename = "type", default)]
    kind: String,
    id: Value,
    #[serde(default)]
    name: String,
    #[serde(rename = "accessLevel", default)]
    access_level: String,
}

impl DomoClient {
    /// A client for `api_host` with `client_id`/`secret`; `instance` is the company's
    /// instance URL and developer token, for co-owners.
    pub fn new(
        client: reqwest::Client,
        api_host: &str,
        client_id: &str,
        secret: Secret,
        instance: Option<(String, Option<Secret>)>,
    ) -> Self {
        DomoClient {
            client,
            api_host: api_host.trim_end_matches('/').to_string(),
            client_id: client_id.to_string(),
            secret,
            instance,
            token: TokenCache::new(Duration::from_secs(60)),
            retry: RetryConfig::default(),
        }
    }

    /// Retries the token and metadata calls as `retry` says.
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// The access token (cached), carrying the user it acts as.
    pub async fn token(&self) -> Result<DomoToken, SourceError> {
        let fetched = self.token.get_or_fetch(|| self.fetch_token()).await?;
        Ok(fetched.token)
    }

    async fn fetch_token(&self) -> Result<TemporaryToken<DomoToken>, SourceError> {
        #[derive(Deserialize)]
        struct Answer {
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
            #[serde(rename = "userId")]
            user_id: Option<Value>,
        }
        let url = format!(
            "{}/oauth/token?grant_type=client_credentials&scope=data",
            self.api_host
        );
        let response = retry::send(&self.retry, || {
            self.client
                .get(&url)
                .basic_auth(&self.client_id, Some(self.secret.expose()))
        })
        .await
        .map_err(|e| {
            SourceError::Unavailable(format!(
                "cannot reach Domo at {}: {}",
                self.api_host,
                describe_error(&e)
            ))
        })?;
        let (status, body) = (response.status, response.body);
        if !status.is_success() {
            let detail = self.secret.scrub(&domo_message(&body));
            return Err(match status.as_u16() {
                400 | 401 | 403 => SourceError::Denied(format!(
                    "Domo refused the client credentials ({status}: {detail}): check source.domo.client_id and source.domo.client_secret"
                )),
                _ => SourceError::Unavailable(format!(
                    "Domo's token endpoint answered {status}: {detail}"
                )),
            });
        }
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|e| SourceError::Unavailable(format!("unreadable Domo token answer: {e}")))?;
        let user_id = match answer.user_id {
            Some(Value::String(s)) => s,
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        Ok(TemporaryToken::new(
            DomoToken {
                access_token: answer.access_token,
                user_id,
            },
            lifetime,
        ))
    }

    /// `GET /v1/datasets/{id}`.
    pub async fn dataset(&self, id: &str) -> Result<DataSet, SourceError> {
        let token = self.token().await?;
        let url = format!("{}/v1/datasets/{id}", self.api_host);
        let response = retry::send(&self.retry, || self.get(&url, &token))
            .await
            .map_err(unavailable)?;
        let body = check_buffered(response, id)?;
        serde_json::from_slice(&body)
            .map_err(|e| SourceError::Unavailable(format!("unreadable DataSet {id} metadata: {e}")))
    }

    /// Co-owners from the instance permissions API; empty when no instance is configured.
    pub async fn co_owners(&self, id: &str) -> Result<Vec<DomoUser>, SourceError> {
        let Some((instance, Some(developer_token))) = &self.instance else {
            return Ok(Vec::new());
        };
        let url = format!("{instance}/api/data/v3/datasources/{id}/permissions");
        let response = retry::send(&self.retry, || {
            self.client
                .get(&url)
                .header("X-DOMO-Developer-Token", developer_token.expose())
                .header("Accept", "application/json")
        })
        .await
        .map_err(unavailable)?;
        let body = check_buffered(response, id)?;
        let permissions: Permissions = serde_json::from_slice(&body).map_err(|e| {
            SourceError::Unavailable(format!("unreadable permissions of DataSet {id}: {e}"))
        })?;
        Ok(permissions
            .list
            .into_iter()
            .filter(|p| p.kind.eq_ignore_ascii_case("USER") && p.access_level == "CO_OWNER")
            .map(|p| DomoUser {
                id: p.id,
                name: p.name,
            })
            .collect())
    }

    /// `GET /v1/datasets/{id}/data?includeHeader=true` as CSV, streamed.
    pub async fn export(&self, id: &str) -> Result<reqwest::Response, SourceError> {
        let token = self.token().await?;
        let url = format!("{}/v1/datasets/{id}/data?includeHeader=true", self.api_host);
        let response = self
            .get(&url, &token)
            .header("Accept", "text/csv")
            // The export may run for as long as the upload does; stalls are caught per read.
            .timeout(Duration::from_secs(24 * 3600))
            .send()
            .await
            .map_err(unavailable)?;
        check(response, id).await
    }

    fn get(&self, url: &str, token: &DomoToken) -> reqwest::RequestBuilder {
        self.client.get(url).bearer_auth(&token.access_token)
    }
}

fn unavailable(e: reqwest::Error) -> SourceError {
    SourceError::Unavailable(format!("Domo request failed: {}", describe_error(&e)))
}

async fn check(response: reqwest::Response, id: &str) -> Result<reqwest::Response, SourceError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.bytes().await.unwrap_or_default();
    Err(refusal(status, &body, id))
}

/// The body of a successful buffered answer, or the error its status means.
fn check_buffered(answer: Buffered, id: &str) -> Result<bytes::Bytes, SourceError> {
    match answer.status.is_success() {
        true => Ok(answer.body),
        false => Err(refusal(answer.status, &answer.body, id)),
    }
}

fn refusal(status: reqwest::StatusCode, body: &[u8], id: &str) -> SourceError {
    let detail = domo_message(body);
    match status.as_u16() {
        404 => SourceError::NotFound(format!(
            "Domo has no DataSet `{id}` ({detail}): check source.dataset_id"
        )),
        401 | 403 => SourceError::Denied(format!(
            "Domo denied access to DataSet `{id}` ({status}: {detail})"
        )),
        _ => SourceError::Unavailable(format!(
            "Domo answered {status} for DataSet `{id}`: {detail}"
        )),
    }
}

/// The message of a Domo error body (`{status, statusReason, message}` or OAuth's
/// `{error, error_description}`), else the start of the body.
fn domo_message(body: &[u8]) -> String {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    for key in ["message", "error_description", "statusReason", "error"] {
        if let Some(text) = value
            .get(key)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            return text.to_string();
        }
    }
    String::from_utf8_lossy(&body[..body.len().min(200)])
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_of_both_shapes_are_read() {
        assert_eq!(
            domo_message(br#"{"status":404,"statusReason":"Not Found","message":"No DataSet"}"#),
            "No DataSet"
        );
        assert_eq!(
            domo_message(br#"{"error":"unauthorized","error_description":"Bad credentials"}"#),
            "Bad credentials"
        );
        assert_eq!(domo_message(b"plain"), "plain");
    }

    #[test]
    fn user_ids_may_be_numbers_or_text() {
        let a: DomoUser = serde_json::from_str(r#"{"id":27,"name":"Dana"}"#).unwrap();
        let b: DomoUser = serde_json::from_str(r#"{"id":"27"}"#).unwrap();
        assert_eq!(
            (a.id_text(), b.id_text()),
            ("27".to_string(), "27".to_string())
        );
    }
}
