//! File expiry: `x-ms-expiry-option`/`x-ms-expiry-time` at create and with Set Blob Expiry
//! (`comp=expiry`), shown in properties and listings; an expired file is gone.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::blob_containers::{blob, expect_xml_error};
use crate::common::{Env, expect_error};

async fn set_expiry(env: &Env, path: &str, option: &str, time: Option<&str>) -> reqwest::Response {
    let mut request = blob(env, Method::PUT, &format!("writeback/{path}?comp=expiry"))
        .header("x-ms-expiry-option", option);
    if let Some(time) = time {
        request = request.header("x-ms-expiry-time", time);
    }
    request.send().await.unwrap()
}

async fn expiry_header(env: &Env, path: &str) -> Option<String> {
    let head = env.head(path).await;
    assert_eq!(head.status(), StatusCode::OK);
    head.headers()
        .get("x-ms-expiry-time")
        .map(|v| v.to_str().unwrap().to_string())
}

async fn listed(env: &Env) -> Vec<Value> {
    let response = env
        .req(Method::GET, "writeback?resource=filesystem&recursive=true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["paths"].as_array().unwrap().clone()
}

on_both_stores!(expiry_is_set_shown_and_cleared, |env| {
    let created = env
        .req(Method::PUT, "writeback/day.csv?resource=file")
        .header("x-ms-expiry-option", "Absolute")
        .header("x-ms-expiry-time", "Thu, 04 Apr 2075 00:00:00 GMT")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(
        expiry_header(&env, "day.csv").await.as_deref(),
        Some("Thu, 04 Apr 2075 00:00:00 GMT")
    );
    let paths = listed(&env).await;
    // 2075-04-04 as a Windows file time (100 ns ticks since 1601).
    let file_time = (3_321_561_600u64 * 10_000_000 + 116_444_736_000_000_000).to_string();
    assert_eq!(paths[0]["expiryTime"], file_time.as_str());

    let never = set_expiry(&env, "day.csv", "NeverExpire", None).await;
    assert_eq!(never.status(), StatusCode::OK);
    assert_eq!(expiry_header(&env, "day.csv").await, None);
    assert!(listed(&env).await[0].get("expiryTime").is_none());

    let relative = set_expiry(&env, "day.csv", "RelativeToNow", Some("86400000")).await;
    assert_eq!(relative.status(), StatusCode::OK);
    let at = expiry_header(&env, "day.csv").await.unwrap();
    let at = httpdate::parse_http_date(&at).unwrap();
    let in_a_day = std::time::SystemTime::now() + std::time::Duration::from_secs(86_400);
    let off = in_a_day.duration_since(at).unwrap_or_else(|e| e.duration());
    assert!(off.as_secs() <= 60, "expires a day from now: {off:?}");

    let bad = set_expiry(&env, "day.csv", "RelativeToNow", Some("soon")).await;
    expect_xml_error(bad, StatusCode::BAD_REQUEST, "InvalidHeaderValue").await;
    let bad = env
        .req(Method::PUT, "writeback/other.csv?resource=file")
        .header("x-ms-expiry-option", "Whenever")
        .send()
        .await
        .unwrap();
    expect_error(bad, StatusCode::BAD_REQUEST, "InvalidHeaderValue").await;
    assert_eq!(env.head("other.csv").await.status(), StatusCode::NOT_FOUND);
});

on_both_stores!(an_expired_file_is_gone, |env| {
    env.put_file("dir/old.csv", b"old").await;
    env.put_file("dir/kept.csv", b"kept").await;
    // Expiring at its creation: already past.
    let expired = set_expiry(&env, "dir/old.csv", "RelativeToCreation", Some("0")).await;
    assert_eq!(expired.status(), StatusCode::OK);
    assert_eq!(
        env.head("dir/old.csv").await.status(),
        StatusCode::NOT_FOUND
    );
    let names: Vec<Value> = listed(&env)
        .await
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names, ["dir", "dir/kept.csv"]);
    // A directory does not expire.
    let dir = set_expiry(&env, "dir", "RelativeToNow", Some("1000")).await;
    expect_xml_error(dir, StatusCode::CONFLICT, "PathConflict").await;
    env.put_file("dir/old.csv", b"new").await;
    assert_eq!(env.read("dir/old.csv").await, b"new");
});
