//! What ships beside the binary: shell completions and man pages generated from the CLI,
//! and the Kubernetes example's checks (`examples/kubernetes/check.sh`).

use std::process::Command;

fn adls(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_adls-writeback"))
        .args(args)
        .output()
        .unwrap()
}

const SUBCOMMANDS: [&str; 9] = [
    "run",
    "validate",
    "audit",
    "serve",
    "history",
    "accounts",
    "emulator",
    "completions",
    "man",
];

#[test]
fn completions_are_generated_for_every_shell_and_bash_completes_with_its_own() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = adls(&["completions", shell]);
        assert!(output.status.success(), "{shell}: {output:?}");
        let script = String::from_utf8(output.stdout).unwrap();
        // Options as each shell spells them (fish: `-l next`).
        for name in SUBCOMMANDS.iter().chain(&["next", "from", "color"]) {
            assert!(script.contains(name), "{shell}: `{name}` missing");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let bash = dir.path().join("adls-writeback.bash");
    std::fs::write(&bash, adls(&["completions", "bash"]).stdout).unwrap();
    // Sourced into bash, it registers its function, which completes `va` to `validate`.
    let check = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p adls-writeback && COMP_WORDS=(adls-writeback va) \
             COMP_CWORD=1 && _adls__writeback adls-writeback va adls-writeback && \
             echo \"reply: ${{COMPREPLY[*]}}\"",
            bash.display()
        ))
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{check:?}");
    assert!(shown.contains("-F _adls__writeback"), "{shown}");
    assert!(shown.contains("reply: validate"), "{shown}");

    let bad = adls(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("possible values"));
}

#[test]
fn man_pages_are_generated_and_render_without_warnings() {
    let page = adls(&["man"]);
    assert!(page.status.success());
    let text = String::from_utf8(page.stdout).unwrap();
    assert!(text.contains(".TH adls-writeback 1"), "{text}");
    for name in SUBCOMMANDS {
        assert!(text.contains(name), "`{name}` missing from the main page");
    }

    let dir = tempfile::tempdir().unwrap();
    let out = adls(&["man", "--out-dir", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let listed = String::from_utf8(out.stdout).unwrap();
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert_eq!(pages.len(), listed.lines().count());
    for name in SUBCOMMANDS {
        assert!(
            pages.contains(&format!("adls-writeback-{name}.1")),
            "{pages:?}"
        );
    }
    assert!(pages.contains(&"adls-writeback-accounts-test.1".to_string()));
    assert!(!pages.iter().any(|p| p.contains("help")), "{pages:?}");

    // groff (man-db's renderer) reads every page without a warning (-ww: all warnings;
    // -P-cbou: plain text, no bold or underline).
    for page in &pages {
        let rendered = Command::new("groff")
            .args(["-k", "-man", "-Tutf8", "-ww", "-P-cbou"])
            .arg(dir.path().join(page))
            .output()
            .expect("groff (Debian's groff-base, which man-db needs)");
        let warnings = String::from_utf8_lossy(&rendered.stderr);
        assert!(
            rendered.status.success() && warnings.is_empty(),
            "{page}: {warnings}"
        );
        let shown = String::from_utf8_lossy(&rendered.stdout);
        assert!(
            shown.contains("NAME") && shown.contains("SYNOPSIS"),
            "{page}"
        );
    }
    let validate = std::fs::read_to_string(dir.path().join("adls-writeback-validate.1")).unwrap();
    assert!(
        validate.contains("RFC 3339") && validate.contains("\\-\\-next"),
        "{validate}"
    );
}

/// The manifests pass kubernetes-validate (strict), the Dockerfile passes hadolint, and the
/// Dockerfile builds the README's binary; the script installs both tools, pinned, on first
/// use (from PyPI).
#[test]
fn kubernetes_example_passes_its_validators() {
    let script = super::repo_root().join("examples/kubernetes/check.sh");
    let output = Command::new("bash").arg(&script).output().unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "check.sh failed:\n{shown}");
    for needle in [
        "cronjob/sales-writeback against version 1.37",
        "configmap/sales-writeback",
        "Dockerfile passed",
        "builds the README's binary",
    ] {
        assert!(shown.contains(needle), "`{needle}` not in:\n{shown}");
    }
}
