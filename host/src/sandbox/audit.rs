//! What a component asks of this host, and whether this host grants it.
//!
//! [`audit`] lists a compiled component's imports and exports (each interface with its
//! functions and types, read from wasmtime's view of the component's type) and applies the
//! [`policy`] table to every import. A component is refused when it imports anything this
//! host would not grant, when it does not export the `writeback` world's `job` interface,
//! or when it does not link against this host. [`crate::sandbox::Sandbox::new`] runs the
//! same audit before it runs anything. The JSON form is documented in `docs/audit.md`.

mod listing;

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use listing::{Names, describe};

use crate::capabilities::log::{MAX_LINES_PER_RUN, MAX_MESSAGE};
use crate::job::Job;

/// Version of the JSON format; bumped only when a field changes meaning or goes away.
pub const FORMAT_VERSION: u32 = 1;

/// The contract's package and the versions this host implements.
const CONTRACT: &str = "adls:writeback";
const CONTRACT_VERSION: &str = "0.1.";
/// The WASI release this host serves.
const WASI_VERSION: &str = "0.2.";

/// The audit of one component.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Which component.
    pub component: ComponentInfo,
    /// `accepted` (this host would run it) or `refused`.
    pub verdict: Verdict,
    /// Why it is refused; empty when accepted.
    pub problems: Vec<String>,
    /// What the component imports, sorted by name, each with this host's decision.
    pub imports: Vec<Import>,
    /// What the component exports, sorted by name.
    pub exports: Vec<Export>,
    /// The concrete grants of a job (`audit --job`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<JobGrants>,
}

/// Identity of the audited component.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentInfo {
    /// Lowercase hex SHA-256 of the component's bytes (as in run reports).
    pub sha256: String,
    /// Size of the component in bytes.
    pub size_bytes: u64,
    /// `built-in`, or the path it was read from.
    pub source: String,
}

/// Whether this host would run the component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every import is granted and the component fits the contract.
    Accepted,
    /// At least one problem; `problems` says which.
    Refused,
}

/// What this host does with one import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Provided, under the stated policy.
    Granted,
    /// Not provided: a component importing it is not run.
    Refused,
}

/// One import of the component.
#[derive(Debug, Clone, Serialize)]
pub struct Import {
    /// The import's name, e.g. `adls:writeback/http@0.1.0` or `wasi:io/streams@0.2.4`.
    pub name: String,
    /// `instance`, `function`, `type`, `resource`, `module` or `component`.
    pub kind: &'static str,
    /// Granted or refused.
    pub decision: Decision,
    /// What the grant allows, or why it is refused, in words.
    pub policy: String,
    /// With `--job`: the concrete origins, credential kind or dataset granted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<String>,
    /// The functions the component uses from it.
    pub functions: Vec<Function>,
    /// The types it names.
    pub types: Vec<TypeDef>,
}

/// One export of the component.
#[derive(Debug, Clone, Serialize)]
pub struct Export {
    /// The export's name, e.g. `adls:writeback/job@0.1.0`.
    pub name: String,
    /// As for [`Import::kind`].
    pub kind: &'static str,
    /// The functions it offers.
    pub functions: Vec<Function>,
    /// The types it names.
    pub types: Vec<TypeDef>,
}

/// A function and its signature in WIT syntax.
#[derive(Debug, Clone, Serialize)]
pub struct Function {
    /// The component-model name: `send`, `[method]reader.read`, `[constructor]x`, …
    pub name: String,
    /// For example `func(refused: generation) -> result<generation, auth-error>`.
    pub signature: String,
}

/// A named type and its definition in WIT syntax.
#[derive(Debug, Clone, Serialize)]
pub struct TypeDef {
    /// The type's name, e.g. `header`.
    pub name: String,
    /// For example `record { name: string, value: string }`, or `resource`.
    pub definition: String,
}

/// What a job grants the component (`audit --job`).
#[derive(Debug, Clone, Serialize)]
pub struct JobGrants {
    /// The job's name.
    pub job: String,
    /// HTTP origins (`scheme://host:port`) requests may go to.
    pub origins: Vec<String>,
    /// The kind of storage credential the host authorizes the job's requests with
    /// (`client-secret`, `shared-key`, `sas`).
    pub credential: String,
    /// How the component meets that credential: never (the host adds it to each request).
    pub credential_seen_by_component: bool,
    /// The one dataset the source serves, e.g. `domo:<id>` or `file:<path>`.
    pub dataset: String,
}

impl JobGrants {
    /// The grants of `job`, exactly as a run computes them. A job with an `[emulator]`
    /// table reaches the in-process emulator, whose port is chosen when the run starts.
    pub fn of(job: &Job) -> JobGrants {
        let origins = if job.emulator.is_some() {
            vec!["http://127.0.0.1:<port of the in-process emulator>".to_string()]
        } else {
            crate::capabilities::http::granted_origins(job)
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        let dataset = match &job.source {
            crate::job::Source::Domo(d) => format!("domo:{}", d.dataset_id),
            crate::job::Source::LocalFile { path, .. } => format!("file:{}", path.display()),
        };
        JobGrants {
            job: job.name.clone(),
            origins,
            credential: job
                .account
                .credential
                .as_ref()
                .map_or("none", |c| c.kind().as_str())
                .to_string(),
            credential_seen_by_component: false,
            dataset,
        }
    }
}

impl Audit {
    /// True when this host would run the component.
    pub fn accepted(&self) -> bool {
        self.verdict == Verdict::Accepted
    }
}

/// Audits `component`: lists its imports and exports, applies the policy, checks that it
/// exports the contract's `job` interface and that it links against this host.
pub fn audit(
    engine: &Engine,
    component: &Component,
    info: ComponentInfo,
    job: Option<JobGrants>,
) -> Audit {
    let ty = component.component_type();
    let imported: Vec<(String, ComponentItem)> = ty
        .imports(engine)
        .map(|(name, item)| (name.to_string(), item.ty))
        .collect();
    let exported: Vec<(String, ComponentItem)> = ty
        .exports(engine)
        .map(|(name, item)| (name.to_string(), item.ty))
        .collect();
    // Every name the component's interfaces give, to name types that an interface uses
    // without naming them itself.
    let mut everywhere = Names::default();
    for (_, item) in imported.iter().chain(&exported) {
        everywhere.extend(Names::of(engine, item));
    }
    let mut problems = Vec::new();
    let mut imports: Vec<Import> = imported
        .iter()
        .map(|(name, item)| {
            let name = name.as_str();
            let (kind, functions, types) = describe(engine, item, &everywhere);
            let (decision, policy) = policy(name, kind);
            if decision == Decision::Refused {
                problems.push(format!(
                    "imports `{name}`, which this host refuses: {policy}"
                ));
            }
            let grants = match &job {
                Some(grants) if decision == Decision::Granted => grants_for(name, grants),
                _ => Vec::new(),
            };
            Import {
                name: name.to_string(),
                kind,
                decision,
                policy,
                grants,
                functions,
                types,
            }
        })
        .collect();
    let mut exports: Vec<Export> = exported
        .iter()
        .map(|(name, item)| {
            let (kind, functions, types) = describe(engine, item, &everywhere);
            Export {
                name: name.clone(),
                kind,
                functions,
                types,
            }
        })
        .collect();
    imports.sort_by(|a, b| a.name.cmp(&b.name));
    exports.sort_by(|a, b| a.name.cmp(&b.name));
    problems.sort();

    let exports_job = exports.iter().any(|e| {
        is_contract(&e.name, "job")
            && ["validate", "run"]
                .iter()
                .all(|f| e.functions.iter().any(|g| g.name == *f))
    });
    if !exports_job {
        problems.push(format!(
            "does not export `{CONTRACT}/job@{CONTRACT_VERSION}x` with `validate` and `run`: \
             it is not a writeback component (build it for the `writeback` world of wit/)"
        ));
    }
    if problems.is_empty()
        && let Err(e) = crate::sandbox::link(engine, component)
    {
        problems.push(format!("does not link against this host: {e:#}"));
    }
    Audit {
        format_version: FORMAT_VERSION,
        component: info,
        verdict: if problems.is_empty() {
            Verdict::Accepted
        } else {
            Verdict::Refused
        },
        problems,
        imports,
        exports,
        job,
    }
}

/// `name` is the contract's interface `interface` in a version this host implements.
fn is_contract(name: &str, interface: &str) -> bool {
    name.strip_prefix(CONTRACT)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.strip_prefix(interface))
        .and_then(|rest| rest.strip_prefix('@'))
        .is_some_and(|version| version.starts_with(CONTRACT_VERSION))
}

/// The policy table: this host's decision on an import of `kind` named `name`, and what it
/// grants or why not.
pub fn policy(name: &str, kind: &str) -> (Decision, String) {
    use Decision::{Granted, Refused};
    let granted = |p: &str| (Granted, p.to_string());
    let refused = |p: &str| (Refused, p.to_string());
    if kind == "type" {
        return granted("a type, no capability");
    }
    let Some((package, rest)) = name.split_once('/') else {
        return refused("not an interface this host knows (a bare import)");
    };
    let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
    if kind != "instance" {
        return refused("not an interface this host knows");
    }
    match package {
        CONTRACT if !version.starts_with(CONTRACT_VERSION) => refused(&format!(
            "this host implements {CONTRACT}@{CONTRACT_VERSION}x, not `{version}`"
        )),
        CONTRACT => match interface {
            "types" | "errors" => granted("types only, no functions"),
            "source" => granted("reads only the job's dataset"),
            "auth" => granted(
                "a generation number and a renewal of the job's storage credential; the \
                 credential (token, key, SAS, signature) never leaves the host, which adds it \
                 to each request to the job's origins",
            ),
            "http" => granted(
                "requests only to the job's origins (scheme, host and port); \
                 redirects are returned, never followed; request bodies the host holds count \
                 against the run's memory limit",
            ),
            "digest" => granted("MD5, SHA-256 and CRC-64 of bodies it handed over; nothing else"),
            "log" => granted(&format!(
                "log lines (at most {MAX_LINES_PER_RUN} per run, each cut at {} KiB) and progress",
                MAX_MESSAGE / 1024
            )),
            _ => refused("not an interface of the contract this host provides"),
        },
        "wasi:filesystem" => refused("no directory is ever preopened for a component"),
        "wasi:sockets" => refused(
            "no network access; HTTP goes through adls:writeback/http, which enforces the job's origins",
        ),
        "wasi:http" => refused(
            "outbound HTTP goes through adls:writeback/http, which enforces the job's origins",
        ),
        "wasi:io" | "wasi:clocks" | "wasi:random" | "wasi:cli"
            if !version.starts_with(WASI_VERSION) =>
        {
            refused(&format!(
                "this host serves WASI {WASI_VERSION}x, not `{version}`"
            ))
        }
        "wasi:io" => granted("streams and polling over what the other grants allow"),
        "wasi:clocks" => granted("reads the host's clock"),
        "wasi:random" => granted("random bytes"),
        "wasi:cli" => match interface {
            "environment" => granted("an empty environment, no arguments, no working directory"),
            "exit" => granted("exiting ends the run as a failure"),
            "stdin" => granted("an empty stdin"),
            "stdout" => granted("output is discarded"),
            "stderr" => granted("output is discarded; its last lines explain a failed run"),
            i if i.starts_with("terminal-") => granted("no terminal"),
            _ => refused("not a WASI interface this host serves"),
        },
        _ => refused("not an interface this host knows"),
    }
}

/// The concrete grants of an import under a job's policy.
fn grants_for(name: &str, job: &JobGrants) -> Vec<String> {
    if is_contract(name, "http") {
        job.origins.clone()
    } else if is_contract(name, "auth") {
        vec![format!(
            "{} (held by the host, never seen by the component)",
            job.credential
        )]
    } else if is_contract(name, "source") {
        vec![job.dataset.clone()]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_table_grants_the_contract_and_basic_wasi_only() {
        for (name, decision) in [
            ("adls:writeback/http@0.1.0", Decision::Granted),
            ("adls:writeback/auth@0.1.3", Decision::Granted),
            ("adls:writeback/source@0.1.0", Decision::Granted),
            ("adls:writeback/log@0.1.0", Decision::Granted),
            ("adls:writeback/types@0.1.0", Decision::Granted),
            ("adls:writeback/http@0.2.0", Decision::Refused),
            ("adls:writeback/job@0.1.0", Decision::Refused),
            ("wasi:io/streams@0.2.4", Decision::Granted),
            ("wasi:cli/environment@0.2.4", Decision::Granted),
            ("wasi:cli/terminal-stderr@0.2.4", Decision::Granted),
            ("wasi:clocks/monotonic-clock@0.2.4", Decision::Granted),
            ("wasi:io/streams@0.3.0", Decision::Refused),
            ("wasi:filesystem/preopens@0.2.4", Decision::Refused),
            ("wasi:filesystem/types@0.2.4", Decision::Refused),
            ("wasi:sockets/tcp@0.2.4", Decision::Refused),
            ("wasi:http/outgoing-handler@0.2.4", Decision::Refused),
            ("fixture:spy/exfiltrate", Decision::Refused),
            ("send-everything", Decision::Refused),
        ] {
            let (got, policy) = policy(name, "instance");
            assert_eq!(got, decision, "{name}: {policy}");
            assert!(!policy.is_empty(), "{name}");
        }
        assert_eq!(
            policy("adls:writeback/http@0.1.0", "function").0,
            Decision::Refused
        );
    }

    #[test]
    fn contract_names_match_by_interface_and_version() {
        assert!(is_contract("adls:writeback/job@0.1.0", "job"));
        assert!(is_contract("adls:writeback/job@0.1.9", "job"));
        assert!(!is_contract("adls:writeback/job@0.2.0", "job"));
        assert!(!is_contract("adls:writeback/jobs@0.1.0", "job"));
        assert!(!is_contract("adls:writeback/job", "job"));
    }
}
