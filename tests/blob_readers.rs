//! Replace through the Blob endpoint while a reader loops: into Azurite and into the
//! emulator's flat account, a reader task GETs the blob again and again during several
//! replaces, and every body it sees is one whole version, never a mix or a part. (The DFS
//! variant is `e2e::replace_never_shows_readers_a_partial_or_empty_file`.)

use std::ffi::OsStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use adls_writeback_emulator::well_known;

use crate::support::azurite::{ACCOUNT, KEY};
use crate::support::blob::{BlobClient, SharedKeyJob, azurite_with_container, flat_emulator};
use crate::support::{Cli, generated_csv};

const CONTAINER: &str = "readers";
/// The blob the jobs write, from the account URL.
const BLOB: &str = "readers/out/sales.csv";
/// Replaces while the reader loops.
const REPLACES: usize = 4;

/// What the reader saw: when each read started, and which version it held.
type Reads = Vec<(Instant, usize)>;

/// Loops GETs of [`BLOB`] until `stop`; a body that is none of `versions` fails the test.
async fn read_until(
    client: BlobClient,
    versions: Arc<[Vec<u8>; 2]>,
    stop: Arc<AtomicBool>,
) -> Reads {
    let mut reads = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let got = client.get(BLOB, &[]).await;
        assert_eq!(got.status, 200, "the blob vanished: {}", got.text());
        let version = versions.iter().position(|v| *v == got.body);
        let Some(version) = version else {
            panic!(
                "a reader saw {} bytes: neither whole version ({} or {} bytes)",
                got.body.len(),
                versions[0].len(),
                versions[1].len()
            );
        };
        reads.push((started, version));
    }
    reads
}

/// Writes version 0, then replaces it [`REPLACES`] times (1, 0, 1, …) while a reader loops;
/// checks every read, that reads overlapped every run, and that only the blob is listed.
async fn replaces_while_a_reader_loops(account_url: &str, key: &str, client: &BlobClient) {
    let dir = tempfile::tempdir().unwrap();
    // Versions of different lengths, large enough that a run stages many blocks.
    let versions = Arc::new([generated_csv(6 << 20, 51), generated_csv(8 << 20, 52)]);
    let job = SharedKeyJob {
        account_url,
        key,
        container: CONTAINER,
        update: "replace",
        block_size: 256 << 10,
    };
    let run = |data: &[u8]| {
        let path = job.write(dir.path(), data);
        Cli::new(&[OsStr::new("run"), path.as_os_str(), OsStr::new("--json")]).json()
    };
    let (code, report, stderr) = run(&versions[0]).await;
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["endpoint"], "blob", "{report}");

    let stop = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn(read_until(client.clone(), versions.clone(), stop.clone()));
    let mut runs = Vec::new();
    for replace in 0..REPLACES {
        let next = (replace + 1) % 2;
        let started = Instant::now();
        let (code, report, stderr) = run(&versions[next]).await;
        runs.push((started, Instant::now(), next));
        assert_eq!(code, 0, "replace {replace}: {report}\n{stderr}");
        assert!(report["blocks"].as_u64().unwrap() > 16, "{report}");
    }
    stop.store(true, Ordering::Relaxed);
    let reads = reader.await.unwrap();
    for (replace, (started, ended, next)) in runs.iter().enumerate() {
        let during: Vec<usize> = reads
            .iter()
            .filter(|(at, _)| at > started && at < ended)
            .map(|(_, version)| *version)
            .collect();
        assert!(
            during.contains(&(1 - next)),
            "replace {replace}: no read started during the run saw the old version ({} reads)",
            during.len()
        );
    }
    eprintln!(
        "readers: {} whole reads during {REPLACES} replaces of {} / {} bytes",
        reads.len(),
        versions[0].len(),
        versions[1].len()
    );
    let last = runs.last().unwrap().2;
    assert!(client.get(BLOB, &[]).await.body == versions[last]);
    let listed = client
        .get(&format!("{CONTAINER}?restype=container&comp=list"), &[])
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(
        listed.text().matches("<Name>").count(),
        1,
        "only the blob is listed: {}",
        listed.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_replace_into_azurite_never_shows_a_reader_a_partial_blob() {
    let (azurite, client) = azurite_with_container(CONTAINER).await;
    replaces_while_a_reader_loops(&azurite.account_url(), KEY, &client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_replace_into_the_emulators_flat_account_never_shows_a_reader_a_partial_blob() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = flat_emulator(dir.path(), CONTAINER).await;
    let url = emulator.account_endpoint(ACCOUNT);
    let client = BlobClient::new(&url, ACCOUNT, well_known::ACCOUNT_KEY);
    replaces_while_a_reader_loops(&url, well_known::ACCOUNT_KEY, &client).await;
}
