//! The Blob endpoint's account and container operations, on the DFS listener.

use adls_writeback_emulator::well_known;
use reqwest::{Method, RequestBuilder, Response, StatusCode};

use crate::common::{Env, start};

/// Status, `x-ms-error-code` and body checks of a Blob XML error; returns the body.
pub async fn expect_xml_error(response: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["x-ms-error-code"], code);
    assert_eq!(response.headers()["content-type"], "application/xml");
    assert!(response.headers().contains_key("x-ms-request-id"));
    let body = response.text().await.unwrap();
    let start =
        format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>");
    assert!(body.starts_with(&start), "{body}");
    assert!(
        body.contains("\nRequestId:") && body.contains("\nTime:"),
        "{body}"
    );
    body
}

/// A Blob API request as Microsoft's clients send it (`Accept: application/xml`).
pub fn blob(env: &Env, method: Method, path_and_query: &str) -> RequestBuilder {
    env.req(method, path_and_query)
        .header("accept", "application/xml")
}

async fn text(request: RequestBuilder) -> String {
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/xml");
    response.text().await.unwrap()
}

on_both_stores!(container_lifecycle_and_metadata, |env| {
    let created = blob(&env, Method::PUT, "probe?restype=container")
        .header("x-ms-meta-purpose", "tests")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(
        created.headers()["server"],
        "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0"
    );
    let etag = created.headers()["etag"].to_str().unwrap().to_string();
    let again = blob(&env, Method::PUT, "probe?restype=container")
        .send()
        .await
        .unwrap();
    expect_xml_error(again, StatusCode::CONFLICT, "ContainerAlreadyExists").await;

    let props = blob(&env, Method::HEAD, "probe?restype=container")
        .send()
        .await
        .unwrap();
    assert_eq!(props.status(), StatusCode::OK);
    assert_eq!(props.headers()["etag"], etag.as_str());
    assert_eq!(props.headers()["x-ms-meta-purpose"], "tests");
    assert_eq!(props.headers()["x-ms-lease-state"], "available");
    assert_eq!(props.headers()["x-ms-has-immutability-policy"], "false");
    // Container metadata is the file system's x-ms-properties.
    let dfs = env
        .req(Method::HEAD, "probe?resource=filesystem")
        .send()
        .await
        .unwrap();
    assert_eq!(dfs.headers()["x-ms-properties"], "purpose=dGVzdHM=");

    let set = blob(&env, Method::PUT, "probe?restype=container&comp=metadata")
        .header("x-ms-meta-stage", "two")
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    assert_ne!(set.headers()["etag"], etag.as_str());
    let props = blob(&env, Method::GET, "probe?restype=container")
        .send()
        .await
        .unwrap();
    assert_eq!(props.headers()["x-ms-meta-stage"], "two");
    assert!(!props.headers().contains_key("x-ms-meta-purpose"));

    let deleted = blob(&env, Method::DELETE, "probe?restype=container")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    let gone = blob(&env, Method::DELETE, "probe?restype=container")
        .send()
        .await
        .unwrap();
    expect_xml_error(gone, StatusCode::NOT_FOUND, "ContainerNotFound").await;
    let head = blob(&env, Method::HEAD, "probe?restype=container")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    assert_eq!(head.headers()["x-ms-error-code"], "ContainerNotFound");
    assert!(head.bytes().await.unwrap().is_empty(), "HEAD has no body");
});

on_both_stores!(list_containers_pages_with_metadata, |env| {
    for name in ["alpha", "beta", "gamma"] {
        let created = blob(&env, Method::PUT, &format!("{name}?restype=container"))
            .header("x-ms-meta-name", name)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let first = text(blob(
        &env,
        Method::GET,
        "?comp=list&maxresults=2&include=metadata",
    ))
    .await;
    let endpoint = format!(
        "ServiceEndpoint=\"{}/\"",
        env.emulator.account_endpoint(well_known::ACCOUNT_NAME)
    );
    assert!(
        first.starts_with(&format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults {endpoint}>"
        )),
        "{first}"
    );
    assert!(first.contains("<MaxResults>2</MaxResults><Containers><Container><Name>alpha</Name><Properties><Last-Modified>"));
    assert!(first.contains("<Etag>\"0x8D"), "quoted ETags: {first}");
    assert!(
        first.contains("<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>")
    );
    assert!(first.contains(
        "<HasImmutabilityPolicy>false</HasImmutabilityPolicy><HasLegalHold>false</HasLegalHold>"
    ));
    assert!(first.contains("<Metadata><name>alpha</name></Metadata>"));
    assert!(first.contains("<Name>beta</Name>") && !first.contains("<Name>gamma</Name>"));
    assert!(first.ends_with("</Containers><NextMarker>gamma</NextMarker></EnumerationResults>"));

    let second = text(blob(
        &env,
        Method::GET,
        "?comp=list&maxresults=2&marker=gamma",
    ))
    .await;
    assert!(second.contains("<Marker>gamma</Marker>"));
    assert!(second.contains("<Name>gamma</Name>"));
    assert!(second.contains(&format!("<Name>{}</Name>", well_known::CONTAINER)));
    assert!(!second.contains("<Metadata>"), "metadata only when asked");
    assert!(second.ends_with("<NextMarker /></EnumerationResults>"));

    let prefixed = text(blob(&env, Method::GET, "?comp=list&prefix=be")).await;
    assert!(prefixed.contains("<Prefix>be</Prefix>"));
    assert!(prefixed.contains("<Name>beta</Name>") && !prefixed.contains("<Name>alpha</Name>"));

    let bad = blob(&env, Method::GET, "?comp=list&maxresults=0")
        .send()
        .await
        .unwrap();
    expect_xml_error(bad, StatusCode::BAD_REQUEST, "InvalidQueryParameterValue").await;
});

on_both_stores!(
    account_information_reports_a_hierarchical_namespace,
    |env| {
        let info = blob(&env, Method::GET, "?restype=account&comp=properties")
            .send()
            .await
            .unwrap();
        assert_eq!(info.status(), StatusCode::OK);
        assert_eq!(info.headers()["x-ms-is-hns-enabled"], "true");
        assert_eq!(info.headers()["x-ms-account-kind"], "StorageV2");
    }
);

#[tokio::test]
async fn auth_errors_are_xml_with_a_challenge() {
    let mut env = start().await;
    let anonymous = env
        .client
        .get(format!(
            "{}?comp=list",
            env.emulator.account_endpoint(well_known::ACCOUNT_NAME)
        ))
        .send()
        .await
        .unwrap();
    let challenge = anonymous.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with(&format!(
        "Bearer authorization_uri={}/",
        env.emulator.authority_url()
    )));
    expect_xml_error(
        anonymous,
        StatusCode::UNAUTHORIZED,
        "NoAuthenticationInformation",
    )
    .await;

    env.token =
        crate::common::storage_token(&env.client, &env.emulator, "https://example.com/.default")
            .await;
    let wrong_audience = blob(&env, Method::GET, "writeback?restype=container")
        .send()
        .await
        .unwrap();
    let body = expect_xml_error(
        wrong_audience,
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationInfo",
    )
    .await;
    assert!(
        body.contains("<AuthenticationErrorDetail>Audience validation failed."),
        "{body}"
    );
}

on_both_stores!(service_properties_merge_and_check_retention, |env| {
    // `env.req` prefixes the account: the account itself is the empty path.
    let props = "?restype=service&comp=properties";
    let initial = blob(&env, Method::GET, props).send().await.unwrap();
    assert_eq!(initial.status(), StatusCode::OK);
    let body = initial.text().await.unwrap();
    assert!(
        body.contains("<DeleteRetentionPolicy><Enabled>false</Enabled></DeleteRetentionPolicy>"),
        "{body}"
    );
    let set = |xml: String| {
        blob(&env, Method::PUT, props)
            .body(format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><StorageServiceProperties>{xml}</StorageServiceProperties>"))
            .send()
    };
    let cors = "<Cors><CorsRule><AllowedOrigins>*</AllowedOrigins><AllowedMethods>GET</AllowedMethods><MaxAgeInSeconds>5</MaxAgeInSeconds><ExposedHeaders></ExposedHeaders><AllowedHeaders></AllowedHeaders></CorsRule></Cors>";
    assert_eq!(
        set(cors.to_string()).await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    let days = |n: u32| {
        format!(
            "<DeleteRetentionPolicy><Enabled>true</Enabled><Days>{n}</Days></DeleteRetentionPolicy>"
        )
    };
    assert_eq!(set(days(7)).await.unwrap().status(), StatusCode::ACCEPTED);
    expect_xml_error(
        set(days(366)).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "InvalidXmlDocument",
    )
    .await;
    let body = blob(&env, Method::GET, props)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains(cors), "the CORS rules stay: {body}");
    assert!(body.contains(&days(7)), "{body}");
});

on_both_stores!(system_containers_are_listed_when_asked_for, |env| {
    let list = |query: &'static str| blob(&env, Method::GET, query).send();
    let plain = list("?comp=list").await.unwrap().text().await.unwrap();
    assert!(!plain.contains("<Name>$logs</Name>"), "{plain}");
    let system = list("?comp=list&include=system")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let logs = system.find("<Name>$logs</Name>").expect("listed");
    let writeback = system.find("<Name>writeback</Name>").expect("listed");
    assert!(logs < writeback, "{system}");
});
