//! The managed identity endpoints (IMDS's and App Service's) and federated client
//! assertions, as azure-identity calls them; and a SAS over HTTP.

use adls_writeback_emulator::well_known;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::common::start;

const RESOURCE: &str = "https://storage.azure.com";

#[tokio::test]
async fn imds_issues_storage_tokens_only_with_its_metadata_header() {
    let env = start().await;
    let url = format!(
        "{}/metadata/identity/oauth2/token",
        env.emulator.authority_url()
    );
    let query = [("api-version", "2018-02-01"), ("resource", RESOURCE)];
    let refused = env.client.get(&url).query(&query).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["error_description"],
        "Required metadata header not specified"
    );

    let answer = env
        .client
        .get(&url)
        .query(&query)
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["client_id"], well_known::CLIENT_ID);
    assert!(body["expires_in"].as_str().unwrap().parse::<u64>().unwrap() > 0);
    // The token opens the DFS endpoint.
    let token = body["access_token"].as_str().unwrap();
    let listing = env
        .client
        .get(format!(
            "{}/{}?resource=filesystem&recursive=false",
            env.emulator.account_endpoint(well_known::ACCOUNT_NAME),
            well_known::CONTAINER
        ))
        .bearer_auth(token)
        .header("x-ms-version", "2023-11-03")
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), StatusCode::OK);

    let unknown = env
        .client
        .get(&url)
        .query(&[("api-version", "2018-02-01"), ("resource", RESOURCE)])
        .query(&[("client_id", "00000000-0000-0000-0000-000000000001")])
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn app_services_endpoint_wants_its_identity_header() {
    let env = start().await;
    let url = format!("{}/msi/token", env.emulator.authority_url());
    let query = [("api-version", "2019-08-01"), ("resource", RESOURCE)];
    let wrong = env
        .client
        .get(&url)
        .query(&query)
        .header("X-IDENTITY-HEADER", "guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let ok = env
        .client
        .get(&url)
        .query(&query)
        .header("X-IDENTITY-HEADER", well_known::IDENTITY_HEADER)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert!(body["expires_on"].as_str().unwrap().parse::<u64>().is_ok());
}

fn assertion(subject: &str, audience: &str, exp_from_now: i64) -> String {
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = json!({
        "iss": well_known::FEDERATED_ISSUER,
        "sub": subject,
        "aud": audience,
        "exp": now + exp_from_now,
    });
    format!("{}.{}.sig", b64(json!({"alg": "RS256"})), b64(claims))
}

#[tokio::test]
async fn federated_assertions_must_match_a_registered_issuer_and_subject() {
    let env = start().await;
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        env.emulator.authority_url(),
        well_known::TENANT_ID
    );
    let post = |assertion: String| {
        let form = vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", well_known::CLIENT_ID.to_string()),
            ("scope", "https://storage.azure.com/.default".to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            ("client_assertion", assertion),
        ];
        env.client.post(&url).form(&form).send()
    };
    let exchange = "api://AzureADTokenExchange";
    let ok = post(assertion(well_known::FEDERATED_SUBJECT, exchange, 600))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    for (assertion, code) in [
        (assertion("system:serviceaccount:x:y", exchange, 600), 70021),
        (
            assertion(well_known::FEDERATED_SUBJECT, "api://other", 600),
            70021,
        ),
        (
            assertion(well_known::FEDERATED_SUBJECT, exchange, -60),
            700024,
        ),
        ("not a jwt".to_string(), 50027),
    ] {
        let refused = post(assertion).await.unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error_codes"], json!([code]), "{body}");
    }
}

#[tokio::test]
async fn a_container_sas_reads_and_writes_within_its_permissions_only() {
    let env = start().await;
    let se = "2999-01-01T00:00:00Z";
    let resource = format!(
        "/blob/{}/{}",
        well_known::ACCOUNT_NAME,
        well_known::CONTAINER
    );
    let sas = |sp: &str| {
        let sts = [
            sp,
            "",
            se,
            &resource,
            "",
            "",
            "",
            "2023-11-03",
            "c",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        .join("\n");
        let key = base64::engine::general_purpose::STANDARD
            .decode(well_known::ACCOUNT_KEY)
            .unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(sts.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let sig: String = form_urlencoded::byte_serialize(sig.as_bytes()).collect();
        format!("sv=2023-11-03&sr=c&sp={sp}&se={se}&sig={sig}")
    };
    let url = |query: &str| {
        format!(
            "{}/{}/sas.csv?{query}",
            env.emulator.account_endpoint(well_known::ACCOUNT_NAME),
            well_known::CONTAINER
        )
    };
    let created = env
        .client
        .put(url(&format!("resource=file&{}", sas("rcw"))))
        .header("x-ms-version", "2023-11-03")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let denied = env
        .client
        .delete(url(&sas("rcw")))
        .header("x-ms-version", "2023-11-03")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        denied.headers()["x-ms-error-code"],
        "AuthorizationPermissionMismatch"
    );
    let tampered = sas("rcw").replace("sp=rcw", "sp=rcwd");
    let forged = env
        .client
        .delete(url(&tampered))
        .header("x-ms-version", "2023-11-03")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(forged.headers()["x-ms-error-code"], "AuthenticationFailed");
}
