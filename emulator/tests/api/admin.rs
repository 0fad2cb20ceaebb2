//! The admin listener: fault plans and token lifetimes changed at run time.

use std::time::Duration;

use adls_writeback_emulator::well_known;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Env, expect_error, start, storage_token};

async fn admin(env: &Env, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = env
        .client
        .request(method, format!("{}{path}", env.emulator.admin_url()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, value)
}

fn no_faults() -> Value {
    json!({"server_busy": 0, "operation_timed_out": 0, "internal_error": 0,
           "drop_request": 0, "drop_response": 0, "slow": 0})
}

#[tokio::test]
async fn fault_plan_round_trip() {
    let env = start().await;
    env.put_file("a.csv", b"a").await;
    let plan = json!({"seed": 5, "rules": [{
        "match": {"service": "dfs", "operation": "properties"},
        "fault": {"kind": "server_busy", "retry_after": 2},
        "nth": [2]
    }]});
    let (status, shown) = admin(&env, Method::PUT, "/faults", Some(plan.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["plan"], plan);
    assert_eq!(shown["injected"], no_faults());

    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(env.head("a.csv").await.status().as_u16());
    }
    assert_eq!(statuses, [200, 503, 200]);
    let (_, shown) = admin(&env, Method::GET, "/faults", None).await;
    assert_eq!(shown["plan"], plan);
    assert_eq!(shown["injected"]["server_busy"], 1);
    assert_eq!(shown["rules"], json!([{"matched": 3, "injected": 1}]));

    let bad = json!({"rules": [{"fault": {"kind": "server_busy"}, "rate": 2.0}]});
    let (status, error) = admin(&env, Method::PUT, "/faults", Some(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = error["error"].as_str().unwrap();
    assert!(message.contains("rate 2 is outside 0.0-1.0"), "{message}");
    assert_eq!(
        admin(&env, Method::GET, "/faults", None).await.1["plan"],
        plan
    );

    let (status, _) = admin(&env, Method::DELETE, "/faults", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, shown) = admin(&env, Method::GET, "/faults", None).await;
    assert_eq!(shown["plan"], json!({"seed": 0, "rules": []}));
    assert_eq!(shown["injected"], no_faults());
    assert_eq!(env.head("a.csv").await.status(), StatusCode::OK);

    let (status, error) = admin(&env, Method::GET, "/nothing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error["error"].is_string());
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn token_lifetime_changes_for_tokens_issued_after() {
    let mut env = start().await;
    let lifetime = admin(&env, Method::GET, "/token-lifetime", None).await;
    assert_eq!(lifetime, (StatusCode::OK, json!({"seconds": 3600})));
    let set = admin(
        &env,
        Method::PUT,
        "/token-lifetime",
        Some(json!({"seconds": 1})),
    )
    .await;
    assert_eq!(set, (StatusCode::OK, json!({"seconds": 1})));
    assert_eq!(
        admin(&env, Method::GET, "/token-lifetime", None).await.1["seconds"],
        1
    );

    let entra = claims(
        &storage_token(
            &env.client,
            &env.emulator,
            "https://storage.azure.com/.default",
        )
        .await,
    );
    let (iat, exp) = (
        entra["iat"].as_u64().unwrap(),
        entra["exp"].as_u64().unwrap(),
    );
    // Entra ID dates `iat` and `nbf` five minutes back; `exp` is the lifetime after issue.
    assert_eq!(exp - (iat + 300), 1, "{entra}");
    let domo = env
        .client
        .get(format!(
            "{}/oauth/token?grant_type=client_credentials&scope=data",
            env.emulator.domo_url()
        ))
        .basic_auth(
            well_known::DOMO_CLIENT_ID,
            Some(well_known::DOMO_CLIENT_SECRET),
        )
        .send()
        .await
        .unwrap();
    let domo: Value = domo.json().await.unwrap();
    let domo = claims(domo["access_token"].as_str().unwrap());
    assert_eq!(
        domo["exp"].as_u64().unwrap() - domo["iat"].as_u64().unwrap(),
        1
    );

    let bad = admin(
        &env,
        Method::PUT,
        "/token-lifetime",
        Some(json!({"secs": 1})),
    )
    .await;
    assert_eq!(bad.0, StatusCode::BAD_REQUEST);

    admin(
        &env,
        Method::PUT,
        "/token-lifetime",
        Some(json!({"seconds": 0})),
    )
    .await;
    env.token = storage_token(
        &env.client,
        &env.emulator,
        "https://storage.azure.com/.default",
    )
    .await;
    let list = |env: &Env| {
        env.req(Method::GET, "writeback?resource=filesystem&recursive=true")
            .send()
    };
    let expired = list(&env).await.unwrap();
    let body = expect_error(
        expired,
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationInfo",
    )
    .await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("The token is expired."), "{message}");

    env.emulator.set_token_lifetime(Duration::from_secs(3600));
    env.token = storage_token(
        &env.client,
        &env.emulator,
        "https://storage.azure.com/.default",
    )
    .await;
    assert_eq!(list(&env).await.unwrap().status(), StatusCode::OK);
}
