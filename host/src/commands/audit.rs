//! `adls-writeback audit [COMPONENT.wasm] [--job JOB.toml] [--json]`: what a component
//! imports and exports, and whether this host grants it. The formats are documented in
//! `docs/audit.md`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use crate::sandbox::audit::{Audit, Decision, JobGrants};
use crate::sandbox::{self, BUILTIN_GUEST};

/// Exit code of a component this host refuses.
pub const EXIT_REFUSED: u8 = 1;

/// Audits `component` (the built-in guest when `None`), with `job`'s concrete grants when
/// given; exit code 0 when this host would run it, 1 when it refuses it, 2 when the
/// component or the job file cannot be read.
pub async fn main(
    component: Option<&Path>,
    job: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (wasm, source) = match component {
        Some(path) => {
            let wasm = std::fs::read(path).map_err(|e| {
                anyhow::anyhow!("cannot read the component `{}`: {e}", path.display())
            })?;
            (wasm, path.display().to_string())
        }
        None => (BUILTIN_GUEST.to_vec(), "built-in".to_string()),
    };
    let grants = match job {
        Some(path) => Some(JobGrants::of(&super::load_job(path)?.0)),
        None => None,
    };
    let compiled = sandbox::compile(&wasm, &source)?;
    let audit =
        crate::sandbox::audit::audit(&compiled.engine, &compiled.component, compiled.info, grants);
    if json {
        println!("{}", serde_json::to_string_pretty(&audit)?);
    } else {
        print!("{}", text(&audit));
    }
    Ok(if audit.accepted() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_REFUSED)
    })
}

/// The audit as text for people.
pub fn text(audit: &Audit) -> String {
    let mut out = String::new();
    let c = &audit.component;
    let _ = writeln!(out, "Component  sha256:{}", c.sha256);
    let _ = writeln!(out, "  source   {} ({} bytes)", c.source, c.size_bytes);
    if audit.accepted() {
        let _ = writeln!(out, "Verdict    accepted: this host grants every import");
    } else {
        let _ = writeln!(out, "Verdict    refused: this host will not run it");
        for problem in &audit.problems {
            let _ = writeln!(out, "  - {problem}");
        }
    }
    if let Some(job) = &audit.job {
        let _ = writeln!(out, "\nJob `{}` grants", job.job);
        let _ = writeln!(out, "  origins  {}", list(&job.origins));
        let _ = writeln!(
            out,
            "  credential {} (the host authorizes each request; the component never sees it)",
            job.credential
        );
        let _ = writeln!(out, "  dataset  {}", job.dataset);
    }
    let _ = writeln!(out, "\nImports ({})", audit.imports.len());
    for import in &audit.imports {
        let (mark, decision) = match import.decision {
            Decision::Granted => ("ok", "granted"),
            Decision::Refused => ("NO", "refused"),
        };
        let _ = writeln!(out, "  [{mark}] {}", import.name);
        let _ = writeln!(out, "       {decision}: {}", import.policy);
        if !import.grants.is_empty() {
            let _ = writeln!(out, "       this job: {}", list(&import.grants));
        }
        items(&mut out, &import.functions, &import.types);
    }
    let _ = writeln!(out, "\nExports ({})", audit.exports.len());
    for export in &audit.exports {
        let _ = writeln!(out, "  {}", export.name);
        items(&mut out, &export.functions, &export.types);
    }
    out
}

fn items(
    out: &mut String,
    functions: &[crate::sandbox::audit::Function],
    types: &[crate::sandbox::audit::TypeDef],
) {
    for t in types {
        let _ = writeln!(out, "       type {} = {}", t.name, t.definition);
    }
    for f in functions {
        let _ = writeln!(out, "       {}: {}", f.name, f.signature);
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
