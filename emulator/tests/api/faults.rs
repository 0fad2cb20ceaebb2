//! Fault injection as a client sees it: error answers, dropped connections, slow answers, and
//! which requests the rules pick.

use std::error::Error as _;
use std::time::{Duration, Instant};

use adls_writeback_emulator::{
    Emulator, EmulatorConfig, Fault, FaultPlan, FaultRule, Operation, Service, well_known,
};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{Env, expect_error, start, start_with};

fn plan(rules: Vec<FaultRule>) -> FaultPlan {
    FaultPlan::new(rules)
}

fn busy() -> Fault {
    Fault::ServerBusy { retry_after: None }
}

/// `PATCH ?action=append`, the connection's outcome as reqwest reports it.
async fn try_append(
    env: &Env,
    path: &str,
    position: u64,
    data: &[u8],
) -> reqwest::Result<reqwest::Response> {
    let pq = format!("writeback/{path}?action=append&position={position}");
    env.req(Method::PATCH, &pq).body(data.to_vec()).send().await
}

/// `PATCH ?action=flush`, the connection's outcome as reqwest reports it.
async fn try_flush(env: &Env, path: &str, position: u64) -> reqwest::Result<reqwest::Response> {
    let pq = format!("writeback/{path}?action=flush&position={position}");
    env.req(Method::PATCH, &pq).send().await
}

/// Asserts that the connection closed without an answer.
fn assert_dropped(result: reqwest::Result<reqwest::Response>) {
    let error = match result {
        Ok(response) => panic!("expected a dropped connection, got {}", response.status()),
        Err(error) => error,
    };
    assert!(error.is_request(), "{error:?}");
    assert!(error.status().is_none());
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(
        chain.contains("connection closed before message completed")
            || chain.contains("reset")
            || chain.contains("broken pipe"),
        "{chain}"
    );
}

#[tokio::test]
async fn server_busy_answers_503_before_the_append_happens() {
    let env = start().await;
    env.create_file("busy.csv").await;
    let rule = FaultRule::new(Fault::ServerBusy {
        retry_after: Some(1),
    })
    .service(Service::Dfs)
    .operation(Operation::Append)
    .first(1);
    env.emulator.set_faults(plan(vec![rule])).unwrap();

    let response = try_append(&env, "busy.csv", 0, b"abc").await.unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let body = expect_error(response, StatusCode::SERVICE_UNAVAILABLE, "ServerBusy").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "The server is currently unable to receive requests. Please retry your request.\n"
        ),
        "{message}"
    );
    let flushed = try_flush(&env, "busy.csv", 3).await.unwrap();
    expect_error(flushed, StatusCode::BAD_REQUEST, "InvalidFlushPosition").await;

    assert_eq!(
        env.append("busy.csv", 0, b"abc".to_vec()).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(env.flush("busy.csv", 3).await.status(), StatusCode::OK);
    assert_eq!(env.read("busy.csv").await, b"abc");
    assert_eq!(env.emulator.fault_counts().server_busy, 1);
}

#[tokio::test]
async fn error_faults_on_flush_leave_the_file_and_the_staged_data() {
    let env = start().await;
    env.create_file("f.csv").await;
    let cases = [
        (Fault::OperationTimedOut, "OperationTimedOut"),
        (Fault::InternalError, "InternalError"),
    ];
    for (fault, code) in cases {
        let rule = FaultRule::new(fault).operation(Operation::Flush).first(1);
        env.emulator.set_faults(plan(vec![rule])).unwrap();
        assert_eq!(
            env.append("f.csv", 0, b"data".to_vec()).await.status(),
            StatusCode::ACCEPTED
        );
        let failed = try_flush(&env, "f.csv", 4).await.unwrap();
        assert!(!failed.headers().contains_key("retry-after"));
        expect_error(failed, StatusCode::INTERNAL_SERVER_ERROR, code).await;
        assert_eq!(
            env.head("f.csv").await.headers()["content-length"],
            "0",
            "{code}"
        );
        assert_eq!(env.emulator.fault_counts().total(), 1);
    }
    assert_eq!(env.flush("f.csv", 4).await.status(), StatusCode::OK);
    assert_eq!(env.read("f.csv").await, b"data");
}

#[tokio::test]
async fn drop_request_closes_the_connection_before_the_append_happens() {
    let env = start().await;
    env.create_file("d.csv").await;
    let rule = FaultRule::new(Fault::DropRequest)
        .operation(Operation::Append)
        .first(1);
    env.emulator.set_faults(plan(vec![rule])).unwrap();
    let data = vec![b'x'; 1 << 20];
    assert_dropped(try_append(&env, "d.csv", 0, &data).await);
    let flushed = try_flush(&env, "d.csv", data.len() as u64).await.unwrap();
    expect_error(flushed, StatusCode::BAD_REQUEST, "InvalidFlushPosition").await;
    assert_eq!(env.emulator.fault_counts().drop_request, 1);
}

#[tokio::test]
async fn drop_response_on_append_leaves_the_data_appended() {
    let env = start().await;
    env.create_file("r.csv").await;
    let rule = FaultRule::new(Fault::DropResponse { body_bytes: None })
        .operation(Operation::Append)
        .first(1);
    env.emulator.set_faults(plan(vec![rule])).unwrap();
    assert_dropped(try_append(&env, "r.csv", 0, b"committed").await);
    assert_eq!(env.flush("r.csv", 9).await.status(), StatusCode::OK);
    assert_eq!(env.read("r.csv").await, b"committed");
}

#[tokio::test]
async fn drop_response_on_flush_and_head_sends_nothing() {
    let env = start().await;
    env.create_file("h.csv").await;
    env.append("h.csv", 0, b"abc".to_vec()).await;
    let rule = FaultRule::new(Fault::DropResponse { body_bytes: None }).nth([1, 2]);
    env.emulator.set_faults(plan(vec![rule])).unwrap();
    assert_dropped(try_flush(&env, "h.csv", 3).await);
    assert_dropped(env.req(Method::HEAD, "writeback/h.csv").send().await);
    assert_eq!(env.head("h.csv").await.headers()["content-length"], "3");
    assert_eq!(env.emulator.fault_counts().drop_response, 2);
}

#[tokio::test]
async fn drop_response_with_body_bytes_cuts_a_read() {
    let env = start().await;
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    env.put_file("big.bin", &data).await;
    let rule = FaultRule::new(Fault::DropResponse {
        body_bytes: Some(1000),
    })
    .operation(Operation::Read)
    .first(1);
    env.emulator.set_faults(plan(vec![rule])).unwrap();
    let response = env
        .req(Method::GET, "writeback/big.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-length"], "100000");
    let error = response.bytes().await.unwrap_err();
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    assert_eq!(env.read("big.bin").await, data, "the next read is whole");
}

#[tokio::test]
async fn slow_answers_after_the_delay_and_the_request_happened() {
    let env = start().await;
    let rule = FaultRule::new(Fault::Slow { ms: 300 }).operation(Operation::Create);
    env.emulator.set_faults(plan(vec![rule])).unwrap();
    let started = Instant::now();
    assert_eq!(
        env.create_file("slow.csv").await.status(),
        StatusCode::CREATED
    );
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(env.head("slow.csv").await.status(), StatusCode::OK);
    assert_eq!(env.emulator.fault_counts().slow, 1);
}

/// Statuses of `count` HEAD requests for `path`.
async fn head_statuses(env: &Env, path: &str, count: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..count {
        statuses.push(env.head(path).await.status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn rate_selection_repeats_with_the_seed() {
    let env = start().await;
    env.put_file("p.csv", b"x").await;
    let rated = |seed| {
        FaultPlan::new(vec![
            FaultRule::new(busy())
                .operation(Operation::Properties)
                .rate(0.5),
        ])
        .with_seed(seed)
    };
    env.emulator.set_faults(rated(11)).unwrap();
    let first = head_statuses(&env, "p.csv", 24).await;
    env.emulator.set_faults(rated(11)).unwrap();
    assert_eq!(head_statuses(&env, "p.csv", 24).await, first);
    let failed = first.iter().filter(|s| **s == 503).count();
    assert!((4..=20).contains(&failed), "{first:?}");
    env.emulator.set_faults(rated(12)).unwrap();
    assert_ne!(head_statuses(&env, "p.csv", 24).await, first);
}

#[tokio::test]
async fn nth_schedule_from_the_start_up_plan_counts_only_matching_requests() {
    let rule = FaultRule::new(busy())
        .service(Service::Dfs)
        .method("head")
        .path("/target")
        .nth([2, 4]);
    let env = start_with(|c| c.faults = plan(vec![rule])).await;
    env.put_file("other.csv", b"o").await;
    env.put_file("target.csv", b"t").await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(env.head("target.csv").await.status().as_u16());
        assert_eq!(env.head("other.csv").await.status(), StatusCode::OK);
    }
    assert_eq!(statuses, [200, 503, 200, 503, 200]);
    let counts = env.emulator.fault_counts();
    assert_eq!((counts.server_busy, counts.total()), (2, 2));
}

#[tokio::test]
async fn login_and_domo_faults_answer_in_their_own_format() {
    let env = start().await;
    let rules = vec![
        FaultRule::new(busy())
            .service(Service::Login)
            .operation(Operation::Token)
            .first(1),
        FaultRule::new(Fault::InternalError)
            .service(Service::Domo)
            .first(1),
    ];
    env.emulator.set_faults(plan(rules)).unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", well_known::CLIENT_ID),
        ("client_secret", well_known::CLIENT_SECRET),
        ("scope", "https://storage.azure.com/.default"),
    ];
    let token_url = format!(
        "{}/{}/oauth2/v2.0/token",
        env.emulator.authority_url(),
        well_known::TENANT_ID
    );
    let busy = env
        .client
        .post(&token_url)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = busy.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(body["error_codes"][0], 90033);
    let ok = env
        .client
        .post(&token_url)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let domo = env
        .client
        .get(format!("{}/v1/datasets", env.emulator.domo_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(domo.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = domo.json().await.unwrap();
    assert_eq!(
        (body["status"].as_u64(), body["path"].as_str()),
        (Some(500), Some("/v1/datasets"))
    );
    let counts = env.emulator.fault_counts();
    assert_eq!((counts.server_busy, counts.internal_error), (1, 1));
}

#[tokio::test]
async fn drops_close_tls_connections_too() {
    let data = tempfile::tempdir().unwrap();
    let mut config = EmulatorConfig::well_known(data.path());
    config.tls = true;
    config.faults = plan(vec![
        FaultRule::new(Fault::DropResponse { body_bytes: None })
            .service(Service::Login)
            .first(1),
    ]);
    let emulator = Emulator::start(config).await.unwrap();
    let ca = std::fs::read(emulator.ca_file().unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        emulator.authority_url(),
        well_known::TENANT_ID
    );
    assert!(url.starts_with("https://"), "{url}");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", well_known::CLIENT_ID),
        ("client_secret", well_known::CLIENT_SECRET),
        ("scope", "https://storage.azure.com/.default"),
    ];
    assert_dropped(client.post(&url).form(&form).send().await);
    let again = client.post(&url).form(&form).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}
