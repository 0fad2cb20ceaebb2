//! Colours only on a terminal: a run piped to a file carries no escape byte, `--color
//! always` does, and on a terminal (a pseudo-terminal made by util-linux `script`) the log
//! is coloured unless `NO_COLOR` is set or `--color never` is given. The progress bar
//! likewise shows only on a terminal.

use std::path::Path;
use std::process::{Command, Stdio};

const ESC: u8 = 0x1b;

/// Whether `bytes` hold an SGR (colour) sequence, `ESC [ digits ; … m`. A progress bar
/// moves the cursor with other sequences, which are not colours.
fn has_colour(bytes: &[u8]) -> bool {
    bytes.windows(2).enumerate().any(|(i, w)| {
        w == [ESC, b'['] && {
            let rest = &bytes[i + 2..];
            let end = rest
                .iter()
                .position(|b| !(b.is_ascii_digit() || *b == b';'));
            end.is_some_and(|end| rest[end] == b'm')
        }
    })
}

/// `adls-writeback ARGS` with stdout and stderr into one file; returns the file's bytes.
fn run_into_file(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Vec<u8> {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_adls-writeback"));
    command
        .args(args)
        .env("ADLS_WRITEBACK_LOG", "info")
        .env("ADLS_WRITEBACK_HISTORY", "off")
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("ADLS_WRITEBACK_COLOR")
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file);
    for (k, v) in env {
        command.env(k, v);
    }
    let status = command.status().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&bytes)
    );
    bytes
}

/// `adls-writeback ARGS` on a pseudo-terminal; returns what the terminal showed.
fn run_on_terminal(args: &str, env: &[(&str, &str)]) -> Vec<u8> {
    let binary = env!("CARGO_BIN_EXE_adls-writeback");
    let mut command = Command::new("script");
    command
        .args(["-qec", &format!("{binary} {args}"), "/dev/null"])
        .env("ADLS_WRITEBACK_LOG", "info")
        .env("ADLS_WRITEBACK_HISTORY", "off")
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("ADLS_WRITEBACK_COLOR")
        .stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command
        .output()
        .expect("util-linux `script` makes the pseudo-terminal");
    let shown = [output.stdout, output.stderr].concat();
    assert!(
        output.status.success(),
        "{args}: {}",
        String::from_utf8_lossy(&shown)
    );
    shown
}

#[test]
fn the_log_is_coloured_only_on_a_terminal_without_no_color_or_when_forced() {
    let dir = tempfile::tempdir().unwrap();
    let job = super::scheduled_job(dir.path(), "colours", "kind = \"manual\"");
    let job = job.to_str().unwrap();

    // A run into a file: its log lines (the embedded emulator's, the guest's) are plain.
    let piped = run_into_file(dir.path(), "piped.log", &["run", job], &[]);
    let log = String::from_utf8_lossy(&piped);
    assert!(log.contains(" INFO ") && log.contains("Exported"), "{log}");
    assert!(
        !piped.contains(&ESC),
        "an escape byte in a piped run:\n{log}"
    );
    assert!(
        !log.contains("KiB/s"),
        "no progress bar into a file:\n{log}"
    );
    let never = run_into_file(
        dir.path(),
        "never.log",
        &["--color", "never", "run", job],
        &[],
    );
    assert!(!never.contains(&ESC));

    // Forced: colours even into a file, whatever NO_COLOR says.
    let forced = run_into_file(
        dir.path(),
        "always.log",
        &["run", job, "--color", "always"],
        &[("NO_COLOR", "1")],
    );
    assert!(has_colour(&forced), "{}", String::from_utf8_lossy(&forced));
    let by_env = run_into_file(
        dir.path(),
        "env.log",
        &["run", job],
        &[("ADLS_WRITEBACK_COLOR", "always")],
    );
    assert!(has_colour(&by_env));

    // On a terminal: coloured by default, plain with NO_COLOR or --color never.
    let validate = format!("validate {job}");
    let debug = [("ADLS_WRITEBACK_LOG", "debug")];
    let shown = run_on_terminal(&validate, &debug);
    assert!(has_colour(&shown), "{}", String::from_utf8_lossy(&shown));
    let no_color = run_on_terminal(
        &validate,
        &[("ADLS_WRITEBACK_LOG", "debug"), ("NO_COLOR", "1")],
    );
    assert!(
        String::from_utf8_lossy(&no_color).contains("DEBUG") && !has_colour(&no_color),
        "{}",
        String::from_utf8_lossy(&no_color)
    );
    let never = run_on_terminal(&format!("--color never {validate}"), &debug);
    assert!(!has_colour(&never), "{}", String::from_utf8_lossy(&never));
    // The progress bar, on a terminal only: `{rows} rows {bytes} ({rate})`.
    let run = run_on_terminal(&format!("run {job}"), &[]);
    let shown = String::from_utf8_lossy(&run);
    assert!(shown.contains("120 rows 7.86 KiB ("), "{shown}");
    let dumb = run_on_terminal(
        &validate,
        &[("ADLS_WRITEBACK_LOG", "debug"), ("TERM", "dumb")],
    );
    assert!(!has_colour(&dumb));

    let bad = Command::new(env!("CARGO_BIN_EXE_adls-writeback"))
        .args(["--color", "sometimes", "validate", job])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let message = String::from_utf8_lossy(&bad.stderr);
    assert!(
        message.contains("auto") && message.contains("never"),
        "{message}"
    );
}

#[test]
fn the_colour_check_tells_colours_from_cursor_moves() {
    assert!(has_colour(b"\x1b[2mtime\x1b[0m"));
    assert!(has_colour(b"x\x1b[1;31mred"));
    assert!(!has_colour(b"\x1b[2K\r\x1b[1A"), "erase line, cursor up");
    assert!(!has_colour(b"plain"));
}
