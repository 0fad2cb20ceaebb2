//! Driver tests against the fake host.

use super::fake::{ENDPOINT, FakeHost, error};
use super::*;
use crate::model::{EndpointChoice, FileNaming, Principal, sample_job};

pub(super) const TARGET: &str = "out/sales.csv";
pub(super) const TEMP: &str = "out/_sales.csv.run-1.tmp";

pub(super) fn job(update: UpdateMode) -> Job {
    let mut job = sample_job();
    job.account.account_name = "acct".into();
    job.account.dfs_endpoint = ENDPOINT.into();
    job.output.directory = Some("out".into());
    job.output.naming = FileNaming::FileName("sales".into());
    job.output.update = update;
    job.output.block_size = 65536;
    job.output.concurrency = 2;
    job
}

/// A CSV of `rows` data rows (about 40 bytes each) with quoted fields holding commas and
/// newlines.
pub(super) fn csv(rows: usize, bom: bool, crlf: bool) -> Vec<u8> {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut out = String::new();
    if bom {
        out.push('\u{feff}');
    }
    out.push_str(&format!("id,name,amount{nl}"));
    for i in 0..rows {
        out.push_str(&format!(
            "{i},\"Customer, #{i}\nline two\",{}.{:02}{nl}",
            i * 7,
            i % 100
        ));
    }
    out.into_bytes()
}

pub(super) fn md5_of(data: &[u8]) -> String {
    super::fake::md5_base64(data)
}

#[test]
fn replace_writes_a_temporary_file_then_renames_it() {
    let data = csv(5000, true, true);
    let mut host = FakeHost::new(&data);
    host.files.insert(
        TARGET.into(),
        super::fake::File {
            committed: b"old\n".to_vec(),
            etag: 3,
            ..Default::default()
        },
    );
    let report = run(&mut host, &job(UpdateMode::Replace)).unwrap();

    assert_eq!(host.content(TARGET), Some(&data[..]));
    assert!(!host.files.contains_key(TEMP));
    assert_eq!(
        host.files[TARGET].content_md5.as_deref(),
        Some(&*md5_of(&data))
    );
    let blocks = data.len().div_ceil(65536) as u32;
    assert_eq!(
        report,
        Report {
            file_system: "exports".into(),
            path: TARGET.into(),
            url: format!("{ENDPOINT}/exports/out/sales.csv"),
            update: UpdateMode::Replace,
            rows: 5000,
            bytes: data.len() as u64,
            file_size: data.len() as u64,
            endpoint: EndpointChoice::Dfs,
            md5: md5_of(&data),
            sha256: BASE64.encode(super::fake::digest(Algorithm::Sha256, &data)),
            blocks: report.blocks,
            ownership: Ownership::Owner(Principal {
                id: "27".into(),
                name: "Dana Domo".into()
            }),
            dataset_name: "Sales".into(),
            files: vec![crate::model::WrittenFile {
                path: TARGET.into(),
                rows: 5000,
                bytes: data.len() as u64,
                md5: md5_of(&data),
                sha256: BASE64.encode(super::fake::digest(Algorithm::Sha256, &data)),
            }],
        }
    );
    assert!(
        report.blocks >= blocks && report.blocks <= blocks + 1,
        "{}",
        report.blocks
    );

    // The target is touched only by the final rename.
    let touched: Vec<usize> = host
        .seen
        .iter()
        .enumerate()
        .filter(|(_, s)| s.path == TARGET)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(touched, [host.seen.len() - 1]);
    let writes = host.writes();
    assert_eq!(writes[0], format!("Put {TEMP}?resource=file"));
    assert!(
        writes[1..writes.len() - 3]
            .iter()
            .all(|w| w.contains("action=append"))
    );
    assert_eq!(
        writes[writes.len() - 3],
        format!(
            "Patch {TEMP}?action=flush&position={}&close=true",
            data.len()
        )
    );
    // Then the properties every written file carries, before it is published.
    assert_eq!(
        writes[writes.len() - 2],
        format!("Patch {TEMP}?action=setProperties")
    );
    let properties = host.files[TARGET].properties.clone().unwrap();
    let sha256 = BASE64.encode(super::fake::digest(Algorithm::Sha256, &data));
    let want = [
        ("dataset_id", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
        ("run_id", "run-1"),
        ("rows", "5000"),
        ("sha256", sha256.as_str()),
    ]
    .map(|(name, value)| format!("{name}={}", BASE64.encode(value)))
    .join(",");
    assert_eq!(properties, want);
    assert_eq!(
        writes[writes.len() - 1],
        format!("Put {TARGET}?mode=legacy")
    );
    // The temporary file is created without If-None-Match: a retry truncates its own.
    let create = host.seen.iter().find(|s| s.path == TEMP).unwrap();
    assert!(create.headers.iter().all(|(n, _)| n != "If-None-Match"));

    // A token (from the host's cache) per block or request; progress after every block the
    // service acknowledged, rows and bytes growing.
    let blocks = report.blocks as usize;
    assert_eq!(host.ready_calls as usize, 1 + blocks + 3);
    assert_eq!(host.generation, 1);
    assert_eq!(host.progress.len(), blocks);
    assert_eq!(*host.progress.last().unwrap(), (5000, data.len() as u64));
    assert!(
        host.progress
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1)
    );
}

#[test]
fn a_retried_run_truncates_its_own_temporary_file() {
    let data = csv(10, false, false);
    let mut host = FakeHost::new(&data);
    host.files.insert(
        TEMP.into(),
        super::fake::File {
            committed: b"junk".to_vec(),
            ..Default::default()
        },
    );
    run(&mut host, &job(UpdateMode::Replace)).unwrap();
    assert_eq!(host.content(TARGET), Some(&data[..]));
}

fn dataset(owner: &str, co: &[&str], requester: Option<&str>) -> DatasetInfo {
    let p = |id: &str| Principal {
        id: id.into(),
        name: format!("user {id}"),
    };
    DatasetInfo {
        id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".into(),
        name: "Sales".into(),
        owner: (!owner.is_empty()).then(|| p(owner)),
        co_owners: co.iter().map(|id| p(id)).collect(),
        requester: requester.map(p),
        ..DatasetInfo::default()
    }
}

#[test]
fn ownership_failures_write_nothing() {
    let cases: &[(DatasetInfo, Option<&str>, &str)] = &[
        (
            dataset("27", &["28"], Some("31")),
            None,
            "user 31 (user 31) is neither owner nor co-owner",
        ),
        (
            dataset("27", &[], Some("27")),
            Some("31"),
            "the job names owner 31, but the source acts as user 27",
        ),
        (dataset("27", &[], None), None, "the job must name `owner`"),
    ];
    for (info, owner, want) in cases {
        let mut host = FakeHost::new(&csv(3, false, false));
        host.info = Ok(info.clone());
        let mut job = job(UpdateMode::Replace);
        job.owner = owner.map(str::to_owned);
        match run(&mut host, &job) {
            Err(JobError::Ownership(message)) => assert!(message.contains(want), "{message}"),
            other => panic!("{other:?}"),
        }
        assert!(host.seen.is_empty());
        assert_eq!(host.ready_calls, 0);
    }
}

#[test]
fn ownership_co_owner_and_not_applicable() {
    let mut host = FakeHost::new(&csv(3, false, false));
    host.info = Ok(dataset("27", &["31"], Some("31")));
    let report = run(&mut host, &job(UpdateMode::Replace)).unwrap();
    assert_eq!(
        report.ownership,
        Ownership::CoOwner(Principal {
            id: "31".into(),
            name: "user 31".into()
        })
    );

    let mut host = FakeHost::new(&csv(3, false, false));
    host.info = Ok(dataset("", &[], None));
    let report = run(&mut host, &job(UpdateMode::Replace)).unwrap();
    assert!(
        matches!(report.ownership, Ownership::NotApplicable(ref why) if why.contains("does not apply"))
    );
    assert_eq!(
        host.content(TARGET).map(<[u8]>::len),
        Some(csv(3, false, false).len())
    );
}

#[test]
fn an_invalid_job_calls_nothing() {
    let mut host = FakeHost::new(b"a\n");
    let mut job = job(UpdateMode::Replace);
    job.run_id = "bad id".into();
    job.output.concurrency = 0;
    match run(&mut host, &job) {
        Err(JobError::Invalid(errors)) => assert_eq!(errors.len(), 2),
        other => panic!("{other:?}"),
    }
    assert!(!host.described);
}

pub(super) fn existing(host: &mut FakeHost, content: &[u8]) {
    host.files.insert(
        TARGET.into(),
        super::fake::File {
            committed: content.to_vec(),
            etag: 5,
            ..Default::default()
        },
    );
}

#[test]
fn append_adds_rows_without_a_second_header() {
    let mut host = FakeHost::new(b"\xEF\xBB\xBFid,name\n3,c\n4,d\n");
    existing(&mut host, b"id,\"name\"\n1,a\n2,b\n");
    let report = run(&mut host, &job(UpdateMode::Append)).unwrap();
    assert_eq!(
        host.content(TARGET),
        Some(&b"id,\"name\"\n1,a\n2,b\n3,c\n4,d\n"[..])
    );
    assert_eq!(
        (report.rows, report.bytes, report.file_size, report.blocks),
        (2, 8, 26, 1)
    );
    assert_eq!(report.md5, md5_of(b"3,c\n4,d\n"));
    assert_eq!(report.update, UpdateMode::Append);
    let flush = host
        .seen
        .iter()
        .find(|s| s.query.contains("action=flush"))
        .unwrap();
    assert!(flush.headers.contains(&("If-Match".into(), "\"5\"".into())));
    assert!(flush.headers.iter().all(|(n, _)| n != "x-ms-content-md5"));
    assert_eq!(
        host.writes(),
        [
            "Patch out/sales.csv?action=append&position=18",
            "Patch out/sales.csv?action=flush&position=26&close=true"
        ]
    );
}

#[test]
fn append_adds_the_missing_newline() {
    for (old, new, want) in [
        (
            &b"a,b\r\n1,2"[..],
            &b"a,b\r\n3,4\r\n"[..],
            &b"a,b\r\n1,2\r\n3,4\r\n"[..],
        ),
        (b"a,b\n1,2", b"a,b\n3,4", b"a,b\n1,2\n3,4"),
        (b"a,b", b"a,b\n3,4\n", b"a,b\n3,4\n"),
    ] {
        let mut host = FakeHost::new(new);
        existing(&mut host, old);
        let report = run(&mut host, &job(UpdateMode::Append)).unwrap();
        assert_eq!(
            host.content(TARGET),
            Some(want),
            "{:?}",
            String::from_utf8_lossy(want)
        );
        assert_eq!(report.file_size, want.len() as u64);
        assert_eq!(report.bytes, (want.len() - old.len()) as u64);
    }
}

#[test]
fn append_to_a_large_file_reads_its_last_byte() {
    let old = csv(3000, false, false);
    assert!(old.len() > 65536);
    let mut host = FakeHost::new(b"id,name,amount\nx,y,z\n");
    existing(&mut host, &old[..old.len() - 1]); // no final newline
    run(&mut host, &job(UpdateMode::Append)).unwrap();
    let mut want = old.clone();
    want.extend_from_slice(b"x,y,z\n");
    assert_eq!(host.content(TARGET), Some(&want[..]));
    let ranges: Vec<&str> = host
        .seen
        .iter()
        .filter_map(|s| s.headers.iter().find(|(n, _)| n == "Range"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        ranges,
        [
            "bytes=0-65535".to_owned(),
            format!("bytes={}-{}", old.len() - 2, old.len() - 2)
        ]
    );
}

#[test]
fn append_with_another_header_fails_before_writing() {
    let mut host = FakeHost::new(b"id,name,extra\n3,c,x\n");
    existing(&mut host, b"id,name\n1,a\n");
    match run(&mut host, &job(UpdateMode::Append)) {
        Err(JobError::Data(e)) => {
            assert!(
                e.message.contains("`id,name,extra`") && e.message.contains("`id,name`"),
                "{}",
                e.message
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(host.writes(), Vec::<String>::new());
    assert_eq!(host.content(TARGET), Some(&b"id,name\n1,a\n"[..]));
}

#[test]
fn append_to_a_missing_file_writes_it_whole() {
    let data = csv(20, false, false);
    let mut host = FakeHost::new(&data);
    let report = run(&mut host, &job(UpdateMode::Append)).unwrap();
    assert_eq!(host.content(TARGET), Some(&data[..]));
    assert_eq!(report.rows, 20);
    assert_eq!(
        host.writes().last().unwrap(),
        &format!("Put {TARGET}?mode=legacy")
    );
}

#[test]
fn append_to_an_empty_file_writes_the_header_too() {
    let mut host = FakeHost::new(b"a\n1\n");
    existing(&mut host, b"");
    let report = run(&mut host, &job(UpdateMode::Append)).unwrap();
    assert_eq!(host.content(TARGET), Some(&b"a\n1\n"[..]));
    assert_eq!(report.rows, 1);
}

#[test]
fn append_of_a_header_only_dataset_writes_nothing() {
    let mut host = FakeHost::new(b"a,b\n");
    existing(&mut host, b"a,b\n1,2\n");
    let mut job = job(UpdateMode::Append);
    job.output.allow_empty = true;
    let report = run(&mut host, &job).unwrap();
    assert_eq!(
        (report.rows, report.bytes, report.blocks, report.file_size),
        (0, 0, 0, 8)
    );
    assert_eq!(host.writes(), Vec::<String>::new());
}

#[test]
fn append_fails_when_the_file_changed_meanwhile() {
    let mut host = FakeHost::new(b"a\n2\n");
    existing(&mut host, b"a\n1\n");
    host.fault = Some(Box::new(|_, seen| {
        seen.query.contains("action=flush").then(|| {
            Ok(error(
                412,
                "ConditionNotMet",
                "The condition specified using HTTP conditional header(s) is not met.",
            ))
        })
    }));
    match run(&mut host, &job(UpdateMode::Append)) {
        Err(JobError::Storage(e)) => {
            assert_eq!(
                (e.operation.as_str(), e.status, e.code.as_str()),
                ("flush", 412, "ConditionNotMet")
            );
            assert!(
                e.message.contains("RequestId:req-1") && e.message.contains("run again"),
                "{}",
                e.message
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(host.content(TARGET), Some(&b"a\n1\n"[..]));
}

/// Runs a replace over an existing target with `setup` injecting a failure; checks that
/// the temporary file is gone and the target unchanged, and returns the error.
pub(super) fn failed_replace(
    data: &[u8],
    setup: impl FnOnce(&mut FakeHost),
) -> (JobError, FakeHost) {
    let mut host = FakeHost::new(data);
    existing(&mut host, b"old\n");
    setup(&mut host);
    let e = run(&mut host, &job(UpdateMode::Replace)).unwrap_err();
    assert!(!host.files.contains_key(TEMP), "{e:?}");
    assert_eq!(host.content(TARGET), Some(&b"old\n"[..]), "{e:?}");
    assert!(
        host.writes()
            .iter()
            .all(|w| !w.starts_with(&format!("Put {TARGET}")))
    );
    (e, host)
}

#[test]
fn a_failing_append_deletes_the_temporary_file() {
    let mut appends = 0;
    let (e, host) = failed_replace(&csv(5000, false, false), |host| {
        host.fault = Some(Box::new(move |_, seen| {
            if !seen.query.contains("action=append") {
                return None;
            }
            appends += 1;
            (appends == 3).then(|| Ok(error(503, "ServerBusy", "The server is busy.")))
        }))
    });
    match e {
        JobError::Storage(e) => assert_eq!(
            (e.operation.as_str(), e.status, e.code.as_str()),
            ("append", 503, "ServerBusy")
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(host.writes().last().unwrap(), &format!("Delete {TEMP}?"));
    assert!(host.writes().iter().all(|w| !w.contains("flush")));
}

#[test]
fn a_connection_failure_deletes_the_temporary_file() {
    let (e, _) = failed_replace(&csv(50, false, false), |host| {
        host.fault = Some(Box::new(|_, seen| {
            seen.query
                .contains("action=flush")
                .then(|| Err(HttpError::Connection("reset".into())))
        }))
    });
    assert_eq!(e, JobError::Http(HttpError::Connection("reset".into())));
}

#[test]
fn an_unterminated_quote_deletes_the_temporary_file() {
    let (e, _) = failed_replace(b"a,b\n1,2\n3,\"oops\n4,5\n", |_| {});
    match e {
        JobError::Data(e) => assert_eq!((e.line, e.byte_offset), (3, 8)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_source_failure_deletes_the_temporary_file() {
    let (e, _) = failed_replace(&csv(5000, false, false), |host| {
        host.read_fails_at = Some(100_000)
    });
    assert_eq!(
        e,
        JobError::Source(SourceError::Unavailable("export stalled".into()))
    );
}

#[test]
fn an_empty_dataset_is_a_data_error() {
    let (e, _) = failed_replace(b"", |_| {});
    assert!(
        matches!(e, JobError::Data(ref d) if d.message.contains("empty")),
        "{e:?}"
    );
}

#[test]
fn errors_of_the_capabilities_pass_through() {
    let mut host = FakeHost::new(b"a\n");
    host.auth_error = Some(AuthError::Rejected("AADSTS7000215: invalid secret".into()));
    assert_eq!(
        run(&mut host, &job(UpdateMode::Replace)),
        Err(JobError::Auth(AuthError::Rejected(
            "AADSTS7000215: invalid secret".into()
        )))
    );

    let mut host = FakeHost::new(b"a\n");
    host.info = Err(SourceError::NotFound("no such DataSet".into()));
    assert_eq!(
        run(&mut host, &job(UpdateMode::Replace)),
        Err(JobError::Source(SourceError::NotFound(
            "no such DataSet".into()
        )))
    );

    let mut host = FakeHost::new(b"a\n");
    host.fault = Some(Box::new(|_, _| {
        Some(Ok(error(
            404,
            "FilesystemNotFound",
            "The specified filesystem does not exist.",
        )))
    }));
    match run(&mut host, &job(UpdateMode::Replace)) {
        Err(JobError::Storage(e)) => {
            assert_eq!(e.operation, "create temporary file");
            assert!(
                e.message.contains("create file system `exports`"),
                "{}",
                e.message
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn in_flight_blocks_are_bounded() {
    // Tiny reads, so many reads per block; concurrency 3 caps the appends in flight.
    let data = csv(8000, false, false);
    let mut host = FakeHost::new(&data);
    host.read_size = 1000;
    let mut job = job(UpdateMode::Replace);
    job.output.concurrency = 3;
    let report = run(&mut host, &job).unwrap();
    assert_eq!(host.content(TARGET), Some(&data[..]));
    assert!(report.blocks > 3, "{}", report.blocks);
    assert_eq!(host.pipeline_bound, Some(3));
    assert_eq!(host.most_in_flight, 3, "the pipeline is kept full");
    assert_eq!(host.progress.len(), report.blocks as usize);
}

#[test]
fn appends_answered_out_of_order_still_make_the_file() {
    let data = csv(8000, true, true);
    let mut host = FakeHost::new(&data);
    host.out_of_order = true;
    let mut job = job(UpdateMode::Replace);
    job.output.concurrency = 5;
    let report = run(&mut host, &job).unwrap();
    assert_eq!(host.content(TARGET), Some(&data[..]));
    assert_eq!(report.md5, md5_of(&data));
    assert_eq!(*host.progress.last().unwrap(), (8000, data.len() as u64));
}
