//! Driver tests under faults: refused credentials, requests that succeeded with their response
//! lost (and were retried by the host), leftover temporary files, and bad input.

use super::fake::{FakeHost, File, Replay, error};
use super::tests::{TARGET, TEMP, csv, existing, failed_replace, job, md5_of};
use super::*;
use crate::model::{Method, Request};

fn refused() -> Response {
    error(
        401,
        "InvalidAuthenticationInfo",
        "Server failed to authenticate the request.",
    )
}

/// A fault answering 401 to the requests `pick` chooses, by their order among those whose
/// query contains `what` (1-based), each once.
fn refuse_nth(what: &'static str, pick: &'static [usize]) -> super::fake::Fault {
    let mut n = 0;
    Box::new(move |_: &Request, seen| {
        if !seen.query.contains(what) {
            return None;
        }
        n += 1;
        pick.contains(&n).then(|| Ok(refused()))
    })
}

#[test]
fn a_refused_token_is_refreshed_once_and_the_request_resent() {
    let data = csv(50, false, false);
    let mut host = FakeHost::new(&data);
    host.fault = Some(refuse_nth("action=flush", &[1]));
    let report = run(&mut host, &job(UpdateMode::Replace)).unwrap();
    assert_eq!(host.content(TARGET), Some(&data[..]));
    assert_eq!(host.refreshes, 1);
    assert_eq!(report.md5, md5_of(&data));
    let flushes = host.writes().iter().filter(|w| w.contains("flush")).count();
    assert_eq!(flushes, 2);
}

#[test]
fn appends_in_flight_refresh_once_and_resend_only_the_refused() {
    let data = csv(5000, false, true);
    let mut host = FakeHost::new(&data);
    host.fault = Some(refuse_nth("action=append", &[2, 3]));
    let mut job = job(UpdateMode::Replace);
    job.output.concurrency = 4;
    let report = run(&mut host, &job).unwrap();
    assert_eq!(host.content(TARGET), Some(&data[..]));
    assert_eq!(report.md5, md5_of(&data));
    // The second refusal came for a request sent with the token already refreshed away.
    assert_eq!(host.refreshes, 1);
    let appends: Vec<String> = host
        .writes()
        .into_iter()
        .filter(|w| w.contains("action=append"))
        .collect();
    assert!(report.blocks >= 4, "{}", report.blocks);
    // The first append landed; the 2nd and 3rd were refused, and every refused one (those
    // and the ones in flight with the old token) was sent again, each once.
    let resent = appends.len() - report.blocks as usize;
    assert!((2..=4).contains(&resent), "{resent} resent");
    for refused in [&appends[1], &appends[2]] {
        assert_eq!(
            appends.iter().filter(|a| *a == refused).count(),
            2,
            "{refused}"
        );
    }
}

#[test]
fn a_second_refusal_is_an_auth_error_naming_the_code() {
    let (e, host) = failed_replace(&csv(50, false, false), |host| {
        host.fault = Some(refuse_nth("action=flush", &[1, 2]));
    });
    match e {
        JobError::Auth(AuthError::Rejected(m)) => {
            assert!(m.contains("InvalidAuthenticationInfo"), "{m}");
            assert!(m.contains("flush temporary file"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(host.refreshes, 1);
}

/// A `lost` hook replaying requests whose query contains `what` (or, with `Method::Put`
/// and an empty `what`, the rename) with `replay`, once.
fn lose_once(what: &'static str, method: Method, replay: fn() -> Replay) -> super::fake::Lost {
    let mut done = false;
    Box::new(move |seen| {
        let hit = seen.method == method && seen.query.contains(what) && !done;
        done |= hit;
        hit.then(replay)
    })
}

#[test]
fn an_append_delivered_twice_is_harmless() {
    let data = csv(3000, true, false);
    let mut host = FakeHost::new(&data);
    let mut n = 0;
    host.lost = Some(Box::new(move |seen| {
        n += seen.query.contains("action=append") as u32;
        (seen.query.contains("action=append") && n % 2 == 1).then_some(Replay::Again)
    }));
    run(&mut host, &job(UpdateMode::Replace)).unwrap();
    assert_eq!(host.content(TARGET), Some(&data[..]));
}

#[test]
fn a_flush_that_succeeded_unseen_is_recognised() {
    let data = csv(100, false, false);
    let mut host = FakeHost::new(&data);
    host.lost = Some(lose_once("action=flush", Method::Patch, || {
        Replay::Answer(error(
            400,
            "InvalidFlushPosition",
            "The uploaded data is not contiguous.",
        ))
    }));
    let report = run(&mut host, &job(UpdateMode::Replace)).unwrap();
    assert_eq!(host.content(TARGET), Some(&data[..]));
    assert_eq!(report.file_size, data.len() as u64);
    assert!(host.logs.iter().any(|(_, m)| m.contains("had succeeded")));
}

#[test]
fn a_flush_refused_for_real_still_fails() {
    let (e, _) = failed_replace(&csv(100, false, false), |host| {
        host.fault = Some(Box::new(|_, seen| {
            seen.query.contains("action=flush").then(|| {
                Ok(error(
                    400,
                    "InvalidFlushPosition",
                    "The uploaded data is not contiguous.",
                ))
            })
        }));
    });
    assert!(
        matches!(e, JobError::Storage(ref s) if s.code == "InvalidFlushPosition"),
        "{e:?}"
    );
}

#[test]
fn an_append_mode_flush_that_succeeded_unseen_is_recognised() {
    let mut host = FakeHost::new(b"a\n2\n3\n");
    existing(&mut host, b"a\n1\n");
    // The retried flush meets the new ETag: 412 ConditionNotMet.
    host.lost = Some(lose_once("action=flush", Method::Patch, || Replay::Again));
    let report = run(&mut host, &job(UpdateMode::Append)).unwrap();
    assert_eq!(host.content(TARGET), Some(&b"a\n1\n2\n3\n"[..]));
    assert_eq!(report.file_size, 8);
    // Checked by reading the last block's range.
    assert!(host.seen.iter().any(|s| {
        s.method == Method::Get
            && s.headers
                .iter()
                .any(|(n, v)| n == "Range" && v == "bytes=4-7")
    }));
}

#[test]
fn an_append_mode_flush_refused_for_real_still_fails() {
    let mut host = FakeHost::new(b"a\n2\n");
    existing(&mut host, b"a\n1\n");
    host.fault = Some(Box::new(|_, seen| {
        seen.query
            .contains("action=flush")
            .then(|| Ok(error(412, "ConditionNotMet", "not met")))
    }));
    let e = run(&mut host, &job(UpdateMode::Append)).unwrap_err();
    assert!(
        matches!(e, JobError::Storage(ref s) if s.code == "ConditionNotMet"),
        "{e:?}"
    );
    assert_eq!(host.content(TARGET), Some(&b"a\n1\n"[..]));
}

#[test]
fn a_rename_that_succeeded_unseen_is_recognised() {
    let data = csv(100, false, false);
    let mut host = FakeHost::new(&data);
    existing(&mut host, b"old\n");
    host.lost = Some(lose_once("mode=legacy", Method::Put, || Replay::Again));
    run(&mut host, &job(UpdateMode::Replace)).unwrap();
    assert_eq!(host.content(TARGET), Some(&data[..]));
    assert!(!host.files.contains_key(TEMP));
}

#[test]
fn a_rename_whose_source_vanished_still_fails() {
    let mut host = FakeHost::new(&csv(100, false, false));
    existing(&mut host, b"old\n");
    host.fault = Some(Box::new(|_, seen| {
        seen.query.contains("mode=legacy").then(|| {
            Ok(error(
                404,
                "SourcePathNotFound",
                "The source path does not exist.",
            ))
        })
    }));
    let e = run(&mut host, &job(UpdateMode::Replace)).unwrap_err();
    assert!(
        matches!(e, JobError::Storage(ref s) if s.code == "SourcePathNotFound"),
        "{e:?}"
    );
    assert_eq!(host.content(TARGET), Some(&b"old\n"[..]));
    assert!(!host.files.contains_key(TEMP));
}

#[test]
fn a_repeated_create_and_delete_are_harmless() {
    let mut host = FakeHost::new(&csv(10, false, false));
    host.lost = Some(lose_once("resource=file", Method::Put, || Replay::Again));
    run(&mut host, &job(UpdateMode::Replace)).unwrap();
    assert_eq!(host.content(TARGET), Some(&csv(10, false, false)[..]));

    let (_, host) = failed_replace(b"a\n1\n\0\n", |host| {
        host.lost = Some(lose_once("", Method::Delete, || Replay::Again));
    });
    assert!(
        host.logs.iter().all(|(l, _)| *l != Level::Warn),
        "{:?}",
        host.logs
    );
}

#[test]
fn leftover_temporary_files_of_the_same_target_are_deleted() {
    let data = csv(10, false, false);
    let mut host = FakeHost::new(&data);
    host.list_page = 2;
    let keep = [
        "out/_other.csv.run-0.tmp",
        "out/sales.csv.bak",
        "out/_sales.csv.a.b.tmp",
    ];
    let gone = ["out/_sales.csv.run-0.tmp", "out/_sales.csv.20240101_x.tmp"];
    for path in keep.iter().chain(&gone).chain(&[TEMP]) {
        host.files.insert((*path).into(), File::default());
    }
    run(&mut host, &job(UpdateMode::Replace)).unwrap();
    for path in keep {
        assert!(host.files.contains_key(path), "{path} was deleted");
    }
    for path in gone {
        assert!(!host.files.contains_key(path), "{path} is still there");
        assert!(host.logs.iter().any(|(_, m)| m.contains(path)));
    }
    assert_eq!(host.content(TARGET), Some(&data[..]));
    let lists = host
        .seen
        .iter()
        .filter(|s| s.query.contains("resource=filesystem"))
        .count();
    assert_eq!(lists, 3, "6 files, 2 a page");
    assert!(
        host.seen[0].query.contains("directory=out&")
            || host.seen[0].query.ends_with("directory=out")
    );
}

#[test]
fn failing_to_clean_up_is_only_a_warning() {
    let data = csv(10, false, false);
    let mut host = FakeHost::new(&data);
    host.files
        .insert("out/_sales.csv.run-0.tmp".into(), File::default());
    host.fault = Some(Box::new(|_, seen| {
        (seen.method == Method::Delete)
            .then(|| Ok(error(403, "AuthorizationPermissionMismatch", "no")))
    }));
    run(&mut host, &job(UpdateMode::Replace)).unwrap();
    assert_eq!(host.content(TARGET), Some(&data[..]));
    assert!(
        host.logs
            .iter()
            .any(|(l, m)| *l == Level::Warn && m.contains("run-0"))
    );

    let mut host = FakeHost::new(&data);
    host.fault = Some(Box::new(|_, seen| {
        seen.query
            .contains("resource=filesystem")
            .then(|| Err(HttpError::Timeout("slow".into())))
    }));
    run(&mut host, &job(UpdateMode::Replace)).unwrap();
    assert!(
        host.logs
            .iter()
            .any(|(l, m)| *l == Level::Warn && m.contains("leftover"))
    );
}

#[test]
fn a_length_after_flush_that_differs_fails_before_the_rename() {
    let data = csv(100, false, false);
    let len = data.len();
    let (e, _) = failed_replace(&data, |host| {
        host.fault = Some(Box::new(move |_, seen| {
            (seen.method == Method::Head && seen.path == TEMP).then(|| {
                Ok(Response {
                    status: 200,
                    headers: vec![("Content-Length".into(), (len - 1).to_string())],
                    body: vec![],
                })
            })
        }));
    });
    match e {
        JobError::Storage(s) => assert!(s.message.contains("length after flush differs"), "{s:?}"),
        other => panic!("{other:?}"),
    }
}

/// Runs a replace of `data` with `strict`; the data error, after checking nothing was
/// written.
fn bad_input(data: &[u8], strict: bool) -> DataError {
    let mut host = FakeHost::new(data);
    existing(&mut host, b"old\n");
    host.read_size = 3;
    let mut job = job(UpdateMode::Replace);
    job.output.strict = strict;
    let e = run(&mut host, &job).unwrap_err();
    assert!(!host.files.contains_key(TEMP), "{e:?}");
    assert_eq!(host.content(TARGET), Some(&b"old\n"[..]));
    assert!(host.writes().iter().all(|w| !w.contains("flush")));
    match e {
        JobError::Data(e) => e,
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_input_fails_before_anything_is_published() {
    let e = bad_input(b"a,b\n1,2\n3,\0\n", false);
    assert_eq!((e.line, e.byte_offset), (3, 8));
    assert!(
        e.message.contains("NUL") && e.message.contains("byte 10"),
        "{}",
        e.message
    );
    let e = bad_input(b"a,b\n1,2\n3,\xE9t\xE9\n", false);
    assert_eq!((e.line, e.byte_offset), (3, 8));
    assert!(e.message.contains("not UTF-8"), "{}", e.message);
    let e = bad_input(b"a,b\n1,2\n3\n", true);
    assert!(
        e.message.contains("has 1 fields, but the header has 2"),
        "{}",
        e.message
    );
    let e = bad_input(b"a,b\n", false);
    assert_eq!(
        e.message.split(':').next(),
        Some("the dataset has a header but no rows")
    );
    let long = format!("a\n1\n\"{}\"\n2\n", "x".repeat(70_000));
    let e = bad_input(long.as_bytes(), false);
    assert_eq!(
        e.message,
        "record at line 3 is 70003 bytes, longer than output.block_size (65536): raise block_size"
    );
    // Bounded memory: the long record was never sent.
    let e = bad_input(format!("a\n1\n{}", "y".repeat(300_000)).as_bytes(), false);
    assert!(
        e.message.contains("to the end of the data"),
        "{}",
        e.message
    );
}

#[test]
fn ragged_rows_pass_unless_strict_and_a_header_alone_when_allowed() {
    let mut host = FakeHost::new(b"a,b\n1\n1,2,3\n");
    run(&mut host, &job(UpdateMode::Replace)).unwrap();
    assert_eq!(host.content(TARGET), Some(&b"a,b\n1\n1,2,3\n"[..]));

    let mut host = FakeHost::new(b"\xEF\xBB\xBFa,b\r\n");
    let mut job = job(UpdateMode::Replace);
    job.output.allow_empty = true;
    let report = run(&mut host, &job).unwrap();
    assert_eq!(host.content(TARGET), Some(&b"\xEF\xBB\xBFa,b\r\n"[..]));
    assert_eq!((report.rows, report.bytes), (0, 8));
}

#[test]
fn the_report_carries_the_sha256_of_the_bytes_written() {
    let mut host = FakeHost::new(b"a\n2\n");
    existing(&mut host, b"a\n1");
    let report = run(&mut host, &job(UpdateMode::Append)).unwrap();
    // The missing newline and the row: what this run wrote.
    assert_eq!(
        report.sha256,
        BASE64.encode(super::fake::digest(Algorithm::Sha256, b"\n2\n"))
    );
    assert_eq!(report.md5, md5_of(b"\n2\n"));
}
