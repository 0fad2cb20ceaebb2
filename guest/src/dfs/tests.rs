//! DFS request building and response interpretation.

use super::*;

pub(super) fn account(credential: CredentialKind) -> Account {
    Account {
        credential,
        identity: "app 11111111-2222-3333-4444-555555555555 in tenant contoso".into(),
        account_name: "acct".into(),
        container: "exports".into(),
        dfs_endpoint: "http://127.0.0.1:10004/acct".into(),
        blob_endpoint: "http://127.0.0.1:10000/acct".into(),
        endpoint: crate::model::EndpointChoice::Dfs,
    }
}

fn dfs_with(credential: CredentialKind) -> Dfs {
    Dfs::new(
        "http://127.0.0.1:10004/acct/",
        "exports",
        &account(credential),
        "run-7",
    )
}

fn dfs() -> Dfs {
    dfs_with(CredentialKind::ClientSecret)
}

fn headers(req: &Request) -> Vec<(&str, &str)> {
    req.headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

fn common(id: u32) -> Vec<(&'static str, String)> {
    vec![
        ("x-ms-version", VERSION.into()),
        ("x-ms-client-request-id", format!("run-7-{id}")),
    ]
}

fn expect(req: &Request, method: Method, url: &str, extra: &[(&str, &str)], id: u32) {
    assert_eq!(req.method, method);
    assert_eq!(req.url, url);
    let mut want: Vec<(&str, String)> = common(id);
    want.extend(extra.iter().map(|(n, v)| (*n, (*v).to_owned())));
    let want: Vec<(&str, &str)> = want.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(headers(req), want);
}

const BASE: &str = "http://127.0.0.1:10004/acct/exports";

#[test]
fn requests() {
    let mut d = dfs();
    let req = d.create_file("dir/_a b.csv.run-7.tmp", false);
    expect(
        &req,
        Method::Put,
        &format!("{BASE}/dir/_a%20b.csv.run-7.tmp?resource=file"),
        &[],
        1,
    );
    assert!(req.body.is_empty());

    let req = d.create_file("a.csv", true);
    expect(
        &req,
        Method::Put,
        &format!("{BASE}/a.csv?resource=file"),
        &[("If-None-Match", "*")],
        2,
    );

    let crc64 = 0x1122_3344_5566_7788_u64.to_le_bytes();
    let req = d.append("a.csv", 1024, &crc64);
    expect(
        &req,
        Method::Patch,
        &format!("{BASE}/a.csv?action=append&position=1024"),
        &[("x-ms-content-crc64", "iHdmVUQzIhE=")],
        3,
    );
    assert!(req.body.is_empty(), "the block goes as a host-held body");

    // MD5 of "hello".
    let md5 = [
        0x5d, 0x41, 0x40, 0x2a, 0xbc, 0x4b, 0x2a, 0x76, 0xb9, 0x71, 0x9d, 0x91, 0x10, 0x17, 0xc5,
        0x92,
    ];
    let req = d.flush("a.csv", 5, Some(&md5), None);
    expect(
        &req,
        Method::Patch,
        &format!("{BASE}/a.csv?action=flush&position=5&close=true"),
        &[
            ("x-ms-content-md5", "XUFAKrxLKna5cZ2REBfFkg=="),
            ("x-ms-content-type", "text/csv"),
        ],
        4,
    );

    let req = d.flush("a.csv", 9, None, Some("\"0x8D\""));
    expect(
        &req,
        Method::Patch,
        &format!("{BASE}/a.csv?action=flush&position=9&close=true"),
        &[("x-ms-content-type", "text/csv"), ("If-Match", "\"0x8D\"")],
        5,
    );

    let req = d.rename("d/_x#1.csv.run-7.tmp", "d/x#1.csv");
    assert_eq!(req.method, Method::Put);
    assert_eq!(req.url, format!("{BASE}/d/x%231.csv?mode=legacy"));
    assert_eq!(
        req.header("authorization"),
        None,
        "the host authorizes requests, never the guest"
    );
    assert_eq!(
        req.header("x-ms-rename-source"),
        Some("/exports/d/_x%231.csv.run-7.tmp")
    );

    let req = d.get_properties("a.csv");
    assert_eq!(
        (req.method, req.url.as_str()),
        (Method::Head, &*format!("{BASE}/a.csv"))
    );

    let req = d.read("a.csv", 0, 65535);
    assert_eq!(req.method, Method::Get);
    assert_eq!(req.header("Range"), Some("bytes=0-65535"));

    let req = d.delete("é.csv");
    assert_eq!(
        (req.method, req.url.as_str()),
        (Method::Delete, &*format!("{BASE}/%C3%A9.csv"))
    );
    assert_eq!(req.header("x-ms-client-request-id"), Some("run-7-9"));
}

fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    Response {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).into(), (*v).into()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn error_from_json_body() {
    let body = r#"{"error":{"code":"FilesystemNotFound","message":"The specified filesystem does not exist.\nRequestId:4a1b-77\nTime:2024-01-01T00:00:00.0000000Z"}}"#;
    let e = dfs().error(&response(404, &[], body), "create temporary file");
    assert_eq!(
        e,
        StorageError {
            operation: "create temporary file".into(),
            status: 404,
            code: "FilesystemNotFound".into(),
            message: "The specified filesystem does not exist. (RequestId:4a1b-77); create file \
                      system `exports` or check output.file_system / account.container"
                .into(),
        }
    );
}

#[test]
fn error_code_from_header_wins() {
    let body = r#"{"error":{"code":"Other","message":"This request is not authorized to perform this operation using this permission.\nRequestId:r1\nTime:x"}}"#;
    let e = dfs().error(
        &response(
            403,
            &[("X-MS-Error-Code", "AuthorizationPermissionMismatch")],
            body,
        ),
        "append",
    );
    assert_eq!(e.code, "AuthorizationPermissionMismatch");
    assert!(
        e.message.starts_with("This request is not authorized"),
        "{}",
        e.message
    );
    assert!(e.message.contains("(RequestId:r1)"), "{}", e.message);
    assert!(
        e.message.contains("Storage Blob Data Contributor"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("11111111-2222-3333-4444-555555555555"),
        "{}",
        e.message
    );
}

#[test]
fn error_without_body() {
    let e = dfs().error(
        &response(
            401,
            &[
                ("x-ms-error-code", "InvalidAuthenticationInfo"),
                ("x-ms-request-id", "abc"),
            ],
            "",
        ),
        "get properties of target",
    );
    assert_eq!(e.code, "InvalidAuthenticationInfo");
    assert_eq!(
        e.message,
        "the service answered HTTP 401 Unauthorized without error details (RequestId:abc); \
         the token of app 11111111-2222-3333-4444-555555555555 in tenant contoso was \
         refused: check its tenant and app, and that the endpoint belongs to that tenant"
    );
    let e = dfs().error(&response(418, &[], "not json"), "flush");
    assert_eq!(e.code, "");
    assert_eq!(
        e.message,
        "the service answered HTTP 418 without error details"
    );
    let e = dfs().error(&response(503, &[], ""), "append");
    assert!(e.message.ends_with("retry the run later"), "{}", e.message);
}

#[test]
fn check_and_properties() {
    let d = dfs();
    assert!(d.check(&response(201, &[], ""), "x").is_ok());
    assert!(d.check(&response(202, &[], ""), "x").is_ok());
    assert_eq!(
        d.check(
            &response(409, &[("x-ms-error-code", "PathAlreadyExists")], ""),
            "x"
        )
        .unwrap_err()
        .code,
        "PathAlreadyExists"
    );

    assert_eq!(d.properties(&response(404, &[], "")).unwrap(), None);
    let p = d
        .properties(&response(
            200,
            &[
                ("ETag", "\"0x1\""),
                ("Content-Length", "42"),
                ("x-ms-resource-type", "file"),
            ],
            "",
        ))
        .unwrap()
        .unwrap();
    assert_eq!(
        p,
        Properties {
            etag: "\"0x1\"".into(),
            length: 42,
            directory: false,
            content_md5: None,
            metadata: vec![],
        }
    );
    let p = d
        .properties(&response(
            200,
            &[("Content-Length", "0"), ("x-ms-resource-type", "directory")],
            "",
        ))
        .unwrap()
        .unwrap();
    assert!(p.directory);
    assert!(d.properties(&response(200, &[], "")).is_err());
    assert_eq!(
        d.properties(&response(403, &[], "")).unwrap_err().status,
        403
    );
}

#[test]
fn refused_tokens_are_recognised() {
    let d = dfs();
    let refused = response(
        401,
        &[],
        r#"{"error":{"code":"InvalidAuthenticationInfo","message":"expired"}}"#,
    );
    assert!(d.token_refused(&refused));
    let other = response(
        401,
        &[("x-ms-error-code", "NoAuthenticationInformation")],
        "",
    );
    assert!(!d.token_refused(&other));
    assert!(!d.token_refused(&response(
        403,
        &[("x-ms-error-code", "InvalidAuthenticationInfo")],
        ""
    )));
}

#[test]
fn listing_requests_and_pages() {
    let mut d = dfs();
    let req = d.list_paths(Some("out/2024 q1"), Some("tok/en=="));
    assert_eq!(req.method, Method::Get);
    assert!(
        req.url.ends_with(
            "?resource=filesystem&recursive=false&directory=out%2F2024%20q1&continuation=tok%2Fen%3D%3D"
        ),
        "{}",
        req.url
    );
    assert!(!req.url.contains("/?"), "{}", req.url);
    let page = response(
        200,
        &[("x-ms-continuation", "next")],
        r#"{"paths":[{"name":"out/a.csv","contentLength":"3"},{"name":"out/sub","isDirectory":"true"}]}"#,
    );
    assert_eq!(
        d.paths(&page).unwrap(),
        (vec!["out/a.csv".to_owned()], Some("next".to_owned()))
    );
    assert_eq!(d.paths(&response(200, &[], "{}")).unwrap(), (vec![], None));
    assert!(d.paths(&response(200, &[], "<xml/>")).is_err());
}

#[test]
fn properties_carry_the_stored_md5() {
    let d = dfs();
    let p = d
        .properties(&response(
            200,
            &[("Content-Length", "4"), ("Content-MD5", "abc==")],
            "",
        ))
        .unwrap()
        .unwrap();
    assert_eq!(p.content_md5.as_deref(), Some("abc=="));
}

#[test]
fn hints_name_the_credential_kind() {
    let refused = response(403, &[("x-ms-error-code", "AuthenticationFailed")], "");
    let e = dfs_with(CredentialKind::SharedKey).error(&refused, "append");
    assert!(
        e.message
            .contains("account.account_key is a key of storage account `acct`"),
        "{}",
        e.message
    );
    let e = dfs_with(CredentialKind::Sas).error(&refused, "append");
    assert!(e.message.contains("account.sas_token"), "{}", e.message);
    let denied = response(403, &[("x-ms-error-code", "AuthorizationFailure")], "");
    let e = dfs_with(CredentialKind::Sas).error(&denied, "append");
    assert!(e.message.contains("permissions (sp)"), "{}", e.message);
    let mismatch = response(
        403,
        &[("x-ms-error-code", "AuthorizationPermissionMismatch")],
        "",
    );
    let e = dfs_with(CredentialKind::ManagedIdentity).error(&mismatch, "append");
    assert!(
        e.message
            .contains("grant app 11111111-2222-3333-4444-555555555555"),
        "{}",
        e.message
    );
}

#[test]
fn hints_through_blob_name_the_blob_endpoint_and_the_container() {
    let blob = || dfs().through_blob();
    let missing = response(404, &[("x-ms-error-code", "ContainerNotFound")], "");
    let e = blob().error(&missing, "put block");
    assert!(
        e.message.ends_with(
            "create container `exports`, or check account.blob_endpoint and \
             output.file_system / account.container"
        ),
        "{}",
        e.message
    );
    assert!(!e.message.contains("dfs_endpoint"), "{}", e.message);
    // A HEAD answers 404 with neither body nor code.
    let e = blob().error(&response(404, &[], ""), "get properties of target");
    assert!(
        e.message
            .ends_with("check account.blob_endpoint and that container `exports` exists"),
        "{}",
        e.message
    );
    let denied = response(403, &[("x-ms-error-code", "AuthorizationFailure")], "");
    let e = blob().error(&denied, "put block");
    assert!(
        e.message.contains("(or on container `exports`)"),
        "{}",
        e.message
    );
    // Through DFS the hints stay as they were.
    let e = dfs().error(&response(404, &[], ""), "get properties of target");
    assert!(
        e.message
            .ends_with("check account.dfs_endpoint and that file system `exports` exists"),
        "{}",
        e.message
    );
    let e = dfs().error(&missing, "append");
    assert!(
        e.message.contains("create file system `exports`"),
        "{}",
        e.message
    );
}
