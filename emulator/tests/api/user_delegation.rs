//! Get User Delegation Key and user delegation SAS over HTTP: a key for a bearer token only,
//! the same key for the same request, SAS signed with it on the DFS and Blob endpoints, and
//! the principals such a SAS names (`suoid` held to POSIX permissions, `saoid` owning what it
//! creates).

use std::time::{Duration, SystemTime};

use adls_writeback_emulator::timefmt::iso8601_secs as iso;
use adls_writeback_emulator::well_known;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use sha2::Sha256;

use crate::common::{Env, expect_error, start_in_memory};

/// The service version of the SAS these tests sign (before `skdutid` and `srh`).
const VERSION: &str = "2023-11-03";

/// The text of element `name` in `xml`.
fn element<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml.find(&open).map(|i| i + open.len()).unwrap();
    let end = xml[start..].find('<').unwrap() + start;
    &xml[start..end]
}

/// Sets the POSIX permissions of `path` in the well-known container, as its owner.
async fn set_permissions(env: &Env, path: &str, permissions: &str) {
    let set = env
        .req(
            Method::PATCH,
            &format!("{}/{path}?action=setAccessControl", well_known::CONTAINER),
        )
        .header("x-ms-permissions", permissions)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK, "{path}");
}

/// What the service answers a principal its permissions do not allow.
async fn expect_mismatch(response: reqwest::Response) {
    expect_error(
        response,
        StatusCode::FORBIDDEN,
        "AuthorizationPermissionMismatch",
    )
    .await;
}

/// Asks for a key (the whole `UserDelegationKey` document) with the env's token.
async fn key(env: &Env, expiry: &str) -> String {
    let response = env
        .req(Method::POST, "?restype=service&comp=userdelegationkey")
        .body(format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><KeyInfo><Start>{}</Start><Expiry>{expiry}</Expiry></KeyInfo>",
            iso(SystemTime::now() - Duration::from_secs(60))
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// A container SAS (`sr=c`) for the well-known container signed with `key`, with `agent`
/// as `saoid` or `suoid`.
fn sas(key: &str, permissions: &str, agent: (&str, &str)) -> String {
    let se = iso(SystemTime::now() + Duration::from_secs(3600));
    let resource = format!(
        "/blob/{}/{}",
        well_known::ACCOUNT_NAME,
        well_known::CONTAINER
    );
    let (saoid, suoid) = agent;
    let fields = [
        permissions,
        "",
        &se,
        &resource,
        element(key, "SignedOid"),
        element(key, "SignedTid"),
        element(key, "SignedStart"),
        element(key, "SignedExpiry"),
        element(key, "SignedService"),
        element(key, "SignedVersion"),
        saoid,
        suoid,
        "",
        "",
        "",
        VERSION,
        "c",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ];
    let secret = STANDARD.decode(element(key, "Value")).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
    mac.update(fields.join("\n").as_bytes());
    let sig = STANDARD.encode(mac.finalize().into_bytes());
    let quote = |s: &str| {
        s.replace(':', "%3A")
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    };
    let mut query = format!(
        "sv={VERSION}&sr=c&sp={permissions}&se={}&skoid={}&sktid={}&skt={}&ske={}&sks=b&skv={}",
        quote(&se),
        element(key, "SignedOid"),
        element(key, "SignedTid"),
        quote(element(key, "SignedStart")),
        quote(element(key, "SignedExpiry")),
        element(key, "SignedVersion"),
    );
    if !saoid.is_empty() {
        query.push_str(&format!("&saoid={saoid}"));
    }
    if !suoid.is_empty() {
        query.push_str(&format!("&suoid={suoid}"));
    }
    query + "&sig=" + &quote(&sig)
}

/// A request with a SAS and no `Authorization` header.
fn with_sas(env: &Env, method: Method, path: &str, sas: &str) -> reqwest::RequestBuilder {
    let separator = if path.contains('?') { '&' } else { '?' };
    env.client
        .request(
            method,
            format!(
                "{}/{}/{path}{separator}{sas}",
                env.emulator.account_endpoint(well_known::ACCOUNT_NAME),
                well_known::CONTAINER
            ),
        )
        .header("x-ms-version", VERSION)
}

#[tokio::test]
async fn a_token_gets_the_same_key_for_the_same_request() {
    let env = start_in_memory().await;
    let expiry = iso(SystemTime::now() + Duration::from_secs(3600));
    let first = key(&env, &expiry).await;
    assert_eq!(element(&first, "SignedService"), "b");
    assert_eq!(element(&first, "SignedTid"), well_known::TENANT_ID);
    assert_eq!(element(&first, "SignedExpiry"), expiry);
    assert_eq!(element(&first, "SignedVersion"), "2023-11-03");
    assert_eq!(
        element(&key(&env, &expiry).await, "Value"),
        element(&first, "Value")
    );
    let later = iso(SystemTime::now() + Duration::from_secs(7200));
    assert_ne!(
        element(&key(&env, &later).await, "Value"),
        element(&first, "Value")
    );
    // More than seven days ahead.
    let too_far = iso(SystemTime::now() + Duration::from_secs(8 * 24 * 3600));
    let response = env
        .req(Method::POST, "?restype=service&comp=userdelegationkey")
        .body(format!("<KeyInfo><Expiry>{too_far}</Expiry></KeyInfo>"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["x-ms-error-code"], "InvalidXmlNodeValue");
}

#[tokio::test]
async fn an_unauthorized_principal_is_held_to_posix_permissions() {
    let env = start_in_memory().await;
    env.put_file("ud/f.csv", b"a,b\n").await;
    let expiry = iso(SystemTime::now() + Duration::from_secs(3600));
    let key = key(&env, &expiry).await;
    let sas = sas(&key, "racwdl", ("", "u-1"));
    // `/` is rwxr-x--- for the superuser: u-1 cannot get through it.
    let denied = with_sas(&env, Method::GET, "ud/f.csv", &sas)
        .send()
        .await
        .unwrap();
    expect_mismatch(denied).await;
    for (path, permissions) in [("", "0751"), ("ud", "0751"), ("ud/f.csv", "0644")] {
        set_permissions(&env, path, permissions).await;
    }
    let read = with_sas(&env, Method::GET, "ud/f.csv", &sas)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.bytes().await.unwrap().as_ref(), b"a,b\n");
    // It may read the file, not change it: other has r-- only (nor create in `ud`).
    let write = with_sas(&env, Method::PUT, "ud/g.csv?resource=file", &sas)
        .send()
        .await
        .unwrap();
    expect_mismatch(write).await;
    // The Blob endpoint checks the same way.
    let blob = with_sas(&env, Method::DELETE, "ud/f.csv", &sas)
        .header("x-ms-delete-snapshots", "include")
        .send()
        .await
        .unwrap();
    assert_eq!(blob.status(), StatusCode::FORBIDDEN);
    // Listing `ud` takes r-x on it.
    let list = "?resource=filesystem&directory=ud&recursive=false";
    let denied = with_sas(&env, Method::GET, list, &sas)
        .send()
        .await
        .unwrap();
    expect_mismatch(denied).await;
    set_permissions(&env, "ud", "0755").await;
    let listed = with_sas(&env, Method::GET, list, &sas)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_authorized_principal_owns_what_it_creates() {
    let env = start_in_memory().await;
    let expiry = iso(SystemTime::now() + Duration::from_secs(3600));
    let key = key(&env, &expiry).await;
    let sas = sas(&key, "racwdl", ("a-1", ""));
    let created = with_sas(&env, Method::PUT, "mine.csv?resource=file", &sas)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let acl = env
        .req(
            Method::HEAD,
            &format!("{}/mine.csv?action=getAccessControl", well_known::CONTAINER),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(acl.headers()["x-ms-owner"], "a-1");
    // A SAS signed with another key's value does not verify.
    let forged = sas.replace(
        element(&key, "SignedTid"),
        "00000000-0000-0000-0000-000000000000",
    );
    let refused = with_sas(&env, Method::GET, "mine.csv", &forged)
        .send()
        .await
        .unwrap();
    expect_error(refused, StatusCode::FORBIDDEN, "AuthenticationFailed").await;
}
