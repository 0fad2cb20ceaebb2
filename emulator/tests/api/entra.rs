//! The Entra ID token endpoint.

use adls_writeback_emulator::well_known;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{start, token_response};

fn form<'a>(secret: &'a str, client_id: &'a str, scope: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("scope", scope),
    ]
}

const STORAGE: &str = "https://storage.azure.com/.default";

async fn aad_error(
    response: reqwest::Response,
    status: StatusCode,
    error: &str,
    code: u64,
) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], serde_json::json!([code]));
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    let trace_id = body["trace_id"].as_str().unwrap();
    let correlation_id = body["correlation_id"].as_str().unwrap();
    assert_eq!(trace_id.len(), 36);
    assert!(description.contains(&format!(
        "\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: "
    )));
    let timestamp = body["timestamp"].as_str().unwrap();
    assert_eq!(timestamp.len(), "2023-05-06 06:03:00Z".len());
    assert!(
        body["error_uri"]
            .as_str()
            .unwrap()
            .ends_with(&format!("error?code={code}"))
    );
    body
}

#[tokio::test]
async fn issues_tokens_by_tenant_id_and_domain() {
    let env = start().await;
    for tenant in [well_known::TENANT_ID, well_known::TENANT_DOMAIN] {
        let f = form(well_known::CLIENT_SECRET, well_known::CLIENT_ID, STORAGE);
        let response = token_response(&env.client, &env.emulator, tenant, &f).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3599);
        assert_eq!(body["ext_expires_in"], 3599);
        assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3);
    }
}

#[tokio::test]
async fn wrong_secret_is_7000215() {
    let env = start().await;
    let f = form("wrong", well_known::CLIENT_ID, STORAGE);
    let response = token_response(&env.client, &env.emulator, well_known::TENANT_ID, &f).await;
    let body = aad_error(
        response,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        7000215,
    )
    .await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains(well_known::CLIENT_ID)
    );
}

#[tokio::test]
async fn unknown_app_is_700016() {
    let env = start().await;
    let f = form("x", "00000000-0000-0000-0000-000000000001", STORAGE);
    let response = token_response(&env.client, &env.emulator, well_known::TENANT_ID, &f).await;
    aad_error(
        response,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        700016,
    )
    .await;
}

#[tokio::test]
async fn unknown_tenant_is_90002() {
    let env = start().await;
    let f = form(well_known::CLIENT_SECRET, well_known::CLIENT_ID, STORAGE);
    let response = token_response(&env.client, &env.emulator, "contoso.onmicrosoft.com", &f).await;
    let body = aad_error(response, StatusCode::BAD_REQUEST, "invalid_request", 90002).await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Tenant 'contoso.onmicrosoft.com' not found.")
    );
}

#[tokio::test]
async fn request_errors() {
    let env = start().await;
    let tenant = well_known::TENANT_ID;
    let missing_scope = [
        ("grant_type", "client_credentials"),
        ("client_id", well_known::CLIENT_ID),
        ("client_secret", well_known::CLIENT_SECRET),
    ];
    let response = token_response(&env.client, &env.emulator, tenant, &missing_scope).await;
    aad_error(response, StatusCode::BAD_REQUEST, "invalid_request", 900144).await;

    let f = form(
        well_known::CLIENT_SECRET,
        well_known::CLIENT_ID,
        "User.Read",
    );
    let response = token_response(&env.client, &env.emulator, tenant, &f).await;
    aad_error(response, StatusCode::BAD_REQUEST, "invalid_scope", 1002012).await;

    let password = [
        ("grant_type", "password"),
        ("client_id", well_known::CLIENT_ID),
    ];
    let response = token_response(&env.client, &env.emulator, tenant, &password).await;
    aad_error(
        response,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
        70003,
    )
    .await;
}

#[tokio::test]
async fn openid_configuration_points_at_the_emulator() {
    let env = start().await;
    let url = format!(
        "{}/{}/v2.0/.well-known/openid-configuration",
        env.emulator.authority_url(),
        well_known::TENANT_DOMAIN
    );
    let body: Value = env
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["token_endpoint"],
        format!(
            "{}/{}/oauth2/v2.0/token",
            env.emulator.authority_url(),
            well_known::TENANT_ID
        )
    );
}
