//! Request-level retry: the HTTP capability and the Entra ID credential against the
//! emulator's faults (busy answers, dropped requests, answers cut short, `Retry-After`), each
//! checked by what the emulator counted and by the final outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::Resource;

use adls_writeback::capabilities::auth::{
    Authorizer, EntraCredential, STORAGE_SCOPE, StorageCredential,
};
use adls_writeback::capabilities::bindings::http::{
    Header, Host as _, HostBody, HostPipeline, Method, Request, RequestHead, Response,
};
use adls_writeback::capabilities::http::body::HeldBody;
use adls_writeback::capabilities::http::pipeline::Pipeline;
use adls_writeback::capabilities::http::{HttpCapability, Origin};
use adls_writeback::job::secret::Secret;
use adls_writeback::plumbing::dfs::API_VERSION;
use adls_writeback::plumbing::retry::{BackoffConfig, RetryConfig};
use adls_writeback_emulator::{
    Emulator, Fault, FaultPlan, FaultRule, Operation, Service, well_known,
};

use crate::support::Harness;

/// Quick retries, so the tests take milliseconds.
fn quick(max_retries: u32) -> RetryConfig {
    RetryConfig {
        max_retries,
        backoff: BackoffConfig {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
            base: 2.0,
        },
        retry_timeout: Duration::from_secs(30),
    }
}

/// Counts every attempt that no earlier rule failed: a zero-delay `slow` on every DFS request.
fn count_the_rest() -> FaultRule {
    FaultRule::new(Fault::Slow { ms: 0 }).service(Service::Dfs)
}

/// The harness's emulator, the authorizer of its app, and the DFS requests the tests send
/// through the capability.
struct Requests {
    harness: Harness,
    authorizer: Arc<Authorizer>,
}

impl Requests {
    async fn start() -> Requests {
        let harness = Harness::start().await;
        let credential = Arc::new(credential(&harness.emulator, RetryConfig::none()));
        let authorizer = Arc::new(Authorizer::new(StorageCredential::Bearer(credential)));
        Requests {
            harness,
            authorizer,
        }
    }

    fn capability(&self, retry: RetryConfig) -> HttpCapability {
        let origin = Origin::parse(&self.harness.emulator.dfs_url()).unwrap();
        HttpCapability::new(reqwest::Client::new(), vec![origin], 4, retry)
            .with_authorizer(self.authorizer.clone())
    }

    fn url(&self, path: &str, query: &str) -> String {
        format!(
            "{}/{}/{path}{query}",
            self.harness
                .emulator
                .account_endpoint(well_known::ACCOUNT_NAME),
            well_known::CONTAINER
        )
    }

    fn request(&self, method: Method, url: String, body: &[u8]) -> Request {
        Request {
            method,
            url,
            headers: vec![header("x-ms-version", API_VERSION)],
            body: body.to_vec(),
        }
    }

    /// Creates `path` holding `data`, without faults.
    async fn file(&self, path: &str, data: &[u8]) {
        let mut cap = self.capability(RetryConfig::none());
        for (method, query, body) in [
            (Method::Put, "?resource=file".to_string(), &b""[..]),
            (Method::Patch, "?action=append&position=0".into(), data),
            (
                Method::Patch,
                format!("?action=flush&position={}", data.len()),
                &b""[..],
            ),
        ] {
            let response = cap
                .send(self.request(method, self.url(path, &query), body))
                .await
                .unwrap();
            assert!(response.status < 300, "{}", text(&response));
        }
    }
}

fn credential(emulator: &Emulator, retry: RetryConfig) -> EntraCredential {
    EntraCredential::new(
        reqwest::Client::new(),
        &emulator.authority_url(),
        well_known::TENANT_ID,
        well_known::CLIENT_ID,
        Secret::new(well_known::CLIENT_SECRET),
    )
    .with_retry(retry)
}

fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.into(),
        value: value.into(),
    }
}

fn text(response: &Response) -> String {
    format!(
        "HTTP {}: {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_answers_are_retried_until_the_request_succeeds() {
    let s = Requests::start().await;
    s.harness
        .emulator
        .set_faults(FaultPlan::new(vec![
            FaultRule::new(Fault::ServerBusy { retry_after: None })
                .service(Service::Dfs)
                .operation(Operation::Create)
                .nth([1, 2]),
            count_the_rest(),
        ]))
        .unwrap();
    let mut cap = s.capability(quick(8));
    let response = cap
        .send(s.request(Method::Put, s.url("busy.csv", "?resource=file"), b""))
        .await
        .unwrap();
    assert_eq!(response.status, 201, "{}", text(&response));
    let counts = s.harness.emulator.fault_counts();
    assert_eq!((counts.server_busy, counts.slow), (2, 1), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_request_is_resent_with_its_body() {
    let s = Requests::start().await;
    let mut cap = s.capability(RetryConfig::none());
    let create = s.request(Method::Put, s.url("drop.csv", "?resource=file"), b"");
    assert_eq!(cap.send(create).await.unwrap().status, 201);
    s.harness
        .emulator
        .set_faults(FaultPlan::new(vec![
            FaultRule::new(Fault::DropRequest)
                .service(Service::Dfs)
                .operation(Operation::Append)
                .first(1),
            count_the_rest(),
        ]))
        .unwrap();
    let data = b"a,b\n1,2\n".repeat(1000);
    let mut cap = s.capability(quick(8));
    let append = s.request(
        Method::Patch,
        s.url("drop.csv", "?action=append&position=0"),
        &data,
    );
    let response = cap.send(append).await.unwrap();
    assert_eq!(response.status, 202, "{}", text(&response));
    let flush = s.request(
        Method::Patch,
        s.url(
            "drop.csv",
            &format!("?action=flush&position={}", data.len()),
        ),
        b"",
    );
    assert_eq!(cap.send(flush).await.unwrap().status, 200);
    let read = cap
        .send(s.request(Method::Get, s.url("drop.csv", ""), b""))
        .await
        .unwrap();
    assert!(read.body == data, "the resent append landed whole");
    let counts = s.harness.emulator.fault_counts();
    assert_eq!(counts.drop_request, 1, "{counts:?}");
    assert_eq!(
        counts.slow, 3,
        "the append again, the flush and the read: {counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_cut_short_is_read_again_whole() {
    let s = Requests::start().await;
    let data = b"x,y\n".repeat(50_000);
    s.file("cut.csv", &data).await;
    for fault in [
        Fault::DropResponse {
            body_bytes: Some(1000),
        },
        Fault::DropResponse { body_bytes: None },
    ] {
        s.harness
            .emulator
            .set_faults(FaultPlan::new(vec![
                FaultRule::new(fault.clone())
                    .service(Service::Dfs)
                    .operation(Operation::Read)
                    .first(1),
                count_the_rest(),
            ]))
            .unwrap();
        let mut cap = s.capability(quick(8));
        let read = cap
            .send(s.request(Method::Get, s.url("cut.csv", ""), b""))
            .await
            .unwrap();
        assert_eq!(read.status, 200, "{fault:?}");
        assert!(read.body == data, "{fault:?}: the body read whole");
        let counts = s.harness.emulator.fault_counts();
        assert_eq!((counts.drop_response, counts.slow), (1, 1), "{counts:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_up_to_the_backoff_cap() {
    let s = Requests::start().await;
    s.file("wait.csv", b"a\n").await;
    let busy = || {
        FaultPlan::new(vec![
            FaultRule::new(Fault::ServerBusy {
                retry_after: Some(1),
            })
            .service(Service::Dfs)
            .operation(Operation::Read)
            .nth([1]),
        ])
    };
    // The server's 1 s, not the 10-50 ms of the backoff.
    let mut patient = quick(8);
    patient.backoff.max = Duration::from_secs(5);
    s.harness.emulator.set_faults(busy()).unwrap();
    let started = Instant::now();
    let read = s
        .capability(patient)
        .send(s.request(Method::Get, s.url("wait.csv", ""), b""))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(read.status, 200);
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // Capped by `backoff.max` (50 ms).
    s.harness.emulator.set_faults(busy()).unwrap();
    let started = Instant::now();
    let read = s
        .capability(quick(8))
        .send(s.request(Method::Get, s.url("wait.csv", ""), b""))
        .await
        .unwrap();
    assert_eq!(read.status, 200);
    assert!(started.elapsed() < Duration::from_millis(900), "capped");
    // A wait past the budget is not started: the service's answer comes back at once.
    let mut hurried = patient_budget(Duration::from_millis(500));
    hurried.backoff.max = Duration::from_secs(5);
    s.harness.emulator.set_faults(busy()).unwrap();
    let started = Instant::now();
    let read = s
        .capability(hurried)
        .send(s.request(Method::Get, s.url("wait.csv", ""), b""))
        .await
        .unwrap();
    assert_eq!(read.status, 503, "{}", text(&read));
    assert!(started.elapsed() < Duration::from_millis(900));
}

fn patient_budget(budget: Duration) -> RetryConfig {
    RetryConfig {
        retry_timeout: budget,
        ..quick(8)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_retries_run_out_the_service_answer_is_returned() {
    let s = Requests::start().await;
    s.harness
        .emulator
        .set_faults(FaultPlan::new(vec![
            FaultRule::new(Fault::ServerBusy { retry_after: None }).service(Service::Dfs),
        ]))
        .unwrap();
    let response = s
        .capability(quick(2))
        .send(s.request(Method::Put, s.url("never.csv", "?resource=file"), b""))
        .await
        .unwrap();
    assert_eq!(response.status, 503);
    assert!(
        response
            .headers
            .iter()
            .any(|h| h.name == "x-ms-error-code" && h.value == "ServerBusy"),
        "{:?}",
        response.headers
    );
    assert_eq!(
        s.harness.emulator.fault_counts().server_busy,
        3,
        "1 + 2 retries"
    );

    // Transport failures: the last error comes back, as a connection error.
    s.harness
        .emulator
        .set_faults(FaultPlan::new(vec![
            FaultRule::new(Fault::DropRequest).service(Service::Dfs),
        ]))
        .unwrap();
    let error = s
        .capability(quick(2))
        .send(s.request(Method::Put, s.url("never.csv", "?resource=file"), b""))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            adls_writeback::capabilities::bindings::errors::HttpError::Connection(_)
        ),
        "{error:?}"
    );
    assert_eq!(s.harness.emulator.fault_counts().drop_request, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_credential_is_not_retried_here() {
    let s = Requests::start().await;
    s.harness
        .emulator
        .set_faults(FaultPlan::new(vec![count_the_rest()]))
        .unwrap();
    let request = s.request(Method::Put, s.url("denied.csv", "?resource=file"), b"");
    // No authorizer: the request goes without a credential and is refused with 401.
    let origin = Origin::parse(&s.harness.emulator.dfs_url()).unwrap();
    let mut bare = HttpCapability::new(reqwest::Client::new(), vec![origin], 4, quick(8));
    let response = bare.send(request).await.unwrap();
    assert_eq!(response.status, 401, "{}", text(&response));
    assert_eq!(s.harness.emulator.fault_counts().slow, 1, "sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_requests_are_retried_each_on_its_own() {
    let s = Requests::start().await;
    s.harness
        .emulator
        .set_faults(FaultPlan::new(vec![
            FaultRule::new(Fault::ServerBusy { retry_after: None })
                .service(Service::Dfs)
                .operation(Operation::Create)
                .nth([2, 3, 5]),
            FaultRule::new(Fault::DropRequest)
                .service(Service::Dfs)
                .operation(Operation::Create)
                .nth([4]),
        ]))
        .unwrap();
    let mut cap = s.capability(quick(8));
    let pipeline = HostPipeline::new(&mut cap, 4).await.unwrap();
    let mut tickets = Vec::new();
    for i in 0..6 {
        let request = s.request(
            Method::Put,
            s.url(&format!("many/{i}.csv"), "?resource=file"),
            b"",
        );
        let head = RequestHead {
            method: request.method,
            url: request.url,
            headers: request.headers,
        };
        let body = HostBody::new(&mut cap, Vec::new()).await.unwrap();
        let rep = Resource::<HeldBody>::new_borrow(body.rep());
        let pipe = Resource::<Pipeline>::new_borrow(pipeline.rep());
        tickets.push(
            HostPipeline::submit(&mut cap, pipe, head, rep)
                .await
                .unwrap(),
        );
    }
    let mut answered = Vec::new();
    loop {
        let pipe = Resource::<Pipeline>::new_borrow(pipeline.rep());
        let Some(done) = HostPipeline::next(&mut cap, pipe).await.unwrap() else {
            break;
        };
        let response = done.outcome.as_ref().unwrap();
        assert_eq!(response.status, 201, "{}: {}", done.ticket, text(response));
        answered.push(done.ticket);
    }
    answered.sort();
    assert_eq!(answered, tickets);
    let counts = s.harness.emulator.fault_counts();
    assert_eq!((counts.server_busy, counts.drop_request), (3, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_request_is_retried_too() {
    let s = Requests::start().await;
    s.harness
        .emulator
        .set_faults(FaultPlan::new(vec![
            FaultRule::new(Fault::ServerBusy { retry_after: None })
                .service(Service::Login)
                .operation(Operation::Token)
                .nth([1]),
            FaultRule::new(Fault::DropRequest)
                .service(Service::Login)
                .operation(Operation::Token)
                .nth([2]),
        ]))
        .unwrap();
    let token = credential(&s.harness.emulator, quick(8))
        .token(STORAGE_SCOPE)
        .await
        .unwrap();
    assert!(!token.token.is_empty());
    let counts = s.harness.emulator.fault_counts();
    assert_eq!((counts.server_busy, counts.drop_request), (1, 1));
    // Without retries the first busy answer fails the request.
    s.harness
        .emulator
        .set_faults(FaultPlan::new(vec![
            FaultRule::new(Fault::ServerBusy { retry_after: None })
                .service(Service::Login)
                .nth([1]),
        ]))
        .unwrap();
    let credential = Arc::new(credential(&s.harness.emulator, RetryConfig::none()));
    assert!(credential.token(STORAGE_SCOPE).await.is_err());
}
