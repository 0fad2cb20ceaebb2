//! Conformance of the emulator with Microsoft's own Data Lake SDK for Python: runs the
//! pytest suite in `tests/conformance/` against `adls-writeback emulator`. The SDK and
//! pytest are installed, pinned, into a virtual environment under the target folder on
//! first use, so `cargo test` needs nothing installed by hand beyond Python 3.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A venv with the suite's pinned requirements, made (or refreshed) when they change.
fn python_with_requirements() -> PathBuf {
    let requirements = repo_root().join("tests/conformance/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-venv");
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
    let python = python_with_requirements();
    let output = Command::new(python)
        .args([
            "-m",
            "pytest",
            "tests/conformance",
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
        "the conformance suite failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
