//! End-to-end: the `adls-writeback` binary against the emulator on loopback.

use crate::support::{Harness, JobSpec, cli, generated_csv, md5_base64, run_json};

const DATASET: &str = "845305d8-da3d-4107-a9d6-13ef3f86d4a4";
const OWNER: u64 = 27; // the emulator's well-known Domo user
const STRANGER: u64 = 99;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_runs_against_the_embedded_emulator() {
    let job = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/quickstart.toml");
    let output = cli(&["run", job]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "exports/domo/845305d8-da3d-4107-a9d6-13ef3f86d4a4.csv",
        "rows       120",
        "md5",
        "ownership  owner (27)",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_dataset_lands_byte_identical() {
    let h = Harness::start().await;
    let csv = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/datasets/845305d8-da3d-4107-a9d6-13ef3f86d4a4.csv"
    ))
    .unwrap();
    h.add_dataset(DATASET, &csv, OWNER, &[]);
    let job = h.write_job(&JobSpec {
        dataset_id: DATASET.into(),
        ..Default::default()
    });
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["path"], format!("out/{DATASET}.csv"));
    assert_eq!(report["rows"], 120);
    assert_eq!(report["bytes"], csv.len() as u64);
    assert_eq!(report["md5"], md5_base64(&csv));
    assert_eq!(report["ownership"], "owner");
    assert_eq!(
        h.read_file(&format!("out/{DATASET}.csv")).await.unwrap(),
        csv
    );
    assert_eq!(
        h.list_files().await,
        [format!("out/{DATASET}.csv")],
        "no temporary file left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_megabytes_with_tricky_quoting_land_byte_identical() {
    let h = Harness::start().await;
    let csv = generated_csv(50 << 20, 42);
    h.add_dataset(DATASET, &csv, OWNER, &[]);
    let job = h.write_job(&JobSpec {
        dataset_id: DATASET.into(),
        output: "select_filename = \"file-name\"\nfile_name = \"big export\"\nblock_size = 4194304\nconcurrency = 4\n".into(),
        ..Default::default()
    });
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["path"], "big export.csv");
    assert!(report["blocks"].as_u64().unwrap() >= 12, "{report}");
    assert_eq!(report["md5"], md5_base64(&csv));
    let landed = h.read_file("big export.csv").await.unwrap();
    assert!(
        landed == csv,
        "the landed file differs from the source ({} vs {} bytes)",
        landed.len(),
        csv.len()
    );
}

/// Every documented block size × concurrency works: 128 MiB in flight and more used to trap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wide_pipelines_of_large_blocks_work() {
    let h = Harness::start().await;
    let csv = generated_csv(3 << 20, 7);
    h.add_dataset(DATASET, &csv, OWNER, &[]);
    for (block_size, concurrency) in [(8 << 20, 16), (2 << 20, 64), (100 << 20, 8)] {
        let name = format!("wide-{block_size}-{concurrency}");
        let job = h.write_job(&JobSpec {
            dataset_id: DATASET.into(),
            output: format!(
                "select_filename = \"file-name\"\nfile_name = \"{name}\"\n\
                 block_size = {block_size}\nconcurrency = {concurrency}\n"
            ),
            ..Default::default()
        });
        let (code, report, stderr) = run_json(&job).await;
        assert_eq!(code, 0, "{name}: {report}\n{stderr}");
        assert_eq!(report["md5"], md5_base64(&csv), "{name}");
        let landed = h.read_file(&format!("{name}.csv")).await.unwrap();
        assert!(
            landed == csv,
            "{name}: the landed file differs from the source"
        );
    }
    // Small blocks: many appends in flight at once.
    let job = h.write_job(&JobSpec {
        dataset_id: DATASET.into(),
        output: "select_filename = \"file-name\"\nfile_name = \"narrow\"\n\
                 block_size = 65536\nconcurrency = 64\n"
            .into(),
        ..Default::default()
    });
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert!(report["blocks"].as_u64().unwrap() > 40, "{report}");
    assert!(h.read_file("narrow.csv").await.unwrap() == csv);
}

/// A cap too small for the blocks in flight is refused before anything runs, by field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_cap_too_small_for_the_blocks_is_refused_up_front() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, b"a,b\n1,2\n", OWNER, &[]);
    let job = h.write_job(&JobSpec {
        dataset_id: DATASET.into(),
        output: "block_size = 16777216\nconcurrency = 32\n".into(),
        tables: "[limits]\nmemory_mib = 256\n".into(),
        ..Default::default()
    });
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 2, "{report}\n{stderr}");
    let text = report.to_string();
    for needle in [
        "limits.memory_mib",
        "output.block_size",
        "output.concurrency",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    assert!(h.list_files().await.is_empty(), "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_file_source_is_exported_too() {
    let h = Harness::start().await;
    let path = h.dir.path().join("local.csv");
    std::fs::write(&path, "a,b\n1,\"x,y\"\n").unwrap();
    let job = h.write_job(&JobSpec {
        local_file: Some(path),
        ..Default::default()
    });
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["path"], "out/local.csv");
    assert_eq!(report["ownership"], "not-applicable");
    assert_eq!(
        h.read_file("out/local.csv").await.unwrap(),
        b"a,b\n1,\"x,y\"\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_never_shows_readers_a_partial_or_empty_file() {
    let h = Harness::start().await;
    let old = generated_csv(1 << 20, 1);
    h.add_dataset(DATASET, &old, OWNER, &[]);
    let job = h.write_job(&JobSpec {
        dataset_id: DATASET.into(),
        output: "directory = \"out\"\nblock_size = 1048576\nconcurrency = 2\n".into(),
        ..Default::default()
    });
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    let target = format!("out/{DATASET}.csv");

    let new = generated_csv(30 << 20, 2);
    h.add_dataset(DATASET, &new, OWNER, &[]);
    let run = tokio::spawn({
        let job = job.clone();
        async move { run_json(&job).await }
    });
    let (mut reads, mut saw_old) = (0, 0);
    while !run.is_finished() {
        let seen = h
            .read_file(&target)
            .await
            .expect("the target never disappears");
        reads += 1;
        if seen == old {
            saw_old += 1;
        } else {
            assert!(
                seen == new,
                "a reader saw {} bytes: neither the old nor the new file",
                seen.len()
            );
        }
    }
    let (code, report, stderr) = run.await.unwrap();
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert!(
        saw_old > 0 && reads > saw_old / 2,
        "reads: {reads}, of the old file: {saw_old}"
    );
    assert_eq!(h.read_file(&target).await.unwrap(), new);
    assert_eq!(h.list_files().await, [target]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn co_owner_may_write_back_through_the_instance_api() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, b"x\n1\n", STRANGER, &[OWNER]);
    let job = h.write_job(&JobSpec {
        dataset_id: DATASET.into(),
        with_instance: true,
        ..Default::default()
    });
    let (code, report, stderr) = run_json(&job).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["ownership"], "co-owner");
}

/// Each case fails with a message naming its cause, and leaves no file behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_name_their_cause_and_write_nothing() {
    let h = Harness::start().await;
    h.add_dataset(DATASET, b"a,b\n1,2\n", OWNER, &[]);
    let unowned = "11111111-2222-4333-8444-555555555555";
    h.add_dataset(unowned, b"a,b\n1,2\n", STRANGER, &[31]);
    let unterminated = "22222222-2222-4333-8444-555555555555";
    h.add_dataset(unterminated, b"a,b\n1,2\n3,\"open\n4,5\n", OWNER, &[]);
    let cases = [
        (
            "wrong-secret",
            JobSpec {
                client_secret: "not-the-secret".into(),
                dataset_id: DATASET.into(),
                ..Default::default()
            },
            "auth",
            "AADSTS7000215",
        ),
        (
            "unknown-tenant",
            JobSpec {
                tenant_id: "0b0b0b0b-1111-4222-8333-444444444444".into(),
                dataset_id: DATASET.into(),
                ..Default::default()
            },
            "auth",
            "AADSTS90002",
        ),
        (
            "unknown-dataset",
            JobSpec {
                dataset_id: "33333333-2222-4333-8444-555555555555".into(),
                ..Default::default()
            },
            "source",
            "33333333-2222-4333-8444-555555555555",
        ),
        (
            "not-an-owner",
            JobSpec {
                dataset_id: unowned.into(),
                with_instance: true,
                ..Default::default()
            },
            "ownership",
            "neither owner nor co-owner",
        ),
        (
            "unterminated-quote",
            JobSpec {
                dataset_id: unterminated.into(),
                ..Default::default()
            },
            "data",
            "line 3",
        ),
    ];
    for (name, spec, kind, needle) in cases {
        let job = h.write_job(&JobSpec {
            name: name.into(),
            ..spec
        });
        let (code, failure, stderr) = run_json(&job).await;
        assert_eq!(code, 1, "{name}: {failure}\n{stderr}");
        assert_eq!(failure["kind"], kind, "{name}: {failure}");
        let message = failure["message"].as_str().unwrap();
        assert!(
            message.contains(needle),
            "{name}: `{needle}` not in `{message}`"
        );
        assert!(!message.contains(adls_writeback_emulator::well_known::CLIENT_SECRET));
        assert!(
            !stderr.contains("not-the-secret"),
            "{name}: a secret reached the log"
        );
        assert_eq!(
            h.list_files().await,
            Vec::<String>::new(),
            "{name} left a file behind"
        );
    }
    // The ownership failure names both sides.
    let job = h.write_job(&JobSpec {
        name: "not-an-owner".into(),
        dataset_id: unowned.into(),
        with_instance: true,
        ..Default::default()
    });
    let (_, failure, _) = run_json(&job).await;
    let message = failure["message"].as_str().unwrap();
    assert!(
        message.contains("27") && message.contains("99") && message.contains("31"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_lists_every_problem_at_once() {
    let h = Harness::start().await;
    let job = h.write_job(&JobSpec {
        dataset_id: "not-a-guid".into(),
        tenant_id: "-bad-".into(),
        output: "file_system = \"Bad_Name\"\nselect_filename = \"file-name\"\ndirectory = \"../up\"\nupdate = \"merge\"\n".into(),
        ..Default::default()
    });
    let output = cli(&["validate", job.to_str().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    for field in [
        "account.tenant_id",
        "source.dataset_id",
        "output.file_system",
        "output.directory",
        "output.file_name",
        "output.update",
    ] {
        assert!(stdout.contains(field), "`{field}` not listed in:\n{stdout}");
    }
    // `run` refuses the same job before any network call, writing nothing.
    let (code, answer, _) = run_json(&job).await;
    assert_eq!((code, answer["status"].as_str()), (2, Some("invalid")));
    assert!(h.list_files().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_emulator_is_trusted_through_ca_file_only() {
    let h = Harness::start_tls().await;
    h.add_dataset(DATASET, b"a,b\n1,2\n", OWNER, &[]);
    assert!(h.emulator.dfs_url().starts_with("https://"));

    // Without the emulator's CA, its certificate is refused and nothing is written.
    let untrusted = h.write_job(&JobSpec {
        name: "untrusted".into(),
        dataset_id: DATASET.into(),
        ..Default::default()
    });
    let (code, failure, stderr) = run_json(&untrusted).await;
    assert_eq!(code, 1, "{failure}\n{stderr}");
    let message = failure["message"].as_str().unwrap();
    assert!(message.contains("certificate"), "{message}");

    let ca = h.emulator.ca_file().unwrap();
    let trusted = h.write_job(&JobSpec {
        name: "trusted".into(),
        dataset_id: DATASET.into(),
        top: format!("ca_file = \"{}\"", ca.display()),
        ..Default::default()
    });
    let (code, report, stderr) = run_json(&trusted).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert!(
        report["url"].as_str().unwrap().starts_with("https://"),
        "{report}"
    );
    assert_eq!(
        h.read_file(&format!("out/{DATASET}.csv")).await.unwrap(),
        b"a,b\n1,2\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reads_the_published_file_back() {
    let h = Harness::start().await;
    let csv = generated_csv(3 << 20, 7);
    h.add_dataset(DATASET, &csv, OWNER, &[]);
    let job = h.write_job(&JobSpec {
        dataset_id: DATASET.into(),
        output: "directory = \"out\"\nblock_size = 1048576\n".into(),
        ..Default::default()
    });
    let output = cli(&["run", job.to_str().unwrap(), "--json", "--verify"]).await;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(report["md5"], md5_base64(&csv));

    // Append: the bytes this run added, read from the file's end.
    let more = b"a,b\n7,8\n9,10\n";
    let path = h.dir.path().join("more.csv");
    std::fs::write(&path, more).unwrap();
    let append = h.write_job(&JobSpec {
        name: "append".into(),
        local_file: Some(path),
        output: "file_name = \"log\"\nselect_filename = \"file-name\"\nupdate = \"append\"\n"
            .into(),
        ..Default::default()
    });
    let first = cli(&["run", append.to_str().unwrap(), "--verify"]).await;
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{stdout}");
    assert!(stdout.contains("  verified   "), "{stdout}");
    let second = cli(&["run", append.to_str().unwrap(), "--json", "--verify"]).await;
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(second.status.code(), Some(0), "{report}");
    assert_eq!(report["update"], "append");
    assert_eq!(report["verified"], true, "{report}");
    assert!(
        report["file_size"].as_u64() > report["bytes"].as_u64(),
        "{report}"
    );
    // Without --verify the report says nothing of it.
    let (code, report, _) = run_json(&append).await;
    assert_eq!(code, 0);
    assert!(report.get("verified").is_none(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_stops_the_run_and_publishes_nothing() {
    use adls_writeback_emulator::{Fault, FaultPlan, FaultRule, Operation, Service};
    let h = Harness::start().await;
    let csv = generated_csv(2 << 20, 3);
    h.add_dataset(DATASET, &csv, OWNER, &[]);
    let job = h.write_job(&JobSpec {
        dataset_id: DATASET.into(),
        output: "directory = \"out\"\nblock_size = 1048576\n".into(),
        ..Default::default()
    });
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        // Appends hang long enough for the signal to find the run in flight.
        h.emulator
            .set_faults(FaultPlan::new(vec![
                FaultRule::new(Fault::Slow { ms: 20_000 })
                    .service(Service::Dfs)
                    .operation(Operation::Append),
            ]))
            .unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_adls-writeback"))
            .args(["run", job.to_str().unwrap(), "--json"])
            .env("ADLS_WRITEBACK_LOG", "warn")
            .env("ADLS_WRITEBACK_HISTORY", "off")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while h.emulator.fault_counts().slow == 0 {
            assert!(std::time::Instant::now() < deadline, "no append started");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let pid = child.id().unwrap().to_string();
        let kill = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(kill.success());
        let output =
            tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
                .await
                .expect("the run stops promptly")
                .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(output.status.code(), Some(code), "SIG{signal}: {report}");
        assert_eq!(report["kind"], "cancelled", "{report}");
        let message = report["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("SIG{signal}")) && message.contains("nothing was published"),
            "{message}"
        );
        assert_eq!(h.read_file(&format!("out/{DATASET}.csv")).await, None);
    }
}
