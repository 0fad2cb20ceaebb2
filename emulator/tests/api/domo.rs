//! The Domo API.

use std::path::Path;

use adls_writeback_emulator::well_known;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Env, start};

const CSV: &[u8] = b"region,note,amount\r\nnorth,\"two\r\nlines\",1\r\nsouth,plain,2\r\n";

fn write_dataset(dir: &Path, id: &str, metadata: Option<&str>) {
    std::fs::write(dir.join(format!("{id}.csv")), CSV).unwrap();
    if let Some(json) = metadata {
        std::fs::write(dir.join(format!("{id}.json")), json).unwrap();
    }
}

async fn domo_token(env: &Env) -> String {
    let response = env
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
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["scope"], "data");
    assert_eq!(body["role"], "Admin");
    assert_eq!(body["userId"], well_known::DOMO_USER_ID);
    assert!(body["jti"].is_string() && body["customer"].is_string());
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn oauth_token_errors() {
    let env = start().await;
    let url = format!(
        "{}/oauth/token?grant_type=client_credentials&scope=data",
        env.emulator.domo_url()
    );
    let bad = env
        .client
        .post(&url)
        .basic_auth("nobody", Some("nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"error": "unauthorized", "error_description": "Bad credentials"})
    );
    let no_grant = env
        .client
        .get(format!(
            "{}/oauth/token?scope=data",
            env.emulator.domo_url()
        ))
        .basic_auth(
            well_known::DOMO_CLIENT_ID,
            Some(well_known::DOMO_CLIENT_SECRET),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(no_grant.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        no_grant.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
}

#[tokio::test]
async fn dataset_metadata_and_export() {
    let env = start().await;
    let meta = r#"{"name":"Sales","description":"Monthly","owner":{"id":27,"name":"Dana Domo"},
        "coOwners":[{"id":31,"name":"Chris Coowner"}],
        "schema":{"columns":[{"name":"region","type":"STRING"},{"name":"note","type":"STRING"},{"name":"amount","type":"LONG"}]}}"#;
    write_dataset(env.datasets.path(), "ds-1", Some(meta));
    let token = domo_token(&env).await;
    let get = |path: String| {
        env.client
            .get(format!("{}{path}", env.emulator.domo_url()))
            .bearer_auth(&token)
    };

    let body: Value = get("/v1/datasets/ds-1".into())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["id"], "ds-1");
    assert_eq!(body["name"], "Sales");
    assert_eq!(body["rows"], 2);
    assert_eq!(body["columns"], 3);
    assert_eq!(
        body["owner"],
        serde_json::json!({"id": 27, "name": "Dana Domo"})
    );
    assert_eq!(
        body["schema"]["columns"][2],
        serde_json::json!({"type": "LONG", "name": "amount"})
    );
    assert_eq!(body["pdpEnabled"], false);
    assert!(body["updatedAt"].as_str().unwrap().ends_with('Z'));

    let with_header = get("/v1/datasets/ds-1/data?includeHeader=true".into())
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), StatusCode::OK);
    assert_eq!(with_header.headers()["content-type"], "text/csv");
    assert_eq!(with_header.bytes().await.unwrap().as_ref(), CSV);
    // The boolean spellings SDKs send (pydomo sends Python's `True`).
    for spelling in ["True", "TRUE", "1"] {
        let response = get(format!("/v1/datasets/ds-1/data?includeHeader={spelling}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{spelling}");
        assert_eq!(response.bytes().await.unwrap().as_ref(), CSV, "{spelling}");
    }
    let bad = get("/v1/datasets/ds-1/data?includeHeader=maybe".into())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let without = get("/v1/datasets/ds-1/data?includeHeader=false".into())
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(
        without.bytes().await.unwrap().as_ref(),
        b"north,\"two\r\nlines\",1\r\nsouth,plain,2\r\n"
    );

    let missing = get("/v1/datasets/nope".into()).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["status"], 404);
    assert_eq!(body["statusReason"], "Not Found");
    assert_eq!(body["path"], "/v1/datasets/nope");
    assert!(body["toe"].is_string() && body["message"].is_string());
}

#[tokio::test]
async fn datasets_are_read_at_request_time_and_listed() {
    let env = start().await;
    let token = domo_token(&env).await;
    let list = |token: String| {
        let url = format!("{}/v1/datasets?limit=10&offset=0", env.emulator.domo_url());
        env.client.get(url).bearer_auth(token)
    };
    let empty: Value = list(token.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(empty, serde_json::json!([]));
    write_dataset(env.datasets.path(), "b-derived", None);
    write_dataset(env.datasets.path(), "a-other", None);
    let listed: Value = list(token.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a-other", "b-derived"]);
    let derived = &listed[1];
    assert_eq!(derived["name"], "b-derived");
    assert_eq!(derived["columns"], 3);
    assert_eq!(derived["owner"]["id"], well_known::DOMO_USER_ID);

    let schema: Value = env
        .client
        .get(format!("{}/v1/datasets/b-derived", env.emulator.domo_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        schema["schema"]["columns"][1],
        serde_json::json!({"type": "STRING", "name": "note"})
    );

    let unauthorized = env
        .client
        .get(format!("{}/v1/datasets", env.emulator.domo_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    let bad = list("garbage".into()).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn permissions_need_a_developer_token() {
    let env = start().await;
    let meta = r#"{"owner":{"id":27,"name":"Dana Domo"},"coOwners":[{"id":31,"name":"Chris Coowner"}],
        "shares":[{"id":40,"name":"Val Viewer","accessLevel":"CAN_VIEW"}]}"#;
    write_dataset(env.datasets.path(), "ds-2", Some(meta));
    let url = format!(
        "{}/api/data/v3/datasources/ds-2/permissions",
        env.emulator.domo_url()
    );
    let response = env
        .client
        .get(&url)
        .header("X-DOMO-Developer-Token", well_known::DOMO_DEVELOPER_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"list": [
            {"type": "USER", "id": "27", "name": "Dana Domo", "accessLevel": "OWNER"},
            {"type": "USER", "id": "31", "name": "Chris Coowner", "accessLevel": "CO_OWNER"},
            {"type": "USER", "id": "40", "name": "Val Viewer", "accessLevel": "CAN_VIEW"},
        ]})
    );
    let bad = env
        .client
        .get(&url)
        .header("X-DOMO-Developer-Token", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let missing = env
        .client
        .get(format!(
            "{}/api/data/v3/datasources/none/permissions",
            env.emulator.domo_url()
        ))
        .header("X-DOMO-Developer-Token", well_known::DOMO_DEVELOPER_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
