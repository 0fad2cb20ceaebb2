//! Outbound HTTP for the guest: requests go through one shared reqwest client, only to
//! the origins the job names, never following redirects. Large bodies are handed over once
//! ([`body`]) and sent by a [`pipeline`] that keeps a bounded number of requests in flight
//! on the runtime's other threads while the guest goes on. Each request is retried on its
//! own as the job's `[http]` says (`crate::plumbing::retry`): transient statuses and transport
//! failures, never a 401. After the policy check the run's [`Authorizer`] adds the storage
//! credential to the request: the guest never sees it, and may not set `Authorization`.

pub mod body;
pub mod pipeline;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Url;
use wasmtime::component::{Resource, ResourceTable};

use crate::plumbing::client::describe_error;
use crate::plumbing::retry::{self, RetryConfig};

use crate::capabilities::auth::Authorizer;
use crate::capabilities::bindings::errors::HttpError;
use crate::capabilities::bindings::http::{self, Header, Method, Request, RequestHead, Response};
use body::{HeldBody, MemoryBudget};
use pipeline::Pipeline;

/// Scheme, host and port: what the policy compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of `url`, with the scheme's default port filled in.
    pub fn of(url: &Url) -> Option<Origin> {
        Some(Origin {
            scheme: url.scheme().to_ascii_lowercase(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }

    /// The origin of a URL string; `None` if it does not parse or has no host.
    pub fn parse(url: &str) -> Option<Origin> {
        Origin::of(&Url::parse(url).ok()?)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// The HTTP origins a run of `job` may reach: its account's DFS and Blob endpoints (one
/// origin, when they share it).
pub fn granted_origins(job: &crate::job::Job) -> Vec<Origin> {
    let mut origins: Vec<Origin> = Origin::parse(&job.account.dfs_endpoint)
        .into_iter()
        .collect();
    if let Some(blob) = Origin::parse(&job.account.blob_endpoint)
        && !origins.contains(&blob)
    {
        origins.push(blob);
    }
    origins
}

/// The HTTP capability of one run.
pub struct HttpCapability {
    outbound: Arc<Outbound>,
    max_in_flight: usize,
    /// The guest's bodies and pipelines.
    table: ResourceTable,
    budget: Arc<MemoryBudget>,
}

/// What a request needs once it leaves the guest: the client, the policy and the retry
/// rules, shared by the requests a pipeline runs on other tasks.
struct Outbound {
    client: Option<reqwest::Client>,
    allowed: Vec<Origin>,
    /// Authorizes each request to the allowed origins; none: requests go as they are.
    authorizer: Option<Arc<Authorizer>>,
    retry: RetryConfig,
    request_timeout: Option<Duration>,
}

impl HttpCapability {
    /// Grants requests to `allowed` origins, at most `max_in_flight` at once in a pipeline,
    /// each retried as `retry` says.
    pub fn new(
        client: reqwest::Client,
        allowed: Vec<Origin>,
        max_in_flight: usize,
        retry: RetryConfig,
    ) -> Self {
        HttpCapability {
            outbound: Arc::new(Outbound {
                client: Some(client),
                allowed,
                authorizer: None,
                retry,
                request_timeout: None,
            }),
            max_in_flight: max_in_flight.max(1),
            table: ResourceTable::new(),
            budget: MemoryBudget::new(usize::MAX),
        }
    }

    /// Bounds each attempt of a request, its answer included (the client's own bound
    /// otherwise).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        Arc::get_mut(&mut self.outbound)
            .expect("set before any request")
            .request_timeout = Some(timeout);
        self
    }

    /// Authorizes every request (after the policy check) with `authorizer`.
    pub fn with_authorizer(mut self, authorizer: Arc<Authorizer>) -> Self {
        Arc::get_mut(&mut self.outbound)
            .expect("set before any request")
            .authorizer = Some(authorizer);
        self
    }

    /// Grants nothing.
    pub fn none() -> Self {
        HttpCapability {
            outbound: Arc::new(Outbound {
                client: None,
                allowed: Vec::new(),
                authorizer: None,
                retry: RetryConfig::none(),
                request_timeout: None,
            }),
            max_in_flight: 1,
            table: ResourceTable::new(),
            budget: MemoryBudget::new(usize::MAX),
        }
    }

    /// Counts the bodies the guest hands over against `budget` (the run's memory limit).
    pub fn with_budget(mut self, budget: Arc<MemoryBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// The body behind a guest's handle.
    pub fn body(&self, body: &Resource<HeldBody>) -> wasmtime::Result<&HeldBody> {
        Ok(self.table.get(body)?)
    }

    /// The run's memory budget, which the bodies count against.
    pub fn budget(&self) -> &Arc<MemoryBudget> {
        &self.budget
    }

    /// Hands the guest a body of `bytes` another capability holds for it, already counted
    /// against the budget (the source's kept bytes).
    pub fn adopt_body(&mut self, bytes: Bytes) -> wasmtime::Result<Resource<HeldBody>> {
        Ok(self.table.push(HeldBody { bytes })?)
    }

    /// Sends one request, retried as the job says.
    pub fn send_request(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, HttpError>> + Send + 'static {
        let outbound = self.outbound.clone();
        let Request {
            method,
            url,
            headers,
            body,
        } = request;
        let head = RequestHead {
            method,
            url,
            headers,
        };
        async move { outbound.send(head, Bytes::from(body)).await }
    }
}

impl Outbound {
    /// The policy: the URL's origin must be one the job names.
    fn check(&self, url: &str) -> Result<Url, HttpError> {
        let parsed = Url::parse(url)
            .map_err(|e| HttpError::InvalidRequest(format!("bad URL `{url}`: {e}")))?;
        let origin = Origin::of(&parsed)
            .ok_or_else(|| HttpError::InvalidRequest(format!("URL `{url}` has no host")))?;
        if self.client.is_none() || !self.allowed.contains(&origin) {
            let granted: Vec<String> = self.allowed.iter().map(Origin::to_string).collect();
            return Err(HttpError::Denied(format!(
                "{origin} is not an origin this job grants (granted: {})",
                if granted.is_empty() {
                    "none".into()
                } else {
                    granted.join(", ")
                }
            )));
        }
        Ok(parsed)
    }

    async fn send(&self, head: RequestHead, body: Bytes) -> Result<Response, HttpError> {
        let url = self.check(&head.url)?;
        let client = self.client.as_ref().expect("checked by the policy");
        let method = match head.method {
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
            Method::Put => reqwest::Method::PUT,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        if head
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("authorization"))
        {
            return Err(HttpError::InvalidRequest(
                "the request sets `Authorization`: the host authorizes requests itself, and the \
                 component never holds a credential"
                    .into(),
            ));
        }
        // Framing headers are the client's business.
        let mut builder = client.request(method, url);
        for Header { name, value } in &head.headers {
            let framing = ["host", "content-length", "transfer-encoding", "connection"]
                .iter()
                .any(|h| name.eq_ignore_ascii_case(h));
            if !framing {
                builder = builder.header(name, value);
            }
        }
        if let Some(timeout) = self.request_timeout {
            builder = builder.timeout(timeout);
        }
        // The body is shared, not copied, by each attempt.
        let mut request = builder.body(body).build().map_err(classify)?;
        if let Some(authorizer) = &self.authorizer {
            authorizer
                .authorize(&mut request)
                .await
                .map_err(HttpError::Credential)?;
        }
        let answer = retry::send_request(&self.retry, client, request)
            .await
            .map_err(classify)?;
        let headers = answer
            .headers
            .iter()
            .map(|(name, value)| Header {
                name: name.as_str().to_string(),
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            })
            .collect();
        Ok(Response {
            status: answer.status.as_u16(),
            headers,
            body: answer.body.into(),
        })
    }
}

fn classify(e: reqwest::Error) -> HttpError {
    let message = describe_error(&e);
    if e.is_timeout() {
        HttpError::Timeout(message)
    } else if e.is_builder() {
        HttpError::InvalidRequest(message)
    } else {
        HttpError::Connection(message)
    }
}

impl http::Host for HttpCapability {
    async fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        self.send_request(request).await
    }
}

impl http::HostBody for HttpCapability {
    async fn new(&mut self, bytes: Vec<u8>) -> wasmtime::Result<Resource<HeldBody>> {
        let bytes = self
            .budget
            .hold(bytes)
            .map_err(|refusal| wasmtime::Error::new(MemoryLimitReached(refusal)))?;
        Ok(self.table.push(HeldBody { bytes })?)
    }

    async fn length(&mut self, body: Resource<HeldBody>) -> wasmtime::Result<u64> {
        Ok(self.body(&body)?.bytes.len() as u64)
    }

    async fn drop(&mut self, body: Resource<HeldBody>) -> wasmtime::Result<()> {
        self.table.delete(body)?;
        Ok(())
    }
}

impl http::HostPipeline for HttpCapability {
    async fn new(&mut self, max_in_flight: u32) -> wasmtime::Result<Resource<Pipeline>> {
        let bound = (max_in_flight as usize).clamp(1, self.max_in_flight);
        Ok(self.table.push(Pipeline::new(bound))?)
    }

    async fn submit(
        &mut self,
        pipeline: Resource<Pipeline>,
        head: RequestHead,
        body: Resource<HeldBody>,
    ) -> wasmtime::Result<u64> {
        let bytes = self.body(&body)?.bytes.clone();
        let outbound = self.outbound.clone();
        let pipeline = self.table.get_mut(&pipeline)?;
        Ok(pipeline.submit(async move { outbound.send(head, bytes).await }))
    }

    async fn next(
        &mut self,
        pipeline: Resource<Pipeline>,
    ) -> wasmtime::Result<Option<http::Completion>> {
        let pipeline = self.table.get_mut(&pipeline)?;
        Ok(pipeline
            .next()
            .await
            .map(|(ticket, outcome)| http::Completion { ticket, outcome }))
    }

    async fn drop(&mut self, pipeline: Resource<Pipeline>) -> wasmtime::Result<()> {
        // Dropping it aborts what is still in flight.
        self.table.delete(pipeline)?;
        Ok(())
    }
}

/// The run's memory limit stopped the guest from handing over another body.
#[derive(Debug, thiserror::Error)]
#[error(
    "the host holds {} MiB of request bodies for the component, which with its {} MiB of \
     memory passes the limit of {} MiB",
    .0.held >> 20, .0.linear >> 20, .0.limit >> 20
)]
pub struct MemoryLimitReached(pub body::Refusal);

#[cfg(test)]
mod tests {
    use super::*;

    fn capability(origins: &[&str]) -> Arc<Outbound> {
        let allowed = origins.iter().map(|o| Origin::parse(o).unwrap()).collect();
        HttpCapability::new(reqwest::Client::new(), allowed, 4, RetryConfig::none()).outbound
    }

    #[test]
    fn policy_compares_scheme_host_and_port() {
        let cap = capability(&["https://acct.dfs.core.windows.net", "http://127.0.0.1:8080"]);
        assert!(
            cap.check("https://acct.dfs.core.windows.net/fs/a.csv")
                .is_ok()
        );
        assert!(
            cap.check("https://ACCT.dfs.core.windows.net:443/fs")
                .is_ok()
        );
        assert!(cap.check("http://127.0.0.1:8080/acct/fs").is_ok());
        for denied in [
            "http://acct.dfs.core.windows.net/fs",
            "https://acct.dfs.core.windows.net:8443/fs",
            "https://other.dfs.core.windows.net/fs",
            "http://127.0.0.1:8081/acct",
            "https://evil.example/acct.dfs.core.windows.net",
        ] {
            let err = cap.check(denied).unwrap_err();
            assert!(matches!(err, HttpError::Denied(_)), "{denied}: {err:?}");
        }
        assert!(matches!(
            cap.check("not a url"),
            Err(HttpError::InvalidRequest(_))
        ));
    }

    /// A job whose account has these endpoints.
    fn job_with(dfs: &str, blob: Option<&str>) -> crate::job::Job {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data.csv"), "a\n1\n").unwrap();
        std::fs::write(dir.path().join("secret"), "s3cret\n").unwrap();
        let blob = blob
            .map(|b| format!("blob_endpoint = \"{b}\"\n"))
            .unwrap_or_default();
        let text = format!(
            "[account]\nclient_id = \"11111111-2222-3333-4444-555555555555\"\n\
             tenant_id = \"contoso.onmicrosoft.com\"\nclient_secret = {{ file = \"secret\" }}\n\
             account_name = \"acct\"\ncontainer = \"box\"\ndfs_endpoint = \"{dfs}\"\n{blob}\
             [source]\nkind = \"file\"\npath = \"data.csv\"\n"
        );
        let path = dir.path().join("job.toml");
        std::fs::write(&path, text).unwrap();
        crate::job::JobFile::load(&path).unwrap().resolve().0
    }

    #[test]
    fn a_run_may_reach_its_dfs_and_blob_endpoints_one_origin_when_shared() {
        let shared = job_with("http://127.0.0.1:10004/acct", None);
        assert_eq!(
            granted_origins(&shared),
            [Origin::parse("http://127.0.0.1:10004").unwrap()]
        );
        let apart = job_with(
            "http://127.0.0.1:10004/acct",
            Some("http://127.0.0.1:10000/devstoreaccount1"),
        );
        let origins = granted_origins(&apart);
        assert_eq!(origins.len(), 2, "{origins:?}");
        assert_eq!(origins[1], Origin::parse("http://127.0.0.1:10000").unwrap());
    }

    #[test]
    fn nothing_is_granted_by_default() {
        let err = HttpCapability::none()
            .outbound
            .check("https://example.com/")
            .unwrap_err();
        match err {
            HttpError::Denied(message) => assert!(message.contains("granted: none"), "{message}"),
            other => panic!("{other:?}"),
        }
    }
}
