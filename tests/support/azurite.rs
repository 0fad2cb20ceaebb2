//! Azurite, Microsoft's storage emulator (the `azurite` npm package as tests/azurite pins it),
//! as a child process: its Blob service on a free loopback port, a fresh location folder,
//! telemetry off; killed on drop. Plain HTTP with SharedKey, or HTTPS with a given
//! certificate and `--oauth basic` (bearer tokens, which Azurite accepts only over HTTPS).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

/// The account every Azurite serves.
pub const ACCOUNT: &str = "devstoreaccount1";
/// Its published well-known key (the same as the emulator's `well_known::ACCOUNT_KEY`).
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// How long Azurite gets to say it listens.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// What Azurite prints once its Blob listener is up, before the URL.
const LISTENING: &str = "successfully listens on ";

/// Serialises `npm ci` between tests starting Azurite at the same time.
static INSTALL: Mutex<()> = Mutex::new(());

/// A running Azurite Blob service.
pub struct Azurite {
    child: Child,
    origin: String,
    _location: tempfile::TempDir,
}

impl Azurite {
    /// Installs Azurite when missing, starts its Blob service over HTTP and waits until it
    /// listens.
    pub fn start() -> Azurite {
        Azurite::launch(&[])
    }

    /// Like [`start`](Azurite::start), over HTTPS with the PEM certificate `cert` and its
    /// key `key`, checking bearer tokens (`--oauth basic`: audience, issuer and lifetime,
    /// not the signature). SharedKey is still accepted.
    pub fn start_oauth(cert: &Path, key: &Path) -> Azurite {
        let (cert, key) = (cert.as_os_str(), key.as_os_str());
        Azurite::launch(&[
            "--cert".as_ref(),
            cert,
            "--key".as_ref(),
            key,
            "--oauth".as_ref(),
            "basic".as_ref(),
        ])
    }

    fn launch(extra: &[&std::ffi::OsStr]) -> Azurite {
        let package = install();
        let location = tempfile::tempdir().unwrap();
        let mut child = Command::new(package.join("node_modules/.bin/azurite-blob"))
            .args(["--blobHost", "127.0.0.1", "--blobPort", "0"])
            .args(extra)
            .arg("--location")
            .arg(location.path())
            // No usage reports to Azure's endpoint: no test reaches beyond this machine.
            .arg("--disableTelemetry")
            // The SDKs and our clients may send an API version newer than Azurite knows.
            .arg("--skipApiVersionCheck")
            .arg("--silent")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting azurite-blob (the tests need node)");
        let stdout = child.stdout.take().unwrap();
        let (found, origin) = mpsc::channel();
        // Reads the listening line, then keeps draining so Azurite never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.split(LISTENING).nth(1)
                    && let Some(found) = found.take()
                {
                    let _ = found.send(url.trim().trim_end_matches('/').to_string());
                }
            }
        });
        let origin = match origin.recv_timeout(START_DEADLINE) {
            Ok(origin) => origin,
            Err(_) => {
                let _ = child.kill();
                panic!("azurite-blob did not say it listens within {START_DEADLINE:?}");
            }
        };
        Azurite {
            child,
            origin,
            _location: location,
        }
    }

    /// `http(s)://127.0.0.1:PORT/devstoreaccount1`: the account's Blob endpoint (path style).
    pub fn account_url(&self) -> String {
        format!("{}/{ACCOUNT}", self.origin)
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `npm ci` in tests/azurite unless node_modules already holds what package-lock.json pins
/// (tests/ci-steps.sh installs it the same way); the package folder.
fn install() -> PathBuf {
    let package = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/azurite");
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let lock = std::fs::read(package.join("package-lock.json")).unwrap();
    let stamp = package.join("node_modules/.installed-lock");
    if std::fs::read(&stamp).ok() != Some(lock.clone()) {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&package)
            .status();
        assert!(
            installed.is_ok_and(|s| s.success()),
            "npm ci failed in {} (Azurite needs node and npm)",
            package.display()
        );
        std::fs::write(&stamp, lock).unwrap();
    }
    package
}
