//! Conformance of the emulator with Microsoft's own Data Lake SDK for Python:
//!
//! - `microsoft_data_lake_sdk_conformance` runs our pytest suite in `tests/conformance/` (an
//!   Entra ID token credential, an account key and a SAS made by the SDK);
//! - `microsoft_data_lake_sdk_own_test_suite` runs Microsoft's own tests of the SDK,
//!   unmodified, from the SDK's sdist at a pinned version, through the plugin and harness
//!   stand-in in `tests/datalake_suite/`, with the exceptions listed (with reasons) in
//!   `tests/datalake_suite/exceptions.txt`.
//!
//! Both run against `adls-writeback emulator`. The SDK and pytest are installed, pinned, into
//! virtual environments under the target folder on first use (the sdist is cached there too),
//! so `cargo test` needs nothing installed by hand beyond Python 3.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A venv named `name` under the target folder with the pinned requirements of
/// `requirements` (relative to the repository), made (or refreshed) when they change.
pub(crate) fn python_with_requirements(requirements: &str, name: &str) -> PathBuf {
    let requirements = repo_root().join(requirements);
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return python;
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "the conformance suite needs Python 3 with venv (apt-get install python3-venv)"
    );
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements)
        .status()
        .unwrap();
    assert!(
        installed.success(),
        "pip could not install {}",
        requirements.display()
    );
    std::fs::write(&stamp, wanted).unwrap();
    python
}

#[test]
fn microsoft_data_lake_sdk_conformance() {
    let python = python_with_requirements("tests/conformance/requirements.txt", "conformance-venv");
    pytest_passes(&python, "tests/conformance", "the conformance suite");
}

/// Runs the pytest suite in `folder` against the CLI's emulator and fails, with its output,
/// unless it passes.
fn pytest_passes(python: &Path, folder: &str, what: &str) {
    let output = Command::new(python)
        .args([
            "-m",
            "pytest",
            folder,
            "-q",
            "-p",
            "no:cacheprovider",
            "-rfE",
        ])
        .current_dir(repo_root())
        .env("ADLS_WRITEBACK_BIN", env!("CARGO_BIN_EXE_adls-writeback"))
        .env("ADLS_WRITEBACK_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The SDK release whose own tests run against the emulator.
const DATALAKE_SDK: &str = "azure-storage-file-datalake==12.26.1";

/// Microsoft's test files of the SDK that run, with their async twins (aiohttp transport).
/// The harness hands them the emulator's account key, so they sign with SharedKey and make
/// their SAS tokens with the SDK, as they do against Azure, and its Entra ID app's token
/// credential, with which they get user delegation keys for user delegation SAS;
/// SAS-only `test_sas.py` is listed as skipped.
const DATALAKE_TEST_FILES: [&str; 16] = [
    "test_content_validation.py",
    "test_content_validation_async.py",
    "test_cpk.py",
    "test_cpk_async.py",
    "test_datalake_service_client.py",
    "test_datalake_service_client_async.py",
    "test_directory.py",
    "test_directory_async.py",
    "test_file.py",
    "test_file_async.py",
    "test_file_system.py",
    "test_file_system_async.py",
    "test_large_file.py",
    "test_large_file_async.py",
    "test_quick_query.py",
    "test_sas.py",
];

/// The `tests/` folder of the pinned SDK's sdist, downloaded with pip and unpacked under the
/// target folder once.
fn datalake_sdk_tests(python: &Path) -> PathBuf {
    let (_, version) = DATALAKE_SDK.split_once("==").unwrap();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("datalake-sdist-{version}"));
    let tests = root.join(format!("azure_storage_file_datalake-{version}/tests"));
    if tests.join("settings/testcase.py").exists() {
        return tests;
    }
    let downloads = root.join("download");
    let downloaded = Command::new(python)
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--no-deps", "--no-binary", ":all:", "-d"])
        .arg(&downloads)
        .arg(DATALAKE_SDK)
        .status()
        .unwrap();
    assert!(
        downloaded.success(),
        "pip could not download the sdist of {DATALAKE_SDK}"
    );
    let archive = downloads.join(format!("azure_storage_file_datalake-{version}.tar.gz"));
    let unpacked = Command::new(python)
        .args([
            "-c",
            "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter='data')",
        ])
        .arg(&archive)
        .arg(&root)
        .status()
        .unwrap();
    assert!(unpacked.success(), "could not unpack {}", archive.display());
    assert!(
        tests.is_dir(),
        "the sdist has no tests folder at {}",
        tests.display()
    );
    tests
}

#[test]
fn microsoft_data_lake_sdk_own_test_suite() {
    let python = python_with_requirements(
        "tests/datalake_suite/requirements.txt",
        "datalake-suite-venv",
    );
    let tests = datalake_sdk_tests(&python);
    let suite = repo_root().join("tests/datalake_suite");
    let python_path = format!("{}:{}", suite.display(), suite.join("harness").display());
    let output = Command::new(python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "emulator_plugin",
            "-rfEX",
        ])
        .arg("-c")
        .arg(suite.join("pytest.ini"))
        .arg("--rootdir")
        .arg(&tests)
        .arg("--exceptions")
        .arg(suite.join("exceptions.txt"))
        .arg("--emulator-bin")
        .arg(env!("CARGO_BIN_EXE_adls-writeback"))
        .args(DATALAKE_TEST_FILES)
        .current_dir(&tests)
        .env("PYTHONPATH", python_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "Microsoft's Data Lake test suite has failures not listed in \
         tests/datalake_suite/exceptions.txt (or listed ones that now pass):\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn domo_python_sdk_conformance() {
    let python = python_with_requirements("tests/pydomo/requirements.txt", "pydomo-venv");
    pytest_passes(&python, "tests/pydomo", "pydomo against the emulator");
}

/// `adls-writeback emulator --in-memory --json` on ephemeral ports, stopped when dropped.
struct EmulatorProcess {
    child: std::process::Child,
    info: serde_json::Value,
    _data: PathBuf,
}

impl EmulatorProcess {
    fn start(name: &str) -> Self {
        use std::io::BufRead as _;
        let data = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-emulator"));
        let _ = std::fs::remove_dir_all(&data);
        let mut child = Command::new(env!("CARGO_BIN_EXE_adls-writeback"))
            .args(["emulator", "--in-memory", "--json", "--data-dir"])
            .arg(&data)
            .args(["--dfs-port", "0", "--login-port", "0", "--domo-port", "0"])
            .args(["--admin-port", "0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let info = serde_json::from_str(&line).expect("the emulator prints its endpoints");
        Self {
            child,
            info,
            _data: data,
        }
    }

    fn get(&self, key: &str) -> &str {
        self.info[key].as_str().unwrap()
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn microsoft_js_data_lake_sdk_conformance() {
    let suite = repo_root().join("tests/js_sdk");
    // The SDK as package-lock.json pins it (tests/ci-steps.sh installs it the same way).
    let lock = std::fs::read(suite.join("package-lock.json")).unwrap();
    let stamp = suite.join("node_modules/.installed-lock");
    if std::fs::read(&stamp).ok() != Some(lock.clone()) {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&suite)
            .status();
        assert!(
            installed.is_ok_and(|s| s.success()),
            "npm ci failed in {} (the JS suite needs node and npm)",
            suite.display()
        );
        std::fs::write(&stamp, lock).unwrap();
    }
    let emulator = EmulatorProcess::start("js-sdk");
    let output = Command::new("node")
        .args(["--test", "datalake.test.mjs"])
        .current_dir(&suite)
        .env("NODE_EXTRA_CA_CERTS", emulator.get("ca_file"))
        .env("EMULATOR_ACCOUNT_URL", emulator.get("account_url"))
        .env("EMULATOR_AUTHORITY", emulator.get("authority"))
        .env("EMULATOR_TENANT_ID", emulator.get("tenant_id"))
        .env("EMULATOR_CLIENT_ID", emulator.get("client_id"))
        .env("EMULATOR_CLIENT_SECRET", emulator.get("client_secret"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the JS SDK suite failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
