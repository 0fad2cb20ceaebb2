//! Reliability: the CLI against the emulator's faults (busy answers, dropped connections,
//! expiring tokens, lost answers to flush and rename) and against SIGKILL at random moments.
//! Every run is checked by reading the target back.
//!
//! `RELIABILITY_RUNS` (default 50) sets the soak's run count and `KILL_TRIALS` (default 20)
//! the kill test's trials, for local iteration; CI runs the defaults.

use std::time::{Duration, Instant};

use crate::support::{
    Harness, JobSpec, generated_csv, md5_base64, run_json_within, sha256_base64, spawn_run,
};
use adls_writeback_emulator::{Fault, FaultCounts, FaultPlan, FaultRule, Operation, Service};

const DATASET: &str = "845305d8-da3d-4107-a9d6-13ef3f86d4a4";
const OWNER: u64 = 27; // the emulator's well-known Domo user
/// Longest a single faulty run may take before the test gives up on it.
const RUN_DEADLINE: Duration = Duration::from_secs(180);

/// A count from the environment variable `name`, else `default`.
pub(crate) fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a count"))
        })
        .unwrap_or(default)
}

/// A small deterministic PRNG (xorshift64*), so that kill moments are reproducible.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

/// The fault mix on the DFS service: 20% 503 `ServerBusy`, 5% dropped connections
/// (half before the request is processed, half after), drawn from `seed`.
fn faulty_dfs(seed: u64) -> FaultPlan {
    FaultPlan::new(vec![
        FaultRule::new(Fault::DropRequest)
            .service(Service::Dfs)
            .rate(0.025),
        FaultRule::new(Fault::DropResponse { body_bytes: None })
            .service(Service::Dfs)
            .rate(0.025),
        // The drops fire first; 0.21 of the remaining 95% is 20% of all requests.
        FaultRule::new(Fault::ServerBusy { retry_after: None })
            .service(Service::Dfs)
            .rate(0.21),
    ])
    .with_seed(seed)
}

/// Adds the faults of one run to a total.
pub(crate) fn add(total: &mut FaultCounts, more: FaultCounts) {
    total.server_busy += more.server_busy;
    total.operation_timed_out += more.operation_timed_out;
    total.internal_error += more.internal_error;
    total.drop_request += more.drop_request;
    total.drop_response += more.drop_response;
    total.slow += more.slow;
}

/// Files whose name starts with `_` (temporary files) anywhere in the container.
fn temporary(files: &[String]) -> Vec<&String> {
    files
        .iter()
        .filter(|f| f.rsplit('/').next().unwrap_or(f).starts_with('_'))
        .collect()
}

/// Reads `path` with the faults switched off (the next run sets its plan again).
async fn read_back(h: &Harness, path: &str) -> Option<Vec<u8>> {
    h.emulator.set_faults(FaultPlan::default()).unwrap();
    h.read_file(path).await
}

/// 50 consecutive replace runs of a 20 MB export under 20% 503s, 5% dropped connections and
/// 5-second tokens all land byte-exact, each checked by a read-back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_faults_lands_byte_exact_every_time() {
    let runs = env_count("RELIABILITY_RUNS", 50);
    let h = Harness::start().await;
    let csv = generated_csv(20 << 20, 20);
    h.add_dataset(DATASET, &csv, OWNER, &[]);
    let job = h.write_job(&JobSpec {
        name: "soak".into(),
        dataset_id: DATASET.into(),
        output: "directory = \"soak\"\nblock_size = 1048576\nconcurrency = 4\n".into(),
        ..Default::default()
    });
    let target = format!("soak/{DATASET}.csv");
    h.emulator.set_token_lifetime(Duration::from_secs(5));
    let md5 = md5_base64(&csv);
    let sha256 = sha256_base64(&csv);
    let mut injected = FaultCounts::default();
    let mut durations = Vec::new();
    let started = Instant::now();
    for run in 0..runs {
        h.emulator
            .set_faults(faulty_dfs(0x50a4_0000 + run as u64))
            .unwrap();
        let t = Instant::now();
        let (code, report, stderr) = run_json_within(&job, RUN_DEADLINE).await;
        durations.push(t.elapsed());
        add(&mut injected, h.emulator.fault_counts());
        assert_eq!(code, 0, "run {run} of {runs} failed: {report}\n{stderr}");
        assert_eq!(report["md5"], md5, "run {run}: {report}");
        assert_eq!(report["sha256"], sha256, "run {run}: {report}");
        assert_eq!(report["bytes"], csv.len() as u64, "run {run}: {report}");
        let landed = read_back(&h, &target).await.expect("the target exists");
        assert!(
            landed == csv,
            "run {run}: the target differs from the source ({} vs {} bytes)",
            landed.len(),
            csv.len()
        );
        assert_eq!(md5_base64(&landed), md5, "run {run}");
    }
    h.emulator.set_faults(FaultPlan::default()).unwrap();
    let files = h.list_files().await;
    assert_eq!(files, [target], "only the target is left");
    let slowest = durations.iter().max().copied().unwrap_or_default();
    eprintln!(
        "soak: {runs} runs of {} bytes in {:.1?} (slowest run {slowest:.1?}); faults injected: {injected:?}",
        csv.len(),
        started.elapsed(),
    );
    assert!(
        injected.total() > 2 * runs as u64 && injected.server_busy > 0,
        "too few faults were injected to mean anything: {injected:?}"
    );
    assert!(
        injected.drop_request + injected.drop_response > 0,
        "no connection was dropped: {injected:?}"
    );
}

/// SIGKILL at random moments of a replace run never leaves a partial or missing target: it
/// holds the previous version or the new one, whole. The next clean run removes what the
/// killed runs left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_never_leaves_a_partial_target() {
    let trials = env_count("KILL_TRIALS", 20);
    let seed = env_count("KILL_SEED", 0x6b11) as u64;
    let h = Harness::start().await;
    let versions = [generated_csv(3 << 20, 101), generated_csv(3 << 20, 202)];
    assert_ne!(versions[0], versions[1]);
    let job = h.write_job(&JobSpec {
        name: "kill".into(),
        dataset_id: DATASET.into(),
        output: "directory = \"kill\"\nblock_size = 65536\nconcurrency = 2\n".into(),
        ..Default::default()
    });
    let target = format!("kill/{DATASET}.csv");

    // Version A lands cleanly; the appends are slowed so that a run lasts a while.
    h.add_dataset(DATASET, &versions[0], OWNER, &[]);
    let slow = FaultPlan::new(vec![
        FaultRule::new(Fault::Slow { ms: 25 })
            .service(Service::Dfs)
            .operation(Operation::Append),
    ]);
    h.emulator.set_faults(slow.clone()).unwrap();
    let t = Instant::now();
    let (code, report, stderr) = run_json_within(&job, RUN_DEADLINE).await;
    let duration = t.elapsed();
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert!(h.read_file(&target).await.unwrap() == versions[0]);

    let mut prng = Prng(seed | 1);
    let mut current = 0;
    let (mut kept_old, mut got_new, mut finished, mut killed) = (0, 0, 0, 0);
    // Until `trials` kills hit a running process (a run may end before its kill moment).
    let mut attempt = 0;
    while killed < trials {
        assert!(
            attempt < trials * 3,
            "only {killed} of {attempt} kills hit a running process"
        );
        attempt += 1;
        let next = 1 - current;
        h.add_dataset(DATASET, &versions[next], OWNER, &[]);
        // Every other kill anywhere in 0-110% of a clean run's duration, the others in
        // 70-110%, where the last appends, the flush and the rename happen.
        let span = duration.as_micros() as u64;
        let from = if attempt % 2 == 0 { span * 7 / 10 } else { 0 };
        let at = Duration::from_micros(from + prng.below(span * 11 / 10 - from));
        let mut child = spawn_run(&job);
        let exited = tokio::time::timeout(at, child.wait()).await.is_ok();
        if exited {
            finished += 1;
        } else {
            child.start_kill().unwrap();
            killed += 1;
        }
        let status = child.wait().await.unwrap();
        let landed = h
            .read_file(&target)
            .await
            .unwrap_or_else(|| panic!("attempt {attempt} (kill at {at:?}): the target is missing"));
        if landed == versions[current] {
            kept_old += 1;
        } else if landed == versions[next] {
            got_new += 1;
            current = next;
        } else {
            panic!(
                "attempt {attempt} (kill at {at:?}, {status}): the target holds {} bytes, \
                 neither the previous version ({} bytes) nor the new one ({} bytes)",
                landed.len(),
                versions[current].len(),
                versions[next].len()
            );
        }
    }
    eprintln!(
        "kill: {killed} kills in {attempt} runs of about {duration:.1?}: {kept_old} kept the \
         previous version, {got_new} got the new one, {finished} finished before the kill"
    );

    // A clean run succeeds and leaves nothing but the target.
    h.emulator.set_faults(FaultPlan::default()).unwrap();
    let next = 1 - current;
    h.add_dataset(DATASET, &versions[next], OWNER, &[]);
    let (code, report, stderr) = run_json_within(&job, RUN_DEADLINE).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert!(h.read_file(&target).await.unwrap() == versions[next]);
    let files = h.list_files().await;
    assert!(
        temporary(&files).is_empty(),
        "temporary files of killed runs are left: {files:?}"
    );
    assert_eq!(files, [target]);
}

/// Append runs under the same faults add each run's rows exactly once: no duplicate block,
/// no second header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_under_faults_adds_every_row_exactly_once() {
    let h = Harness::start().await;
    let job = h.write_job(&JobSpec {
        name: "append".into(),
        dataset_id: DATASET.into(),
        output: "directory = \"log\"\nupdate = \"append\"\nblock_size = 65536\nconcurrency = 4\n"
            .into(),
        ..Default::default()
    });
    let target = format!("log/{DATASET}.csv");
    h.emulator.set_token_lifetime(Duration::from_secs(5));
    let mut expected = Vec::new();
    let mut injected = FaultCounts::default();
    for run in 0..4u64 {
        let csv = generated_csv(1 << 20, 300 + run);
        h.add_dataset(DATASET, &csv, OWNER, &[]);
        if run == 0 {
            expected.extend_from_slice(&csv);
        } else {
            let header = csv.iter().position(|&b| b == b'\n').unwrap() + 1;
            expected.extend_from_slice(&csv[header..]);
        }
        h.emulator
            .set_faults(faulty_dfs(0xa99e_0000 + run))
            .unwrap();
        let (code, report, stderr) = run_json_within(&job, RUN_DEADLINE).await;
        add(&mut injected, h.emulator.fault_counts());
        assert_eq!(code, 0, "append run {run} failed: {report}\n{stderr}");
        let landed = read_back(&h, &target).await.expect("the target exists");
        assert!(
            landed == expected,
            "after append run {run}: {} bytes landed, {} expected (a block lost or appended twice?)",
            landed.len(),
            expected.len()
        );
    }
    eprintln!("append: faults injected: {injected:?}");
    assert!(injected.total() > 10, "too few faults: {injected:?}");
    assert_eq!(h.list_files().await, [target]);
}

/// A run that outlasts its storage token (2-second tokens, a run of more than 5 seconds)
/// refreshes the token and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expiring_mid_upload_is_refreshed() {
    let h = Harness::start().await;
    let csv = generated_csv(2 << 20, 5);
    h.add_dataset(DATASET, &csv, OWNER, &[]);
    let job = h.write_job(&JobSpec {
        name: "refresh".into(),
        dataset_id: DATASET.into(),
        output: "directory = \"out\"\nblock_size = 65536\nconcurrency = 1\n".into(),
        ..Default::default()
    });
    h.emulator.set_token_lifetime(Duration::from_secs(2));
    // 32 appends of 200 ms each, one at a time: more than 6 seconds.
    h.emulator
        .set_faults(FaultPlan::new(vec![
            FaultRule::new(Fault::Slow { ms: 200 })
                .service(Service::Dfs)
                .operation(Operation::Append),
        ]))
        .unwrap();
    let t = Instant::now();
    let (code, report, stderr) = run_json_within(&job, RUN_DEADLINE).await;
    let elapsed = t.elapsed();
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert!(
        elapsed > Duration::from_secs(5),
        "the run took only {elapsed:?}: it did not outlast its token"
    );
    let target = format!("out/{DATASET}.csv");
    assert!(read_back(&h, &target).await.unwrap() == csv);
    assert_eq!(report["md5"], md5_base64(&csv));
    assert_eq!(h.list_files().await, std::slice::from_ref(&target));

    // A token that is already expired when it arrives (its answer was delayed past its
    // lifetime): the first storage request is refused with 401, and the run gets a new one.
    h.emulator
        .set_faults(FaultPlan::new(vec![
            FaultRule::new(Fault::Slow { ms: 2500 })
                .service(Service::Login)
                .operation(Operation::Token)
                .first(1),
        ]))
        .unwrap();
    let csv = generated_csv(300 << 10, 6);
    h.add_dataset(DATASET, &csv, OWNER, &[]);
    let (code, report, stderr) = run_json_within(&job, RUN_DEADLINE).await;
    assert_eq!(h.emulator.fault_counts().slow, 1);
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert!(read_back(&h, &target).await.unwrap() == csv);
}

/// The answer to a flush or a rename is lost after the service did it: the run finds out
/// what happened, succeeds, and the file is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_to_flush_and_rename_are_resolved() {
    let h = Harness::start().await;
    let old = generated_csv(300 << 10, 8);
    let csv = generated_csv(1 << 20, 9);
    let lost = |operation: Operation, nth: Vec<u64>| {
        FaultRule::new(Fault::DropResponse { body_bytes: None })
            .service(Service::Dfs)
            .operation(operation)
            .nth(nth)
    };
    let cases = [
        (
            "replace-flush",
            "replace",
            vec![lost(Operation::Flush, vec![1])],
        ),
        (
            "replace-rename",
            "replace",
            vec![lost(Operation::Rename, vec![1])],
        ),
        (
            "replace-flush-and-rename-twice",
            "replace",
            vec![
                lost(Operation::Flush, vec![1, 2]),
                lost(Operation::Rename, vec![1, 2]),
            ],
        ),
        (
            "append-flush",
            "append",
            vec![lost(Operation::Flush, vec![1])],
        ),
        (
            "append-flush-twice",
            "append",
            vec![lost(Operation::Flush, vec![1, 2])],
        ),
    ];
    let mut failures = Vec::new();
    for (name, update, rules) in cases {
        let directory = name;
        let target = format!("{directory}/{DATASET}.csv");
        let job = h.write_job(&JobSpec {
            name: name.into(),
            dataset_id: DATASET.into(),
            output: format!(
                "directory = \"{directory}\"\nupdate = \"{update}\"\nblock_size = 65536\n"
            ),
            ..Default::default()
        });
        // The target exists before (for append: its rows come first).
        h.emulator.set_faults(FaultPlan::default()).unwrap();
        h.add_dataset(DATASET, &old, OWNER, &[]);
        let (code, report, stderr) = run_json_within(&job, RUN_DEADLINE).await;
        assert_eq!(code, 0, "{name}: the first run failed: {report}\n{stderr}");

        h.add_dataset(DATASET, &csv, OWNER, &[]);
        h.emulator.set_faults(FaultPlan::new(rules)).unwrap();
        let (code, report, stderr) = run_json_within(&job, RUN_DEADLINE).await;
        let counts = h.emulator.fault_counts();
        h.emulator.set_faults(FaultPlan::default()).unwrap();
        if counts.drop_response == 0 {
            failures.push(format!("{name}: no answer was lost: {counts:?}"));
        }
        if code != 0 {
            failures.push(format!("{name}: exit {code}: {report}\n{stderr}"));
            continue;
        }
        let expected = match update {
            "replace" => csv.clone(),
            _ => {
                let header = csv.iter().position(|&b| b == b'\n').unwrap() + 1;
                [&old[..], &csv[header..]].concat()
            }
        };
        let landed = h.read_file(&target).await;
        if landed.as_deref() != Some(&expected[..]) {
            failures.push(format!(
                "{name}: the target holds {:?} bytes, {} expected",
                landed.map(|l| l.len()),
                expected.len()
            ));
        }
        let files: Vec<String> = h
            .list_files()
            .await
            .into_iter()
            .filter(|f| f.starts_with(&format!("{directory}/")))
            .collect();
        if files != [target.clone()] {
            failures.push(format!("{name}: files left: {files:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 5 cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
