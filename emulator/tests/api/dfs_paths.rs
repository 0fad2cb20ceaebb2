//! File systems, create, rename, list and delete.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{etag, expect_error};

on_both_stores!(create_only_and_truncating_create, |env| {
    env.put_file("a/b/file.csv", b"old content").await;
    let create_only = env
        .req(Method::PUT, "writeback/a/b/file.csv?resource=file")
        .header("if-none-match", "*")
        .send()
        .await
        .unwrap();
    expect_error(create_only, StatusCode::CONFLICT, "PathAlreadyExists").await;

    let before = etag(&env.head("a/b/file.csv").await);
    let recreated = env.create_file("a/b/file.csv").await;
    assert_eq!(recreated.status(), StatusCode::CREATED);
    assert_eq!(recreated.headers()["content-length"], "0");
    assert_ne!(etag(&recreated), before);
    assert_eq!(env.read("a/b/file.csv").await, b"");

    let dir = env.head("a/b").await;
    assert_eq!(dir.headers()["x-ms-resource-type"], "directory");
    let under_file = env.create_file("a/b/file.csv/child").await;
    expect_error(under_file, StatusCode::CONFLICT, "PathConflict").await;
});

on_both_stores!(properties_are_stored, |env| {
    let response = env
        .req(Method::PUT, "writeback/p.csv?resource=file")
        .header("x-ms-properties", "n1=djE=,n2=djI=")
        .header("x-ms-content-type", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let head = env.head("p.csv").await;
    assert_eq!(head.headers()["x-ms-properties"], "n1=djE=,n2=djI=");
    assert_eq!(head.headers()["content-type"], "text/csv");
    let status = env
        .req(Method::HEAD, "writeback/p.csv?action=getAccessControl")
        .send()
        .await
        .unwrap();
    assert_eq!(status.headers()["x-ms-owner"], "$superuser");
    assert!(status.headers().contains_key("x-ms-permissions"));
});

on_both_stores!(
    rename_replaces_the_destination_and_checks_conditions,
    |env| {
        env.put_file("out/final.csv", b"old").await;
        env.put_file("out/.tmp-final.csv", b"new content").await;
        let rename = |source: &str| {
            env.req(Method::PUT, "writeback/out/final.csv?mode=legacy")
                .header("x-ms-rename-source", source.to_string())
        };
        let guarded = rename("/writeback/out/.tmp-final.csv")
            .header("if-none-match", "*")
            .send()
            .await
            .unwrap();
        expect_error(guarded, StatusCode::CONFLICT, "PathAlreadyExists").await;
        let stale_source = rename("/writeback/out/.tmp-final.csv")
            .header("x-ms-source-if-match", "\"0x1\"")
            .send()
            .await
            .unwrap();
        expect_error(
            stale_source,
            StatusCode::PRECONDITION_FAILED,
            "SourceConditionNotMet",
        )
        .await;
        let stale_dest = rename("/writeback/out/.tmp-final.csv")
            .header("if-match", "\"0x1\"")
            .send()
            .await
            .unwrap();
        expect_error(
            stale_dest,
            StatusCode::PRECONDITION_FAILED,
            "ConditionNotMet",
        )
        .await;

        let done = rename("/writeback/out/%2Etmp-final.csv?sv=2020-02-10&sig=abc")
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), StatusCode::CREATED);
        assert_eq!(env.read("out/final.csv").await, b"new content");
        assert_eq!(
            env.head("out/.tmp-final.csv").await.status(),
            StatusCode::NOT_FOUND
        );

        let missing = rename("/writeback/out/.tmp-final.csv")
            .send()
            .await
            .unwrap();
        expect_error(missing, StatusCode::NOT_FOUND, "SourcePathNotFound").await;
        let no_parent = env
            .req(Method::PUT, "writeback/nowhere/final.csv")
            .header("x-ms-rename-source", "/writeback/out/final.csv")
            .send()
            .await
            .unwrap();
        expect_error(
            no_parent,
            StatusCode::NOT_FOUND,
            "RenameDestinationParentPathNotFound",
        )
        .await;
    }
);

on_both_stores!(rename_moves_a_directory_with_its_children, |env| {
    env.put_file("stage/x/1.csv", b"1").await;
    env.put_file("stage/2.csv", b"2").await;
    let response = env
        .req(Method::PUT, "writeback/published")
        .header("x-ms-rename-source", "/writeback/stage")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(env.read("published/x/1.csv").await, b"1");
    assert_eq!(env.read("published/2.csv").await, b"2");
    let list = env
        .req(Method::GET, "writeback?resource=filesystem&recursive=true")
        .send()
        .await
        .unwrap();
    let body: Value = list.json().await.unwrap();
    let names: Vec<&str> = body["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "published",
            "published/2.csv",
            "published/x",
            "published/x/1.csv"
        ]
    );
});

on_both_stores!(list_paths_pages_with_continuation, |env| {
    for i in 0..5 {
        env.put_file(&format!("d/f{i}.csv"), b"12345").await;
    }
    let mut names = Vec::new();
    let mut continuation: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut pq =
            "writeback?resource=filesystem&recursive=false&directory=d&maxResults=2".to_string();
        if let Some(token) = &continuation {
            pq.push_str(&format!("&continuation={}", urlencode(token)));
        }
        let response = env.req(Method::GET, &pq).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        continuation = response
            .headers()
            .get("x-ms-continuation")
            .map(|v| v.to_str().unwrap().to_string());
        let body: Value = response.json().await.unwrap();
        for p in body["paths"].as_array().unwrap() {
            assert_eq!(p["contentLength"], "5");
            assert!(p.get("isDirectory").is_none());
            assert!(p["lastModified"].as_str().unwrap().ends_with("GMT"));
            names.push(p["name"].as_str().unwrap().to_string());
        }
        pages += 1;
        if continuation.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        names,
        ["d/f0.csv", "d/f1.csv", "d/f2.csv", "d/f3.csv", "d/f4.csv"]
    );

    let root = env
        .req(Method::GET, "writeback?resource=filesystem&recursive=false")
        .send()
        .await
        .unwrap();
    let body: Value = root.json().await.unwrap();
    assert_eq!(body["paths"][0]["name"], "d");
    assert_eq!(body["paths"][0]["isDirectory"], "true");
    let missing = env
        .req(
            Method::GET,
            "writeback?resource=filesystem&recursive=true&directory=nope",
        )
        .send()
        .await
        .unwrap();
    expect_error(missing, StatusCode::NOT_FOUND, "PathNotFound").await;
});

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

on_both_stores!(delete_files_and_directories, |env| {
    env.put_file("del/sub/a.csv", b"a").await;
    let not_empty = env
        .req(Method::DELETE, "writeback/del")
        .send()
        .await
        .unwrap();
    expect_error(not_empty, StatusCode::CONFLICT, "DirectoryNotEmpty").await;
    let stale = env
        .req(Method::DELETE, "writeback/del/sub/a.csv")
        .header("if-match", "\"0x1\"")
        .send()
        .await
        .unwrap();
    expect_error(stale, StatusCode::PRECONDITION_FAILED, "ConditionNotMet").await;
    let file = env
        .req(Method::DELETE, "writeback/del/sub/a.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    let recursive = env
        .req(Method::DELETE, "writeback/del?recursive=true")
        .send()
        .await
        .unwrap();
    assert_eq!(recursive.status(), StatusCode::OK);
    let gone = env
        .req(Method::DELETE, "writeback/del")
        .send()
        .await
        .unwrap();
    expect_error(gone, StatusCode::NOT_FOUND, "PathNotFound").await;
});

on_both_stores!(file_systems_and_missing_ones, |env| {
    let created = env
        .req(Method::PUT, "second?resource=filesystem")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let again = env
        .req(Method::PUT, "second?resource=filesystem")
        .send()
        .await
        .unwrap();
    expect_error(again, StatusCode::CONFLICT, "FilesystemAlreadyExists").await;
    let list: Value = env
        .req(Method::GET, "?resource=account")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["filesystems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["second", "writeback"]);
    let deleted = env
        .req(Method::DELETE, "second?resource=filesystem")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);

    let create = env
        .req(Method::PUT, "second/f.csv?resource=file")
        .send()
        .await
        .unwrap();
    expect_error(create, StatusCode::NOT_FOUND, "FilesystemNotFound").await;
    let read = env.req(Method::GET, "second/f.csv").send().await.unwrap();
    expect_error(read, StatusCode::NOT_FOUND, "FilesystemNotFound").await;

    let head = env.head("missing.csv").await;
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    assert_eq!(head.headers()["x-ms-error-code"], "PathNotFound");
    assert!(head.bytes().await.unwrap().is_empty());

    let other_account = env
        .client
        .get(format!(
            "{}/nosuchaccount?resource=account",
            env.emulator.dfs_url()
        ))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    expect_error(other_account, StatusCode::NOT_FOUND, "ResourceNotFound").await;
});

on_both_stores!(every_answer_carries_the_service_headers, |env| {
    let url = format!(
        "{}/writeback?resource=filesystem",
        env.emulator.account_endpoint("devstoreaccount1")
    );
    let head = env
        .client
        .head(url)
        .bearer_auth(&env.token)
        .header("x-ms-version", "2021-06-08")
        .header("x-ms-client-request-id", "client-1")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["x-ms-version"], "2021-06-08");
    assert_eq!(head.headers()["x-ms-client-request-id"], "client-1");
    assert_eq!(head.headers()["x-ms-namespace-enabled"], "true");
    assert!(head.headers().contains_key("etag") && head.headers().contains_key("date"));
    let request_id = head.headers()["x-ms-request-id"].to_str().unwrap();
    assert_eq!(request_id.len(), 36);
    let error = env
        .req(Method::POST, "writeback/x.csv")
        .send()
        .await
        .unwrap();
    assert!(
        error.headers().contains_key("date") && error.headers().contains_key("x-ms-request-id")
    );
    expect_error(error, StatusCode::METHOD_NOT_ALLOWED, "UnsupportedHttpVerb").await;
    let bad_action = env
        .req(Method::PATCH, "writeback/x.csv?action=dance")
        .send()
        .await
        .unwrap();
    expect_error(
        bad_action,
        StatusCode::BAD_REQUEST,
        "InvalidQueryParameterValue",
    )
    .await;
});

/// Names of a listing page.
async fn listed(env: &crate::common::Env, path_and_query: &str) -> Vec<String> {
    let response = env.req(Method::GET, path_and_query).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path_and_query}");
    let body: Value = response.json().await.unwrap();
    body["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

on_both_stores!(list_paths_begin_from_is_inclusive_and_relative, |env| {
    for name in ["top/a/1", "top/a/2", "top/b/1", "top/c"] {
        env.put_file(name, b"x").await;
    }
    assert_eq!(
        listed(
            &env,
            "writeback?resource=filesystem&recursive=true&directory=top&beginFrom=a%2F2"
        )
        .await,
        ["top/a/2", "top/b", "top/b/1", "top/c"]
    );
    // A start that does not exist starts at the next path; pages keep the start.
    assert_eq!(
        listed(
            &env,
            "writeback?resource=filesystem&recursive=false&directory=top&beginFrom=bb"
        )
        .await,
        ["top/c"]
    );
    let first = env
        .req(
            Method::GET,
            "writeback?resource=filesystem&recursive=true&beginFrom=top%2Fb&maxResults=1",
        )
        .send()
        .await
        .unwrap();
    let token = first.headers()["x-ms-continuation"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        listed(
            &env,
            &format!(
                "writeback?resource=filesystem&recursive=true&beginFrom=top%2Fb&continuation={}",
                urlencode(&token)
            )
        )
        .await,
        ["top/b/1", "top/c"]
    );
});

on_both_stores!(rename_onto_an_empty_directory_replaces_it, |env| {
    env.put_file("src/deep/f", b"1").await;
    let made = env
        .req(Method::PUT, "writeback/dst/empty?resource=directory")
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let rename = |source: &'static str, dest: &'static str| {
        env.req(Method::PUT, &format!("writeback/{dest}"))
            .header("x-ms-rename-source", source)
            .send()
    };
    let replaced = rename("/writeback/src", "dst/empty").await.unwrap();
    assert_eq!(replaced.status(), StatusCode::CREATED);
    assert_eq!(env.read("dst/empty/deep/f").await, b"1");
    env.put_file("other/g", b"2").await;
    let full = rename("/writeback/other", "dst").await.unwrap();
    expect_error(full, StatusCode::CONFLICT, "PathAlreadyExists").await;
});

on_both_stores!(rename_across_file_systems_moves_content, |env| {
    let made = env
        .req(Method::PUT, "other?resource=filesystem")
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    env.put_file("tree/a.csv", b"a,b\n").await;
    env.put_file("tree/sub/b.csv", b"1,2\n").await;
    let moved = env
        .req(Method::PUT, "other/moved")
        .header("x-ms-rename-source", "/writeback/tree")
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::CREATED);
    let read = |path: &'static str| env.req(Method::GET, path).send();
    assert_eq!(
        read("other/moved/sub/b.csv")
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        b"1,2\n"
    );
    assert_eq!(
        read("other/moved/a.csv")
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        b"a,b\n"
    );
    assert_eq!(env.head("tree").await.status(), StatusCode::NOT_FOUND);
    let missing = env
        .req(Method::PUT, "other/again")
        .header("x-ms-rename-source", "/nosuchfs/tree")
        .send()
        .await
        .unwrap();
    expect_error(missing, StatusCode::NOT_FOUND, "SourcePathNotFound").await;
    let no_parent = env
        .req(Method::PUT, "other/none/x")
        .header("x-ms-rename-source", "/writeback/tree")
        .send()
        .await
        .unwrap();
    expect_error(no_parent, StatusCode::NOT_FOUND, "SourcePathNotFound").await;
});

on_both_stores!(rename_to_a_destination_without_the_account_segment, |env| {
    // Microsoft's JS SDK on path-style URLs: the destination lacks `/{account}`, the source
    // names it.
    env.put_file("js/a.csv", b"a").await;
    let url = format!("{}/writeback/js/b.csv", env.emulator.dfs_url());
    let moved = env
        .client
        .put(&url)
        .bearer_auth(&env.token)
        .header("x-ms-version", "2023-11-03")
        .header("x-ms-rename-source", "/devstoreaccount1/writeback/js/a.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::CREATED);
    assert_eq!(env.read("js/b.csv").await, b"a");
    // Without a source naming a known account, a missing account is still an error.
    let plain = env
        .client
        .put(&url)
        .bearer_auth(&env.token)
        .header("x-ms-version", "2023-11-03")
        .header("x-ms-rename-source", "/writeback/js/b.csv")
        .send()
        .await
        .unwrap();
    expect_error(plain, StatusCode::NOT_FOUND, "ResourceNotFound").await;
    let create = env
        .client
        .put(format!("{url}?resource=file"))
        .bearer_auth(&env.token)
        .header("x-ms-version", "2023-11-03")
        .send()
        .await
        .unwrap();
    expect_error(create, StatusCode::NOT_FOUND, "ResourceNotFound").await;
});

on_both_stores!(encryption_scope_and_context_are_stored, |env| {
    let made = env
        .req(Method::PUT, "scoped?resource=filesystem")
        .header("x-ms-default-encryption-scope", "scope1")
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let file = env
        .req(Method::PUT, "scoped/f?resource=file")
        .header("x-ms-encryption-context", "ctx-1")
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::CREATED);
    let head = env.req(Method::HEAD, "scoped/f").send().await.unwrap();
    assert_eq!(head.headers()["x-ms-encryption-context"], "ctx-1");
    assert_eq!(head.headers()["x-ms-encryption-scope"], "scope1");
    let list = env
        .req(Method::GET, "scoped?resource=filesystem&recursive=true")
        .send()
        .await
        .unwrap();
    let body: Value = list.json().await.unwrap();
    assert_eq!(body["paths"][0]["EncryptionContext"], "ctx-1");
    assert_eq!(body["paths"][0]["EncryptionScope"], "scope1");
});
