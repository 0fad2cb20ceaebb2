//! Driver tests of writes through the Blob endpoint, against the fake host's Blob side.

use super::fake::{BLOB_ENDPOINT, FakeHost, File, Replay, md5_base64};
use super::fake_blob::blob_error;
use super::tests::{TARGET, csv, job, md5_of};
use super::*;
use crate::model::{EndpointChoice, Method};

fn blob_job(update: UpdateMode) -> Job {
    let mut job = job(update);
    job.account.blob_endpoint = BLOB_ENDPOINT.into();
    job.account.endpoint = EndpointChoice::Blob;
    job
}

/// The blob holding `content`, committed as one block of ID `old`.
fn existing(content: &[u8]) -> File {
    File {
        committed: content.to_vec(),
        etag: 5,
        blocks: vec![("b2xk".into(), content.len())],
        metadata: vec![("run_id".into(), "first".into())],
        ..File::default()
    }
}

fn requests(host: &FakeHost) -> Vec<String> {
    host.seen
        .iter()
        .map(|s| {
            let comp = s
                .query
                .split('&')
                .find(|kv| kv.starts_with("comp="))
                .unwrap_or("");
            format!("{:?} {comp}", s.method)
        })
        .collect()
}

#[test]
fn replace_stages_blocks_and_commits_them_once_with_the_file_md5() {
    let data = csv(5000, true, true);
    let mut host = FakeHost::new(&data);
    host.files.insert(TARGET.into(), existing(b"old\n"));
    let report = run(&mut host, &blob_job(UpdateMode::Replace)).unwrap();

    assert_eq!(host.content(TARGET), Some(&data[..]));
    let file = &host.files[TARGET];
    assert_eq!(file.content_md5.as_deref(), Some(md5_of(&data).as_str()));
    assert_eq!(file.content_type.as_deref(), Some("text/csv"));
    let meta = |key: &str| {
        let found = file.metadata.iter().find(|(k, _)| k == key);
        found.map(|(_, v)| v.clone())
    };
    let job = blob_job(UpdateMode::Replace);
    assert_eq!(meta("dataset_id"), Some(job.dataset.id.clone()));
    assert_eq!(meta("run_id"), Some(job.run_id.clone()));
    assert_eq!(meta("rows"), Some(report.rows.to_string()));
    assert_eq!(meta("sha256"), Some(report.sha256.clone()));
    assert_eq!(report.endpoint, EndpointChoice::Blob);
    assert_eq!(report.md5, md5_of(&data));
    assert_eq!(report.file_size, data.len() as u64);
    assert!(report.url.starts_with(BLOB_ENDPOINT), "{}", report.url);
    // No temporary name: only the target was written, and only through Blob.
    assert_eq!(host.files.len(), 1);
    assert!(host.seen.iter().all(|s| s.blob && s.path == TARGET));
    let blocks = data.len().div_ceil(65536);
    assert_eq!(report.blocks as usize, blocks);
    let seen = requests(&host);
    assert_eq!(
        seen.iter().filter(|r| *r == "Put comp=block").count(),
        blocks
    );
    assert_eq!(
        seen.iter().filter(|r| *r == "Put comp=blocklist").count(),
        1
    );
    assert_eq!(seen.last().map(String::as_str), Some("Head "));
    // Blocks went concurrently, with IDs of one length that sort in file order.
    assert_eq!(host.most_in_flight, 2);
    let ids: Vec<&String> = file.blocks.iter().map(|(id, _)| id).collect();
    assert!(ids.iter().all(|id| id.len() == ids[0].len()));
    let raw: Vec<Vec<u8>> = ids.iter().map(|id| BASE64.decode(id).unwrap()).collect();
    assert!(raw.windows(2).all(|w| w[0] < w[1]));
    assert!(host.staged.is_empty());
}

#[test]
fn a_failing_block_list_leaves_the_old_blob() {
    let data = csv(3000, false, false);
    let mut host = FakeHost::new(&data);
    host.files.insert(TARGET.into(), existing(b"old\n"));
    host.fault = Some(Box::new(|_, seen| {
        seen.query.contains("comp=blocklist").then(|| {
            Ok(blob_error(
                500,
                "InternalError",
                "The server encountered an error.",
            ))
        })
    }));
    let err = run(&mut host, &blob_job(UpdateMode::Replace)).unwrap_err();
    let JobError::Storage(e) = err else {
        panic!("{err:?}")
    };
    assert_eq!(e.code, "InternalError");
    assert_eq!(e.operation, "put block list");
    assert!(
        e.message.starts_with("The server encountered an error."),
        "{}",
        e.message
    );
    assert!(e.message.contains("RequestId:req-2"), "{}", e.message);
    assert_eq!(host.content(TARGET), Some(&b"old\n"[..]));
    assert_eq!(host.files[TARGET].etag, 5);
}

#[test]
fn a_failing_block_leaves_the_old_blob_and_commits_nothing() {
    let data = csv(3000, false, false);
    let mut host = FakeHost::new(&data);
    host.files.insert(TARGET.into(), existing(b"old\n"));
    host.fault = Some(Box::new(|_, seen| {
        (seen.query.contains("comp=block&") && seen.query.contains("blockid="))
            .then(|| Ok(blob_error(403, "AuthorizationPermissionMismatch", "no")))
    }));
    let err = run(&mut host, &blob_job(UpdateMode::Replace)).unwrap_err();
    let JobError::Storage(e) = err else {
        panic!("{err:?}")
    };
    assert_eq!(e.status, 403);
    // Named as the Blob service calls the request, not as DFS does.
    assert_eq!(e.operation, "put block");
    assert!(e.message.contains("(or on container `"), "{}", e.message);
    assert_eq!(host.content(TARGET), Some(&b"old\n"[..]));
    assert!(!requests(&host).iter().any(|r| r == "Put comp=blocklist"));
}

#[test]
fn retried_blocks_and_block_lists_end_byte_exact() {
    let data = csv(4000, false, true);
    let mut host = FakeHost::new(&data);
    let mut n = 0;
    // Every other Put Block and the block list reach the service twice.
    host.lost = Some(Box::new(move |seen| {
        n += 1;
        (seen.method == Method::Put && (n % 2 == 1 || seen.query.contains("blocklist")))
            .then_some(Replay::Again)
    }));
    run(&mut host, &blob_job(UpdateMode::Replace)).unwrap();
    assert_eq!(host.content(TARGET), Some(&data[..]));
    assert_eq!(
        host.files[TARGET].content_md5.as_deref(),
        Some(md5_of(&data).as_str())
    );
}

#[test]
fn refused_credentials_are_renewed_and_blocks_sent_again() {
    let data = csv(3000, false, false);
    let mut host = FakeHost::new(&data);
    let mut refused = false;
    host.fault = Some(Box::new(move |_, seen| {
        if !refused && seen.query.contains("blockid=") {
            refused = true;
            return Some(Ok(blob_error(
                401,
                "InvalidAuthenticationInfo",
                "Server failed to authenticate the request.",
            )));
        }
        None
    }));
    run(&mut host, &blob_job(UpdateMode::Replace)).unwrap();
    assert_eq!(host.refreshes, 1);
    assert_eq!(host.content(TARGET), Some(&data[..]));
}

#[test]
fn append_commits_the_committed_blocks_then_the_new_rows() {
    let old = b"id,name,amount\n1,a,2\n".to_vec();
    let data = csv(3000, false, false);
    let mut host = FakeHost::new(&data);
    host.files.insert(TARGET.into(), existing(&old));
    let report = run(&mut host, &blob_job(UpdateMode::Append)).unwrap();

    let body_start = data.iter().position(|b| *b == b'\n').unwrap() + 1;
    let mut want = old.clone();
    want.extend_from_slice(&data[body_start..]);
    assert_eq!(host.content(TARGET), Some(&want[..]));
    assert_eq!(report.file_size, want.len() as u64);
    let file = &host.files[TARGET];
    assert_eq!(file.blocks[0].0, "b2xk");
    // The metadata of the run that wrote the blob whole is kept, as a DFS append keeps it.
    assert_eq!(file.metadata, [("run_id".to_string(), "first".to_string())]);
    let list = host
        .seen
        .iter()
        .find(|s| s.query.contains("comp=blocklist") && s.method == Method::Put)
        .unwrap();
    let if_match = list.headers.iter().find(|(n, _)| n == "If-Match");
    assert_eq!(if_match.map(|(_, v)| v.as_str()), Some("\"5\""));
}

#[test]
fn append_checks_the_header_and_a_mismatch_writes_nothing() {
    let old = b"other,columns\n1,2\n".to_vec();
    let mut host = FakeHost::new(&csv(100, false, false));
    host.files.insert(TARGET.into(), existing(&old));
    let err = run(&mut host, &blob_job(UpdateMode::Append)).unwrap_err();
    assert!(matches!(err, JobError::Data(_)), "{err:?}");
    assert_eq!(host.content(TARGET), Some(&old[..]));
    assert!(!requests(&host).iter().any(|r| r == "Put comp=blocklist"));
}

#[test]
fn a_concurrent_writer_fails_the_append_and_the_blob_stays_as_it_was() {
    let old = b"id,name,amount\n1,a,2\n".to_vec();
    let mut host = FakeHost::new(&csv(500, false, false));
    host.files.insert(TARGET.into(), existing(&old));
    // The run reads ETag 4; another writer has committed since (the blob is at 5).
    let length = old.len().to_string();
    let mut heads = 0;
    host.fault = Some(Box::new(move |request, _| {
        if request.method != Method::Head {
            return None;
        }
        heads += 1;
        (heads == 1).then(|| {
            Ok(Response {
                status: 200,
                headers: vec![
                    ("ETag".into(), "\"4\"".into()),
                    ("Content-Length".into(), length.clone()),
                ],
                body: vec![],
            })
        })
    }));
    let err = run(&mut host, &blob_job(UpdateMode::Append)).unwrap_err();
    let JobError::Storage(e) = err else {
        panic!("{err:?}")
    };
    assert_eq!(e.code, "ConditionNotMet");
    assert!(e.message.contains("run again"), "{}", e.message);
    assert_eq!(host.content(TARGET), Some(&old[..]));
    assert_eq!(host.files[TARGET].etag, 5);
}

#[test]
fn a_retried_append_commit_whose_answer_was_lost_is_recognised() {
    let old = b"id,name,amount\n1,a,2\n".to_vec();
    let data = csv(2000, false, false);
    let mut host = FakeHost::new(&data);
    host.files.insert(TARGET.into(), existing(&old));
    host.lost = Some(Box::new(|seen| {
        (seen.method == Method::Put && seen.query == "comp=blocklist").then_some(Replay::Again)
    }));
    run(&mut host, &blob_job(UpdateMode::Append)).unwrap();
    let body_start = data.iter().position(|b| *b == b'\n').unwrap() + 1;
    let mut want = old.clone();
    want.extend_from_slice(&data[body_start..]);
    assert_eq!(host.content(TARGET), Some(&want[..]));
    assert!(host.logs.iter().any(|(_, l)| l.contains("had succeeded")));
}

#[test]
fn append_refuses_a_blob_not_written_in_blocks() {
    let old = b"id,name,amount\n1,a,2\n".to_vec();
    let mut host = FakeHost::new(&csv(10, false, false));
    host.files.insert(
        TARGET.into(),
        File {
            committed: old.clone(),
            etag: 2,
            ..File::default()
        },
    );
    let err = run(&mut host, &blob_job(UpdateMode::Append)).unwrap_err();
    let JobError::Storage(e) = err else {
        panic!("{err:?}")
    };
    assert!(e.message.contains("not written in blocks"), "{}", e.message);
    assert_eq!(host.content(TARGET), Some(&old[..]));
}

#[test]
fn append_to_a_missing_blob_writes_it_whole() {
    let data = csv(100, false, false);
    let mut host = FakeHost::new(&data);
    run(&mut host, &blob_job(UpdateMode::Append)).unwrap();
    assert_eq!(host.content(TARGET), Some(&data[..]));
}

#[test]
fn auto_asks_the_account_once_and_picks_by_its_namespace() {
    for (hns, want) in [
        (Some(true), EndpointChoice::Dfs),
        (Some(false), EndpointChoice::Blob),
        (None, EndpointChoice::Blob),
    ] {
        let data = csv(100, false, false);
        let mut host = FakeHost::new(&data);
        host.hns = hns;
        let mut job = blob_job(UpdateMode::Replace);
        job.account.endpoint = EndpointChoice::Auto;
        let report = run(&mut host, &job).unwrap();
        assert_eq!(report.endpoint, want, "{hns:?}");
        assert_eq!(host.content(TARGET), Some(&data[..]));
        // One question to the Blob service, then everything through the chosen endpoint.
        assert_eq!(host.seen[0].query, "restype=account&comp=properties");
        let asked = host
            .seen
            .iter()
            .filter(|s| s.query.contains("restype=account"))
            .count();
        assert_eq!(asked, 1);
        let through_blob = host.seen[1..].iter().filter(|s| s.blob).count();
        match want {
            EndpointChoice::Blob => assert_eq!(through_blob, host.seen.len() - 1),
            _ => assert_eq!(through_blob, 0),
        }
    }
}

#[test]
fn auto_falls_back_to_the_dfs_answer_then_to_dfs() {
    let data = csv(100, false, false);
    let mut host = FakeHost::new(&data);
    let mut job = blob_job(UpdateMode::Replace);
    job.account.endpoint = EndpointChoice::Auto;
    // Account information refused (a SAS scoped to the container), and the DFS file
    // system's properties say nothing either.
    host.fault = Some(Box::new(|request, seen| {
        if request.url.contains("restype=account") {
            return Some(Ok(blob_error(
                403,
                "AuthorizationResourceTypeMismatch",
                "no",
            )));
        }
        (seen.query == "resource=filesystem").then(|| {
            Ok(Response {
                status: 200,
                headers: vec![],
                body: vec![],
            })
        })
    }));
    let report = run(&mut host, &job).unwrap();
    assert_eq!(report.endpoint, EndpointChoice::Dfs);
    assert_eq!(host.content(TARGET), Some(&data[..]));
    assert!(
        host.logs
            .iter()
            .any(|(level, l)| *level == Level::Warn && l.contains("writing through DFS"))
    );
}

/// A split output with a manifest, through Blob.
fn split_blob_job(max_rows: u64) -> Job {
    let mut job = blob_job(UpdateMode::Replace);
    job.output.split.max_rows = Some(max_rows);
    job.output.manifest = true;
    job
}

#[test]
fn a_split_output_through_blob_commits_every_part_then_the_manifest() {
    let data = csv(100, false, false);
    let mut host = FakeHost::new(&data);
    let report = run(&mut host, &split_blob_job(30)).unwrap();
    let parts: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        parts,
        [
            "out/sales-00001.csv",
            "out/sales-00002.csv",
            "out/sales-00003.csv",
            "out/sales-00004.csv"
        ]
    );
    for f in &report.files {
        let blob = &host.files[&f.path];
        assert_eq!(md5_base64(&blob.committed), f.md5, "{}", f.path);
        assert!(
            blob.committed.starts_with(b"id,name,amount\n"),
            "every part has the header"
        );
        assert_eq!(blob.content_type.as_deref(), Some("text/csv"));
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(host.content("out/_manifest.json").unwrap()).unwrap();
    assert_eq!(manifest["rows"], 100);
    assert_eq!(manifest["files"][3]["path"], "out/sales-00004.csv");
    // Every block list comes after every block: nothing is visible until all is staged.
    let last_block = host
        .seen
        .iter()
        .rposition(|s| s.query.contains("comp=block&") && s.path.starts_with("out/sales-"));
    let first_list = host.seen.iter().position(|s| s.query == "comp=blocklist");
    assert!(last_block < first_list, "{:?}", host.seen);
    // A second run with fewer parts deletes the earlier set's extra ones.
    let mut job = split_blob_job(60);
    job.run_id = "second".into();
    let report = run(&mut host, &job).unwrap();
    assert_eq!(report.files.len(), 2);
    let mut names: Vec<&String> = host.files.keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "out/_manifest.json",
            "out/sales-00001.csv",
            "out/sales-00002.csv"
        ]
    );
}

#[test]
fn a_split_output_through_blob_failing_mid_stream_leaves_the_output_as_it_was() {
    let mut host = FakeHost::new(&csv(100, false, false));
    run(&mut host, &split_blob_job(30)).unwrap();
    let before: Vec<(String, Vec<u8>)> = {
        let mut files: Vec<_> = host
            .files
            .iter()
            .map(|(n, f)| (n.clone(), f.committed.clone()))
            .collect();
        files.sort();
        files
    };
    // A quote never closed on the last row: a data error after every part was staged.
    let mut bad = csv(100, false, false);
    bad.extend_from_slice(b"101,\"open,1.00\n");
    host.data = bad;
    let mut job = split_blob_job(30);
    job.run_id = "bad".into();
    let err = run(&mut host, &job).unwrap_err();
    assert!(matches!(err, JobError::Data(_)), "{err:?}");
    let mut after: Vec<_> = host
        .files
        .iter()
        .map(|(n, f)| (n.clone(), f.committed.clone()))
        .collect();
    after.sort();
    assert_eq!(after, before, "nothing committed, nothing deleted");
}

#[test]
fn an_append_of_parts_through_blob_is_refused_before_anything_is_written() {
    let mut host = FakeHost::new(&csv(10, false, false));
    let mut job = split_blob_job(5);
    job.output.update = UpdateMode::Append;
    let err = run(&mut host, &job).unwrap_err();
    let JobError::Invalid(problems) = err else {
        panic!("{err:?}")
    };
    assert_eq!(problems[0].field, "output.update");
    assert!(host.seen.is_empty());
}

#[test]
fn permissions_and_acls_through_blob_are_refused_naming_the_field() {
    let mut host = FakeHost::new(&csv(10, false, false));
    let mut job = blob_job(UpdateMode::Replace);
    job.output.access.permissions = Some("0640".into());
    job.output.access.acl = Some("user::rw-,group::r--,other::---".into());
    let err = run(&mut host, &job).unwrap_err();
    let JobError::Invalid(problems) = err else {
        panic!("{err:?}")
    };
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["output.permissions", "output.acl"]);
    assert!(problems[0].message.contains("hierarchical namespace"));
    assert!(host.seen.is_empty());
}

#[test]
fn auto_writes_through_dfs_when_the_blob_endpoint_cannot_be_reached() {
    let data = csv(100, false, false);
    let mut host = FakeHost::new(&data);
    let mut job = blob_job(UpdateMode::Replace);
    job.account.endpoint = EndpointChoice::Auto;
    host.fault = Some(Box::new(|request, seen| {
        if request.url.contains("restype=account") {
            return Some(Err(HttpError::Timeout("no answer".into())));
        }
        (seen.query == "resource=filesystem").then(|| {
            Ok(Response {
                status: 200,
                headers: vec![("x-ms-namespace-enabled".into(), "true".into())],
                body: vec![],
            })
        })
    }));
    let report = run(&mut host, &job).unwrap();
    assert_eq!(report.endpoint, EndpointChoice::Dfs);
    assert_eq!(host.content(TARGET), Some(&data[..]));
    assert!(!host.logs.iter().any(|(level, _)| *level == Level::Warn));
}
