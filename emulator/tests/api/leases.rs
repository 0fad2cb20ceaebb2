//! Leases: taken at DFS create, by `x-ms-lease-action` on append and flush, and with the Blob
//! API's Lease Blob and Lease Container; writes under a lease must name it.

use reqwest::{Method, StatusCode};

use crate::blob_containers::{blob, expect_xml_error};
use crate::common::{Env, expect_error};

const ID: &str = "4cf4e284-f6a8-4540-b53e-c3469af032dc";
const OTHER: &str = "00000000-1111-2222-3333-444444444444";

/// `(x-ms-lease-status, x-ms-lease-state, x-ms-lease-duration)` of a path over DFS.
async fn lease_of(env: &Env, path: &str) -> (String, String, Option<String>) {
    let head = env.head(path).await;
    assert_eq!(head.status(), StatusCode::OK);
    let h = head.headers();
    let get = |name: &str| h.get(name).map(|v| v.to_str().unwrap().to_string());
    (
        get("x-ms-lease-status").unwrap(),
        get("x-ms-lease-state").unwrap(),
        get("x-ms-lease-duration"),
    )
}

fn leased(duration: &str) -> (String, String, Option<String>) {
    ("locked".into(), "leased".into(), Some(duration.into()))
}

fn available() -> (String, String, Option<String>) {
    ("unlocked".into(), "available".into(), None)
}

on_both_stores!(create_takes_a_proposed_lease, |env| {
    for resource in ["file", "directory"] {
        let path = format!("leased-{resource}");
        let created = env
            .req(
                Method::PUT,
                &format!("writeback/{path}?resource={resource}"),
            )
            .header("x-ms-proposed-lease-id", ID)
            .header("x-ms-lease-duration", "15")
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        assert_eq!(lease_of(&env, &path).await, leased("fixed"));
    }
    let bad = env
        .req(Method::PUT, "writeback/bad?resource=file")
        .header("x-ms-proposed-lease-id", ID)
        .header("x-ms-lease-duration", "5")
        .send()
        .await
        .unwrap();
    expect_error(bad, StatusCode::BAD_REQUEST, "InvalidHeaderValue").await;
    assert_eq!(env.head("bad").await.status(), StatusCode::NOT_FOUND);
});

on_both_stores!(writes_to_a_leased_file_must_name_its_lease, |env| {
    env.put_file("f.csv", b"a\n").await;
    let acquired = blob(&env, Method::PUT, "writeback/f.csv?comp=lease")
        .header("x-ms-lease-action", "acquire")
        .header("x-ms-lease-duration", "-1")
        .header("x-ms-proposed-lease-id", ID)
        .send()
        .await
        .unwrap();
    assert_eq!(acquired.status(), StatusCode::CREATED);
    assert_eq!(acquired.headers()["x-ms-lease-id"], ID);
    assert_eq!(lease_of(&env, "f.csv").await, leased("infinite"));

    let unnamed = env.append("f.csv", 2, b"b\n".to_vec()).await;
    expect_error(unnamed, StatusCode::PRECONDITION_FAILED, "LeaseIdMissing").await;
    let wrong = env
        .req(Method::DELETE, "writeback/f.csv")
        .header("x-ms-lease-id", OTHER)
        .send()
        .await
        .unwrap();
    expect_error(wrong, StatusCode::PRECONDITION_FAILED, "LeaseIdMismatch").await;
    let blob_write = blob(&env, Method::PUT, "writeback/f.csv?comp=metadata")
        .header("x-ms-meta-a", "1")
        .send()
        .await
        .unwrap();
    expect_xml_error(
        blob_write,
        StatusCode::PRECONDITION_FAILED,
        "LeaseIdMissing",
    )
    .await;
    let taken = blob(&env, Method::PUT, "writeback/f.csv?comp=lease")
        .header("x-ms-lease-action", "acquire")
        .header("x-ms-lease-duration", "-1")
        .header("x-ms-proposed-lease-id", OTHER)
        .send()
        .await
        .unwrap();
    expect_xml_error(taken, StatusCode::CONFLICT, "LeaseAlreadyPresent").await;

    // Overwritten under its lease, the file keeps it.
    let recreated = env
        .req(Method::PUT, "writeback/f.csv?resource=file")
        .header("x-ms-lease-id", ID)
        .send()
        .await
        .unwrap();
    assert_eq!(recreated.status(), StatusCode::CREATED);
    assert_eq!(lease_of(&env, "f.csv").await, leased("infinite"));

    let released = blob(&env, Method::PUT, "writeback/f.csv?comp=lease")
        .header("x-ms-lease-action", "release")
        .header("x-ms-lease-id", ID)
        .send()
        .await
        .unwrap();
    assert_eq!(released.status(), StatusCode::OK);
    assert_eq!(lease_of(&env, "f.csv").await, available());
    let stale = env
        .req(Method::DELETE, "writeback/f.csv")
        .header("x-ms-lease-id", ID)
        .send()
        .await
        .unwrap();
    expect_error(stale, StatusCode::PRECONDITION_FAILED, "LeaseNotPresent").await;
});

on_both_stores!(append_and_flush_lease_actions, |env| {
    assert_eq!(env.create_file("f").await.status(), StatusCode::CREATED);
    let append = |position: u64, lease: &[(&'static str, &'static str)], flush: bool| {
        let mut request = env
            .req(
                Method::PATCH,
                &format!("writeback/f?action=append&position={position}&flush={flush}"),
            )
            .body(b"x".to_vec());
        for (name, value) in lease {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let acquire = [
        ("x-ms-lease-action", "acquire"),
        ("x-ms-proposed-lease-id", ID),
        ("x-ms-lease-duration", "30"),
    ];
    assert_eq!(
        append(0, &acquire, false).await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(lease_of(&env, "f").await, leased("fixed"));
    let renew = [("x-ms-lease-action", "auto-renew"), ("x-ms-lease-id", ID)];
    assert_eq!(
        append(0, &renew, false).await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    let flush = env
        .req(Method::PATCH, "writeback/f?action=flush&position=1")
        .send()
        .await
        .unwrap();
    expect_error(flush, StatusCode::PRECONDITION_FAILED, "LeaseIdMissing").await;
    let release = [("x-ms-lease-action", "release"), ("x-ms-lease-id", ID)];
    assert_eq!(
        append(0, &release, true).await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(lease_of(&env, "f").await, available());
    assert_eq!(env.read("f").await, b"x");

    assert_eq!(
        append(1, &[], false).await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    let flushed = env
        .req(Method::PATCH, "writeback/f?action=flush&position=2")
        .header("x-ms-lease-action", "acquire-release")
        .header("x-ms-proposed-lease-id", ID)
        .header("x-ms-lease-duration", "-1")
        .send()
        .await
        .unwrap();
    assert_eq!(flushed.status(), StatusCode::OK);
    assert_eq!(lease_of(&env, "f").await, available());
    assert_eq!(env.read("f").await, b"xx");
    let unknown = append(2, &[("x-ms-lease-action", "steal")], false)
        .await
        .unwrap();
    expect_error(unknown, StatusCode::BAD_REQUEST, "InvalidHeaderValue").await;
});

on_both_stores!(lease_blob_and_container_operations, |env| {
    env.put_file("g", b"g").await;
    let lease = |path: &str, pairs: &[(&str, &str)]| {
        let mut request = blob(&env, Method::PUT, path);
        for (name, value) in pairs {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let acquired = lease(
        "writeback/g?comp=lease",
        &[
            ("x-ms-lease-action", "acquire"),
            ("x-ms-lease-duration", "60"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(acquired.status(), StatusCode::CREATED);
    let id = acquired.headers()["x-ms-lease-id"]
        .to_str()
        .unwrap()
        .to_string();
    let changed = lease(
        "writeback/g?comp=lease",
        &[
            ("x-ms-lease-action", "change"),
            ("x-ms-lease-id", &id),
            ("x-ms-proposed-lease-id", OTHER),
        ],
    )
    .await
    .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(changed.headers()["x-ms-lease-id"], OTHER);
    let renewed = lease(
        "writeback/g?comp=lease",
        &[("x-ms-lease-action", "renew"), ("x-ms-lease-id", &id)],
    )
    .await
    .unwrap();
    expect_xml_error(
        renewed,
        StatusCode::CONFLICT,
        "LeaseIdMismatchWithLeaseOperation",
    )
    .await;
    let broken = lease(
        "writeback/g?comp=lease",
        &[
            ("x-ms-lease-action", "break"),
            ("x-ms-lease-break-period", "0"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(broken.status(), StatusCode::ACCEPTED);
    assert_eq!(broken.headers()["x-ms-lease-time"], "0");
    let head = blob(&env, Method::HEAD, "writeback/g")
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["x-ms-lease-state"], "broken");
    assert_eq!(head.headers()["x-ms-lease-status"], "unlocked");

    let container = lease(
        "writeback?restype=container&comp=lease",
        &[
            ("x-ms-lease-action", "acquire"),
            ("x-ms-lease-duration", "-1"),
            ("x-ms-proposed-lease-id", ID),
        ],
    )
    .await
    .unwrap();
    assert_eq!(container.status(), StatusCode::CREATED);
    let props = blob(&env, Method::GET, "writeback?restype=container")
        .send()
        .await
        .unwrap();
    assert_eq!(props.headers()["x-ms-lease-state"], "leased");
    assert_eq!(props.headers()["x-ms-lease-duration"], "infinite");
    let delete = blob(&env, Method::DELETE, "writeback?restype=container")
        .send()
        .await
        .unwrap();
    expect_xml_error(delete, StatusCode::PRECONDITION_FAILED, "LeaseIdMissing").await;
    let delete = blob(&env, Method::DELETE, "writeback?restype=container")
        .header("x-ms-lease-id", ID)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::ACCEPTED);
});
