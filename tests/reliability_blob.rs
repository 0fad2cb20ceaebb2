//! Reliability of the Blob path: the CLI writing into the emulator's flat-namespace account
//! (`account.endpoint = "auto"`, which picks Blob) under the emulator's faults on Put Block,
//! Put Block List, `HEAD` and Get Block List. Every run is checked by reading the blob and
//! its block list back with the faults off.
//!
//! `RELIABILITY_RUNS` sets the replace soak's run count (default 20 here, to keep CI short).

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use adls_writeback_emulator::{
    Emulator, Fault, FaultCounts, FaultPlan, FaultRule, Operation, Service, well_known,
};
use serde_json::Value;

use crate::reliability::{add, env_count};
use crate::support::azurite::ACCOUNT;
use crate::support::blob::{Answer, BlobClient, SharedKeyJob, flat_emulator};
use crate::support::{Cli, generated_csv, md5_base64};

const CONTAINER: &str = "soak";
/// The blob the jobs write, from the account URL.
const BLOB: &str = "soak/out/sales.csv";
/// Longest a single faulty run may take before the test gives up on it.
const RUN_DEADLINE: Duration = Duration::from_secs(180);

/// A fault aimed at one Blob request of a run, so that each kind of request meets each kind
/// of fault over a soak, whatever the random draws do.
struct Aimed {
    /// What the rule's name in a failure says.
    what: &'static str,
    rule: fn() -> FaultRule,
}

/// The aimed faults, one per run in turn: lost and refused Put Block List, dropped and
/// busy `HEAD` (the check after the commit, and an append's first look), Get Block List
/// busy and lost, a Put Block whose answer is lost.
const AIMED: [Aimed; 7] = [
    Aimed {
        what: "Put Block List answer lost",
        rule: || {
            FaultRule::new(Fault::DropResponse { body_bytes: None })
                .operation(Operation::Flush)
                .first(1)
        },
    },
    Aimed {
        what: "Put Block List dropped before it was processed",
        rule: || {
            FaultRule::new(Fault::DropRequest)
                .operation(Operation::Flush)
                .first(1)
        },
    },
    Aimed {
        what: "Put Block List 503",
        rule: || {
            FaultRule::new(Fault::ServerBusy { retry_after: None })
                .operation(Operation::Flush)
                .first(2)
        },
    },
    Aimed {
        what: "HEAD dropped",
        rule: || {
            FaultRule::new(Fault::DropRequest)
                .method("HEAD")
                .operation(Operation::Properties)
                .first(1)
        },
    },
    Aimed {
        what: "HEAD 500",
        rule: || {
            FaultRule::new(Fault::InternalError)
                .method("HEAD")
                .operation(Operation::Properties)
                .first(1)
        },
    },
    Aimed {
        what: "Get Block List 503 then its answer lost",
        rule: || {
            FaultRule::new(Fault::DropResponse {
                body_bytes: Some(16),
            })
            .method("GET")
            .operation(Operation::Properties)
            .nth([1, 2])
        },
    },
    Aimed {
        what: "Put Block answer lost",
        rule: || {
            FaultRule::new(Fault::DropResponse { body_bytes: None })
                .operation(Operation::Append)
                .nth([2])
        },
    },
];

/// The mix on every storage request (20% 503 `ServerBusy`, 5% dropped connections,
/// half before and half after processing), after `aimed`; drawn from `seed`.
fn faulty_blob(aimed: &Aimed, seed: u64) -> FaultPlan {
    FaultPlan::new(vec![
        (aimed.rule)().service(Service::Dfs),
        FaultRule::new(Fault::DropRequest)
            .service(Service::Dfs)
            .rate(0.025),
        FaultRule::new(Fault::DropResponse { body_bytes: None })
            .service(Service::Dfs)
            .rate(0.025),
        FaultRule::new(Fault::ServerBusy { retry_after: None })
            .service(Service::Dfs)
            .rate(0.21),
    ])
    .with_seed(seed)
}

/// The flat emulator, a client of its account, and a job at it with `update`.
struct Soak {
    _dir: tempfile::TempDir,
    emulator: Emulator,
    client: BlobClient,
    job: std::path::PathBuf,
    source: std::path::PathBuf,
}

impl Soak {
    async fn start(update: &str) -> Soak {
        let dir = tempfile::tempdir().unwrap();
        let emulator = flat_emulator(dir.path(), CONTAINER).await;
        let url = emulator.account_endpoint(ACCOUNT);
        let client = BlobClient::new(&url, ACCOUNT, well_known::ACCOUNT_KEY);
        let job = SharedKeyJob {
            account_url: &url,
            key: well_known::ACCOUNT_KEY,
            container: CONTAINER,
            update,
            block_size: 512 << 10,
        }
        .write(dir.path(), b"");
        let source = dir.path().join("data.csv");
        Soak {
            _dir: dir,
            emulator,
            client,
            job,
            source,
        }
    }

    /// Runs the job on `data` under `plan`; the exit code, report, stderr and the faults
    /// injected. The faults are off again afterwards.
    async fn run(&self, data: &[u8], plan: FaultPlan) -> (i32, Value, String, FaultCounts) {
        std::fs::write(&self.source, data).unwrap();
        self.emulator.set_faults(plan).unwrap();
        let (code, report, stderr) = run_within(&self.job).await;
        let counts = self.emulator.fault_counts();
        self.emulator.set_faults(FaultPlan::default()).unwrap();
        (code, report, stderr, counts)
    }

    /// The blob as a reader gets it.
    async fn read(&self) -> Answer {
        let got = self.client.get(BLOB, &[]).await;
        assert_eq!(got.status, 200, "{}", got.text());
        got
    }

    /// Checks that nothing but the committed blob shows: the container lists only the blob
    /// (no temporary name), and, after a commit, no staged block is left.
    async fn only_the_committed_blob(&self, after_commit: bool, run: usize) {
        let listed = self
            .client
            .get(&format!("{CONTAINER}?restype=container&comp=list"), &[])
            .await;
        assert_eq!(listed.status, 200, "{}", listed.text());
        let text = listed.text();
        let names: Vec<&str> = text
            .split("<Name>")
            .skip(1)
            .filter_map(|s| s.split("</Name>").next())
            .collect();
        assert_eq!(names, ["out/sales.csv"], "run {run}: {}", listed.text());
        if after_commit {
            let blocks = self
                .client
                .get(&format!("{BLOB}?comp=blocklist&blocklisttype=all"), &[])
                .await;
            assert_eq!(blocks.status, 200, "{}", blocks.text());
            assert!(
                !blocks.text().contains("<UncommittedBlocks><Block>"),
                "run {run}: staged blocks are left after the commit: {}",
                blocks.text()
            );
        }
    }
}

/// Runs `job` with `--json`, killed (and the test failed) after [`RUN_DEADLINE`].
async fn run_within(job: &Path) -> (i32, Value, String) {
    Cli::new(&[OsStr::new("run"), job.as_os_str(), OsStr::new("--json")])
        .deadline(RUN_DEADLINE)
        .json()
        .await
}

/// Each aimed fault alone fires in the run it is aimed at (Get Block List only exists in
/// an append) and the run recovers: a replace lands byte-exact, an append adds its rows once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_aimed_faults_each_fire_and_are_recovered() {
    for update in ["replace", "append"] {
        let soak = Soak::start(update).await;
        let first = generated_csv(1 << 20, 80);
        let (code, report, stderr, _) = soak.run(&first, FaultPlan::default()).await;
        assert_eq!(code, 0, "{report}\n{stderr}");
        let mut expected = first;
        for (i, aimed) in AIMED.iter().enumerate() {
            let csv = generated_csv(1 << 20, 81 + i as u64);
            let plan = FaultPlan::new(vec![(aimed.rule)().service(Service::Dfs)]);
            let (code, report, stderr, counts) = soak.run(&csv, plan).await;
            let what = format!("{update}, {}", aimed.what);
            assert_eq!(code, 0, "{what}: {report}\n{stderr}");
            let block_list = aimed.what.starts_with("Get Block List");
            if update == "append" || !block_list {
                assert!(counts.total() > 0, "{what}: the fault did not fire");
            }
            if update == "replace" {
                expected = csv;
            } else {
                let header = csv.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
                expected.extend_from_slice(&csv[header..]);
            }
            assert!(soak.read().await.body == expected, "{what}: not byte-exact");
            soak.only_the_committed_blob(true, i).await;
        }
    }
}

/// Consecutive replace runs of an 8 MB export, alternating two versions, under 20% 503s,
/// 5% dropped connections and one aimed fault each: every run lands its version byte-exact
/// with its MD5, or fails and leaves the previous version and its ETag as they were; no
/// staged block or uncommitted blob is ever visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_soak_under_faults_lands_byte_exact_or_leaves_the_old_blob() {
    let runs = env_count("RELIABILITY_RUNS", 20);
    let soak = Soak::start("replace").await;
    let versions = [generated_csv(8 << 20, 61), generated_csv(8 << 20, 62)];
    let (code, report, stderr, _) = soak.run(&versions[0], FaultPlan::default()).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["endpoint"], "blob", "{report}");
    let mut current = 0;
    let mut injected = FaultCounts::default();
    let (mut landed, mut failed) = (0, Vec::new());
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    for run in 0..runs {
        let aimed = &AIMED[run % AIMED.len()];
        let next = 1 - current;
        let before = soak.read().await;
        let t = Instant::now();
        let plan = faulty_blob(aimed, 0xb10b_0000 + run as u64);
        let (code, report, stderr, counts) = soak.run(&versions[next], plan).await;
        slowest = slowest.max(t.elapsed());
        add(&mut injected, counts);
        let after = soak.read().await;
        if code == 0 {
            landed += 1;
            assert!(
                after.body == versions[next],
                "run {run} ({}): succeeded but the blob holds {} bytes, not its version",
                aimed.what,
                after.body.len()
            );
            let md5 = md5_base64(&versions[next]);
            assert_eq!(report["md5"], md5, "run {run}: {report}");
            assert_eq!(after.header("content-md5"), Some(md5.as_str()), "run {run}");
            current = next;
        } else {
            assert!(
                after.body == versions[current] && after.header("etag") == before.header("etag"),
                "run {run} ({}) failed and changed the blob: {report}\n{stderr}",
                aimed.what
            );
            failed.push(format!("run {run} ({}): {}", aimed.what, report["message"]));
        }
        soak.only_the_committed_blob(code == 0, run).await;
    }
    eprintln!(
        "blob soak: {runs} runs of {} bytes in {:.1?} (slowest {slowest:.1?}): {landed} landed, \
         {} failed cleanly; faults injected: {injected:?}",
        versions[0].len(),
        started.elapsed(),
        failed.len()
    );
    // Retries absorb this mix: a failure would be a retry or recovery gap to look at.
    assert!(failed.is_empty(), "runs failed:\n{}", failed.join("\n"));
    assert!(
        injected.total() > 2 * runs as u64 && injected.server_busy > 0,
        "too few faults were injected to mean anything: {injected:?}"
    );
    assert!(
        injected.drop_request > 0 && injected.drop_response > 0 && injected.internal_error > 0,
        "not every kind of fault was injected: {injected:?}"
    );
}

/// Append runs through Blob under the same faults add each run's rows exactly once (a lost
/// answer to the `If-Match` commit is recognised, not committed twice), and no staged block
/// is left visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_appends_under_faults_add_every_row_exactly_once() {
    let soak = Soak::start("append").await;
    let mut expected = Vec::new();
    let mut injected = FaultCounts::default();
    for (run, aimed) in AIMED.iter().enumerate() {
        let csv = generated_csv(1 << 20, 700 + run as u64);
        if run == 0 {
            expected.extend_from_slice(&csv);
        } else {
            let header = csv.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
            expected.extend_from_slice(&csv[header..]);
        }
        let plan = faulty_blob(aimed, 0xa99e_b000 + run as u64);
        let (code, report, stderr, counts) = soak.run(&csv, plan).await;
        add(&mut injected, counts);
        assert_eq!(
            code, 0,
            "append run {run} ({}) failed: {report}\n{stderr}",
            aimed.what
        );
        let landed = soak.read().await.body;
        assert!(
            landed == expected,
            "after append run {run} ({}): {} bytes landed, {} expected (rows lost or added twice?)",
            aimed.what,
            landed.len(),
            expected.len()
        );
        soak.only_the_committed_blob(true, run).await;
    }
    eprintln!("blob append soak: faults injected: {injected:?}");
    assert!(injected.total() > 10, "too few faults: {injected:?}");
}

/// A replace whose Put Block List keeps failing (every attempt 500 `InternalError`), or
/// whose blocks keep being refused (503), fails naming the cause and leaves the old blob,
/// its content, ETag and block list, as it was; its staged blocks are never read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_replace_that_cannot_commit_leaves_the_old_blob_untouched() {
    let soak = Soak::start("replace").await;
    // Few retries, so that the failing runs end soon.
    let mut text = std::fs::read_to_string(&soak.job).unwrap();
    text.push_str("\n[http]\nmax_retries = 1\n");
    std::fs::write(&soak.job, text).unwrap();
    let old = generated_csv(2 << 20, 90);
    let (code, report, stderr, _) = soak.run(&old, FaultPlan::default()).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    let blocks = format!("{BLOB}?comp=blocklist&blocklisttype=committed");
    let before = soak.read().await;
    let committed = soak.client.get(&blocks, &[]).await.body;
    let cases = [
        (
            "Put Block List 500",
            FaultRule::new(Fault::InternalError).operation(Operation::Flush),
        ),
        (
            "Put Block 503",
            FaultRule::new(Fault::ServerBusy { retry_after: None }).operation(Operation::Append),
        ),
    ];
    for (what, rule) in cases {
        let new = generated_csv(2 << 20, 91);
        let plan = FaultPlan::new(vec![rule.service(Service::Dfs)]);
        let (code, failure, stderr, counts) = soak.run(&new, plan).await;
        assert_ne!(code, 0, "{what}: the run succeeded: {failure}");
        assert!(counts.total() > 0, "{what}: no fault fired");
        let message = failure["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("busy or failing"),
            "{what}: the failure does not say why: {failure}\n{stderr}"
        );
        let after = soak.read().await;
        assert!(after.body == old, "{what}: the failed run changed the blob");
        assert_eq!(after.header("etag"), before.header("etag"), "{what}");
        assert_eq!(
            soak.client.get(&blocks, &[]).await.body,
            committed,
            "{what}"
        );
        soak.only_the_committed_blob(false, 0).await;
    }
}
