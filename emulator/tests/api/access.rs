//! POSIX access control: owner, group, permissions, umask and ACLs at create, get/set access
//! control (also on the root directory), default ACL inheritance, and recursive changes.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{etag, expect_error};

on_both_stores!(create_takes_owner_group_permissions_umask_and_acl, |env| {
    let created = env
        .req(Method::PUT, "writeback/a?resource=directory")
        .header("x-ms-owner", "o1")
        .header("x-ms-group", "g1")
        .header("x-ms-permissions", "0777")
        .header("x-ms-umask", "0022")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let acl = env
        .req(Method::HEAD, "writeback/a?action=getAccessControl")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.status(), StatusCode::OK);
    let h = acl.headers();
    assert_eq!(h["x-ms-owner"], "o1");
    assert_eq!(h["x-ms-group"], "g1");
    assert_eq!(h["x-ms-permissions"], "rwxr-xr-x");
    assert_eq!(h["x-ms-acl"], "user::rwx,group::r-x,other::r-x");
    assert_eq!(etag(&acl), etag(&created));

    // A default ACL replaces the umask for new children, and directories inherit it.
    let set = env
        .req(Method::PATCH, "writeback/a?action=setAccessControl")
        .header("x-ms-acl", "user::rwx,group::r-x,other::---,default:user::rwx,default:group::r--,default:other::---,default:user:u1:r-x")
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    assert_ne!(
        etag(&set),
        etag(&created),
        "a change of access control is a change"
    );
    env.create_file("a/f").await;
    let child = env
        .req(Method::HEAD, "writeback/a/f?action=getAccessControl")
        .send()
        .await
        .unwrap();
    assert_eq!(
        child.headers()["x-ms-acl"],
        "user::rw-,user:u1:r-x,group::r--,other::---"
    );
    assert_eq!(child.headers()["x-ms-permissions"], "rw-r-----+");

    let bad = env
        .req(Method::PUT, "writeback/b?resource=file")
        .header("x-ms-permissions", "rwxzzz---")
        .send()
        .await
        .unwrap();
    expect_error(bad, StatusCode::BAD_REQUEST, "InvalidHeaderValue").await;
});

on_both_stores!(
    set_access_control_checks_conditions_and_exclusive_headers,
    |env| {
        env.create_file("f").await;
        let head = env.head("f").await;
        let stale = etag(&head);
        let ok = env
            .req(Method::PATCH, "writeback/f?action=setAccessControl")
            .header("if-match", stale.clone())
            .header("x-ms-permissions", "rwx------")
            .header("x-ms-owner", "someone")
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let again = env
            .req(Method::PATCH, "writeback/f?action=setAccessControl")
            .header("if-match", stale)
            .header("x-ms-owner", "other")
            .send()
            .await
            .unwrap();
        expect_error(again, StatusCode::PRECONDITION_FAILED, "ConditionNotMet").await;
        let both = env
            .req(Method::PATCH, "writeback/f?action=setAccessControl")
            .header("x-ms-permissions", "rwx------")
            .header("x-ms-acl", "user::rwx,group::---,other::---")
            .send()
            .await
            .unwrap();
        expect_error(both, StatusCode::BAD_REQUEST, "InvalidHeaderValue").await;
        let status = env
            .req(Method::HEAD, "writeback/f?action=getStatus")
            .send()
            .await
            .unwrap();
        assert_eq!(status.headers()["x-ms-owner"], "someone");
        assert_eq!(status.headers()["x-ms-permissions"], "rwx------");
        assert!(
            !status.headers().contains_key("x-ms-acl"),
            "getStatus has no ACL"
        );
    }
);

on_both_stores!(root_directory_has_access_control, |env| {
    let set = env
        .req(Method::PATCH, "writeback?action=setAccessControl")
        .header("x-ms-acl", "user::rwx,group::r-x,other::rwx")
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let get = env
        .req(Method::HEAD, "writeback?action=getAccessControl")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::OK);
    assert_eq!(get.headers()["x-ms-acl"], "user::rwx,group::r-x,other::rwx");
    assert_eq!(get.headers()["x-ms-resource-type"], "directory");
});

on_both_stores!(recursive_access_control_pages_with_continuation, |env| {
    for name in ["r/a/1", "r/a/2", "r/b"] {
        env.put_file(name, b"x").await;
    }
    let mut continuation: Option<String> = None;
    let (mut dirs, mut files, mut calls) = (0, 0, 0);
    loop {
        let mut pq =
            "writeback/r?action=setAccessControlRecursive&mode=modify&maxRecords=2".to_string();
        if let Some(token) = &continuation {
            pq.push_str(&format!(
                "&continuation={}",
                percent_encoding::utf8_percent_encode(token, percent_encoding::NON_ALPHANUMERIC)
            ));
        }
        let response = env
            .req(Method::PATCH, &pq)
            .header("x-ms-acl", "user:u2:rwx")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        continuation = response
            .headers()
            .get("x-ms-continuation")
            .map(|v| v.to_str().unwrap().to_string());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["failureCount"], 0);
        dirs += body["directoriesSuccessful"].as_u64().unwrap();
        files += body["filesSuccessful"].as_u64().unwrap();
        calls += 1;
        if continuation.is_none() {
            break;
        }
    }
    assert_eq!((dirs, files, calls), (2, 3, 3));
    let acl = env
        .req(Method::HEAD, "writeback/r/a/2?action=getAccessControl")
        .send()
        .await
        .unwrap();
    assert_eq!(
        acl.headers()["x-ms-acl"],
        "user::rw-,user:u2:rwx,group::r--,other::---"
    );
    let missing_acl = env
        .req(
            Method::PATCH,
            "writeback/r?action=setAccessControlRecursive&mode=set",
        )
        .send()
        .await
        .unwrap();
    expect_error(
        missing_acl,
        StatusCode::BAD_REQUEST,
        "MissingRequiredHeader",
    )
    .await;
    let bad_mode = env
        .req(
            Method::PATCH,
            "writeback/r?action=setAccessControlRecursive&mode=grow",
        )
        .header("x-ms-acl", "user::rwx")
        .send()
        .await
        .unwrap();
    expect_error(
        bad_mode,
        StatusCode::BAD_REQUEST,
        "InvalidQueryParameterValue",
    )
    .await;
});
