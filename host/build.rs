//! Builds the guest component (`guest/`, target `wasm32-wasip2`) so that building the host
//! is the only step a user ever runs. The component's bytes are embedded in the binary.
//!
//! Set `ADLS_WRITEBACK_GUEST_WASM=/path/to/component.wasm` to embed a prebuilt component
//! instead (for packagers who build the guest separately).
//!
//! The same nested build makes the test fixtures (`fixtures/`: hostile guests and guests
//! whose imports the audit refuses); they are copied to `$OUT_DIR/fixtures/<name>.wasm` and
//! the tests find them through `ADLS_WRITEBACK_FIXTURES_DIR`. They are tiny (a few seconds
//! of the nested build) and never embedded. With a prebuilt guest they are not built, and
//! the tests that need them say so.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "guest";
const ARTIFACT: &str = "adls_writeback_guest.wasm";
/// The fixture packages (`fixtures/<name>`), each built as `<package with _>.wasm`.
const FIXTURES: [(&str, &str); 4] = [
    ("hostile", "adls-writeback-hostile"),
    ("uses-fs", "adls-writeback-fixture-uses-fs"),
    ("uses-net", "adls-writeback-fixture-uses-net"),
    ("unknown-import", "adls-writeback-fixture-unknown-import"),
];

fn main() {
    let host_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = host_dir
        .parent()
        .expect("host/ sits in the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));

    println!("cargo:rerun-if-env-changed=ADLS_WRITEBACK_GUEST_WASM");
    let wasm = match env::var_os("ADLS_WRITEBACK_GUEST_WASM") {
        Some(prebuilt) => PathBuf::from(prebuilt),
        None => {
            for watched in [
                "guest",
                "wit",
                "fixtures",
                "patches",
                "Cargo.toml",
                "Cargo.lock",
                ".cargo",
            ] {
                println!("cargo:rerun-if-changed={}", root.join(watched).display());
            }
            let guest = build_guest(&root, &out_dir);
            copy_fixtures(guest.parent().expect("in a folder"), &out_dir);
            guest
        }
    };
    let embedded = out_dir.join(ARTIFACT);
    std::fs::copy(&wasm, &embedded)
        .unwrap_or_else(|e| panic!("copying the guest component {}: {e}", wasm.display()));
    println!(
        "cargo:rustc-env=ADLS_WRITEBACK_GUEST_WASM_PATH={}",
        embedded.display()
    );
    println!(
        "cargo:rustc-env=ADLS_WRITEBACK_FIXTURES_DIR={}",
        out_dir.join("fixtures").display()
    );
}

/// Copies the fixtures next to the guest's artifact into `$OUT_DIR/fixtures/<name>.wasm`.
fn copy_fixtures(artifacts: &Path, out_dir: &Path) {
    let dir = out_dir.join("fixtures");
    std::fs::create_dir_all(&dir).expect("creating $OUT_DIR/fixtures");
    for (name, package) in FIXTURES {
        let built = artifacts.join(format!("{}.wasm", package.replace('-', "_")));
        let copy = dir.join(format!("{name}.wasm"));
        std::fs::copy(&built, &copy)
            .unwrap_or_else(|e| panic!("copying the fixture {}: {e}", built.display()));
    }
}

/// Runs a nested `cargo build` of the guest and the fixtures. It needs a target directory
/// of its own: the outer build holds the lock on the shared one, so reusing it would
/// deadlock.
fn build_guest(root: &Path, out_dir: &Path) -> PathBuf {
    ensure_wasm_target();
    let target_dir = workspace_target_dir(out_dir).join("guest");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--package", "adls-writeback-guest"])
        .args(
            FIXTURES
                .iter()
                .flat_map(|(_, package)| ["--package", package]),
        )
        .args(["--target", TARGET])
        .args(["--profile", PROFILE, "--target-dir"])
        .arg(&target_dir)
        // The outer build's flags and wrappers (clippy, coverage) are for the host, not the guest.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .status()
        .expect("running cargo to build the guest component");
    assert!(
        status.success(),
        "building the guest component failed (see the errors above)"
    );
    target_dir.join(TARGET).join(PROFILE).join(ARTIFACT)
}

/// A fresh machine has the pinned toolchain but not its `wasm32-wasip2` standard library,
/// and `rust-toolchain.toml` alone does not install it.
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = sysroot.is_some_and(|s| s.join("lib/rustlib").join(TARGET).is_dir());
    if installed {
        return;
    }
    println!("cargo:warning=installing the {TARGET} target with rustup (needed once)");
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        added,
        "the {TARGET} Rust target is missing and `rustup target add {TARGET}` failed; \
         install it with your toolchain manager and build again"
    );
}

/// The workspace's target directory: the nearest ancestor of OUT_DIR that cargo marked
/// with `CACHEDIR.TAG`.
fn workspace_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .unwrap_or(out_dir)
        .to_path_buf()
}
