//! `adls-writeback completions SHELL` and `adls-writeback man [--out-dir DIR]`: shell
//! completions (clap_complete) and man pages (clap_mangen), generated from the CLI's own
//! definition so they never fall behind it.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

/// Writes `shell`'s completion script for `command` to standard output.
pub fn completions(
    mut command: clap::Command,
    shell: clap_complete::Shell,
) -> anyhow::Result<ExitCode> {
    let name = command.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut out);
    print(&out)
}

/// Writes `bytes` to standard output; a reader that went away (`| head`) is not an error.
fn print(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to standard output"))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Writes the man page of `command` to standard output or, with `out_dir`, one page per
/// command and subcommand into that folder (`adls-writeback.1`, `adls-writeback-run.1`,
/// `adls-writeback-accounts-add.1`, …), printing their paths.
pub fn man(command: clap::Command, out_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let mut command = command;
    command.build();
    let Some(dir) = out_dir else {
        let mut out = Vec::new();
        clap_mangen::Man::new(command).render(&mut out)?;
        return print(&out);
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the folder `{}`", dir.display()))?;
    for (name, page) in pages(&command, None) {
        let path = dir.join(format!("{name}.1"));
        let mut out = Vec::new();
        clap_mangen::Man::new(page).render(&mut out)?;
        std::fs::write(&path, out).with_context(|| format!("cannot write `{}`", path.display()))?;
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `command` and its subcommands, depth first, each named as its man page is
/// (`adls-writeback-accounts-add`); `help` is left out.
fn pages(command: &clap::Command, parent: Option<&str>) -> Vec<(String, clap::Command)> {
    let name = match parent {
        None => command.get_name().to_string(),
        Some(parent) => format!("{parent}-{}", command.get_name()),
    };
    let page = command.clone().name(name.clone());
    let mut all = vec![(name.clone(), page)];
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        all.extend(pages(sub, Some(&name)));
    }
    all
}
