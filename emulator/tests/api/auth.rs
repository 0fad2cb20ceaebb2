//! Bearer-token enforcement on the DFS endpoint.

use std::time::Duration;

use adls_writeback_emulator::well_known;
use reqwest::{Method, StatusCode};

use crate::common::{expect_error, start, start_with, storage_token};

fn challenge_of(response: &reqwest::Response) -> String {
    response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn missing_authorization() {
    let env = start().await;
    let response = env
        .client
        .get(format!(
            "{}/writeback/x.csv",
            env.emulator.account_endpoint(well_known::ACCOUNT_NAME)
        ))
        .send()
        .await
        .unwrap();
    let challenge = challenge_of(&response);
    assert_eq!(
        challenge,
        format!(
            "Bearer authorization_uri={}/{}/oauth2/authorize resource_id=https://storage.azure.com",
            env.emulator.authority_url(),
            well_known::TENANT_ID
        )
    );
    expect_error(
        response,
        StatusCode::UNAUTHORIZED,
        "NoAuthenticationInformation",
    )
    .await;
}

#[tokio::test]
async fn expired_token() {
    let env = start_with(|c| c.token_lifetime = Duration::ZERO).await;
    let response = env
        .req(Method::GET, "writeback?resource=filesystem&recursive=true")
        .send()
        .await
        .unwrap();
    assert!(challenge_of(&response).starts_with("Bearer authorization_uri="));
    let body = expect_error(
        response,
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationInfo",
    )
    .await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Server failed to authenticate the request."),
        "{message}"
    );
    assert!(
        message.contains("Lifetime validation failed. The token is expired."),
        "{message}"
    );
}

#[tokio::test]
async fn wrong_audience() {
    let mut env = start().await;
    env.token = storage_token(&env.client, &env.emulator, "https://example.com/.default").await;
    let response = env.head("x.csv").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["x-ms-error-code"],
        "InvalidAuthenticationInfo"
    );
    assert!(challenge_of(&response).contains("resource_id=https://storage.azure.com"));
    let response = env
        .req(Method::GET, "writeback/x.csv")
        .send()
        .await
        .unwrap();
    let body = expect_error(
        response,
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationInfo",
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Audience validation failed. Audience did not match.")
    );
}

#[tokio::test]
async fn forged_and_malformed_tokens() {
    let mut env = start().await;
    let good = env.token.clone();
    let (head, _signature) = good.rsplit_once('.').unwrap();
    for token in [format!("{head}.c2lnbmF0dXJl"), "not-a-jwt".to_string()] {
        env.token = token;
        let response = env
            .req(Method::GET, "writeback/x.csv")
            .send()
            .await
            .unwrap();
        assert!(response.headers().contains_key("www-authenticate"));
        expect_error(
            response,
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationInfo",
        )
        .await;
    }
}
