//! The sandbox: compiles the guest component once (and caches the compiled form on disk),
//! audits it (`crate::sandbox::audit`: a component importing anything this host would not grant is
//! refused before it runs), then runs each job in a fresh store with a memory cap, a
//! wall-time limit, an optional fuel budget and WASI that grants nothing.

pub mod audit;
pub mod limits;
pub mod state;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{CallHook, Config, Engine, Store};

use crate::capabilities::Capabilities;
use crate::capabilities::bindings::{
    Writeback, WritebackPre, exports::adls::writeback::job as wit_job, types,
};
use crate::sandbox::state::RunState;
use audit::{Audit, ComponentInfo};
pub use limits::RunError;

/// The built-in guest component, built from `guest/` by the host's build script.
pub const BUILTIN_GUEST: &[u8] = include_bytes!(env!("ADLS_WRITEBACK_GUEST_WASM_PATH"));

/// How often the epoch advances; run-time limits are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(50);

/// A compiled, audited guest, ready to instantiate once per run.
pub struct Sandbox {
    /// The component compiled without fuel metering, for runs without a fuel budget.
    plain: Linked,
    /// The component compiled with fuel metering (which costs the guest ~10% of its
    /// speed), made on the first run with a fuel budget.
    metered: OnceLock<Result<Linked, String>>,
    wasm: Arc<[u8]>,
    component_sha256: String,
    /// The engines whose epoch the ticker thread advances.
    ticking: Arc<Mutex<Vec<Engine>>>,
    ticker: Arc<AtomicBool>,
}

/// A component linked for one engine.
struct Linked {
    engine: Engine,
    pre: WritebackPre<RunState>,
}

/// The caps of one run's store.
#[derive(Debug, Clone, Copy)]
pub struct RunLimits {
    /// Linear memory the guest may grow to, in bytes.
    pub memory_bytes: usize,
    /// Wall time for the whole run, host calls included.
    pub timeout: Duration,
    /// Fuel (roughly, WebAssembly instructions) the run may use; unlimited when `None`.
    pub fuel: Option<u64>,
}

/// Why a component cannot be made into a [`Sandbox`].
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The component file could not be read.
    #[error("cannot read the component `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a WebAssembly component wasmtime can compile.
    #[error(
        "cannot compile the component: {0} (is it a component built for wasm32-wasip2, not a core module?)"
    )]
    Compile(String),
    /// The audit refused it; `adls-writeback audit` shows the whole picture.
    #[error(
        "this host refuses the component sha256:{}: {} (run `adls-writeback audit` on it for details)",
        .0.component.sha256,
        .0.problems.join("; ")
    )]
    Refused(Box<Audit>),
    /// The engine or the linker could not be set up.
    #[error("cannot set up the sandbox: {0}")]
    Setup(String),
}

impl Sandbox {
    /// The built-in guest.
    pub fn builtin() -> Result<Sandbox, SandboxError> {
        Sandbox::new(BUILTIN_GUEST)
    }

    /// The component in the file `path`, after the same audit as any other.
    pub fn from_file(path: &Path) -> Result<Sandbox, SandboxError> {
        let wasm = std::fs::read(path).map_err(|source| SandboxError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Sandbox::with_source(&wasm, &path.display().to_string())
    }

    /// Compiles (or loads from the cache) `wasm`, audits it and links it against this
    /// host's capabilities. Fails if the audit refuses it.
    pub fn new(wasm: &[u8]) -> Result<Sandbox, SandboxError> {
        let source = if wasm == BUILTIN_GUEST {
            "built-in"
        } else {
            "bytes"
        };
        Sandbox::with_source(wasm, source)
    }

    fn with_source(wasm: &[u8], source: &str) -> Result<Sandbox, SandboxError> {
        let compiled = compile(wasm, source)?;
        let audit = audit::audit(&compiled.engine, &compiled.component, compiled.info, None);
        if !audit.accepted() {
            return Err(SandboxError::Refused(Box::new(audit)));
        }
        let engine = compiled.engine;
        let pre = link(&engine, &compiled.component).map_err(|e| setup(&e))?;
        let ticking = Arc::new(Mutex::new(vec![engine.clone()]));
        let ticker = Arc::new(AtomicBool::new(true));
        let (engines, running) = (ticking.clone(), ticker.clone());
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while running.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    for engine in engines.lock().expect("not poisoned").iter() {
                        engine.increment_epoch();
                    }
                }
            })
            .map_err(|e| SandboxError::Setup(format!("starting the epoch ticker: {e}")))?;
        Ok(Sandbox {
            plain: Linked { engine, pre },
            metered: OnceLock::new(),
            wasm: wasm.into(),
            component_sha256: audit.component.sha256,
            ticking,
            ticker,
        })
    }

    /// The variant for a run with (`metered`) or without a fuel budget.
    fn linked(&self, metered: bool) -> Result<&Linked, RunError> {
        if !metered {
            return Ok(&self.plain);
        }
        let linked = self.metered.get_or_init(|| {
            let engine = engine(true).map_err(|e| e.to_string())?;
            let component = load_component(&engine, &self.wasm, &self.component_sha256)
                .map_err(|e| format!("{e:#}"))?;
            let pre = link(&engine, &component).map_err(|e| format!("{e:#}"))?;
            self.ticking
                .lock()
                .expect("not poisoned")
                .push(engine.clone());
            Ok(Linked { engine, pre })
        });
        linked
            .as_ref()
            .map_err(|e| RunError::Trap(format!("compiling the component with fuel metering: {e}")))
    }

    /// SHA-256 (hex) of the component's bytes, for reports and audits.
    pub fn component_sha256(&self) -> &str {
        &self.component_sha256
    }

    /// Asks the guest to validate `job`. The guest gets no capabilities for this.
    pub async fn validate(
        &self,
        job: &types::Job,
    ) -> Result<Vec<types::ValidationError>, RunError> {
        let limits = RunLimits {
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(10),
            fuel: None,
        };
        let (mut store, bindings) = self.instantiate(Capabilities::none(), limits).await?;
        let call = bindings.adls_writeback_job().call_validate(&mut store, job);
        let outcome = tokio::time::timeout(limits.timeout, call).await;
        finish(outcome, &store, limits)
    }

    /// Runs `job` with `capabilities` in a fresh store; the guest's answer, and the wall time
    /// its own code ran (host calls left out).
    pub async fn run(
        &self,
        job: &types::Job,
        capabilities: Capabilities,
        limits: RunLimits,
    ) -> Result<(Result<types::Report, wit_job::JobError>, Duration), RunError> {
        let (mut store, bindings) = self.instantiate(capabilities, limits).await?;
        store.call_hook(|mut store, hook| {
            let clock = store.data_mut().guest_time_mut();
            match hook {
                CallHook::CallingWasm | CallHook::ReturningFromHost => clock.enter(),
                CallHook::CallingHost | CallHook::ReturningFromWasm => clock.leave(),
            }
            Ok(())
        });
        let call = bindings.adls_writeback_job().call_run(&mut store, job);
        // The epoch keeps ticking while the guest waits on host calls, so the epoch deadline
        // is a wall-time limit; this timeout also bounds a host call that never returns.
        let outcome = tokio::time::timeout(limits.timeout, call).await;
        if let (Some(budget), Ok(left)) = (limits.fuel, store.get_fuel()) {
            let used = budget.saturating_sub(left);
            tracing::debug!(fuel_used = used, "the run used {used} of its {budget} fuel");
        }
        let answer = finish(outcome, &store, limits)?;
        Ok((answer, store.data_mut().guest_time_mut().total()))
    }

    async fn instantiate(
        &self,
        capabilities: Capabilities,
        limits: RunLimits,
    ) -> Result<(Store<RunState>, Writeback), RunError> {
        let linked = self.linked(limits.fuel.is_some())?;
        let mut store = Store::new(
            &linked.engine,
            RunState::new(capabilities, limits.memory_bytes),
        );
        store.limiter(|state| state.limiter_mut());
        // Fuel and the epoch deadline are set before instantiating (their defaults trap).
        if let Some(fuel) = limits.fuel {
            store
                .set_fuel(fuel)
                .map_err(|e| RunError::Trap(format!("setting the fuel budget: {e}")))?;
        }
        let ticks = limits.timeout.as_millis() / EPOCH_TICK.as_millis() + 1;
        store.set_epoch_deadline(ticks as u64);
        store.epoch_deadline_trap();
        match linked.pre.instantiate_async(&mut store).await {
            Ok(bindings) => Ok((store, bindings)),
            Err(e) => Err(explain(e, &store, limits)),
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.ticker.store(false, Ordering::Relaxed);
    }
}

/// The outcome of a guest call under a host-side timeout.
fn finish<T>(
    outcome: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    store: &Store<RunState>,
    limits: RunLimits,
) -> Result<T, RunError> {
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(explain(error, store, limits)),
        Err(_) => Err(RunError::Timeout(limits.timeout)),
    }
}

fn explain(error: wasmtime::Error, store: &Store<RunState>, limits: RunLimits) -> RunError {
    let state = store.data();
    RunError::explain(
        error,
        state.limiter(),
        state.stderr(),
        limits.timeout,
        limits.fuel,
    )
}

fn setup(e: &wasmtime::Error) -> SandboxError {
    SandboxError::Setup(format!("{e:#}"))
}

/// A compiled component with its engine and identity, not yet audited.
pub struct Compiled {
    /// The engine it was compiled for.
    pub engine: Engine,
    /// The compiled component.
    pub component: Component,
    /// Its hash, size and source.
    pub info: ComponentInfo,
}

/// An engine for the component model with epoch interruption, and fuel metering when
/// `metered` (only for runs with a `[limits] fuel` budget: metering slows the guest).
pub fn engine(metered: bool) -> Result<Engine, SandboxError> {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(metered);
    Engine::new(&config).map_err(|e| setup(&e))
}

/// Compiles `wasm` (or loads its compiled form from the cache); `source` says where it came
/// from (`built-in` or a path), for the audit.
pub fn compile(wasm: &[u8], source: &str) -> Result<Compiled, SandboxError> {
    let engine = engine(false)?;
    let sha256 = hex(&Sha256::digest(wasm));
    let component = load_component(&engine, wasm, &sha256)
        .map_err(|e| SandboxError::Compile(format!("{e:#}")))?;
    let info = ComponentInfo {
        sha256,
        size_bytes: wasm.len() as u64,
        source: source.to_string(),
    };
    Ok(Compiled {
        engine,
        component,
        info,
    })
}

/// Links `component` against this host: WASI (granting nothing) and the contract's
/// capabilities, and checks that it exports the `writeback` world.
pub fn link(engine: &Engine, component: &Component) -> wasmtime::Result<WritebackPre<RunState>> {
    let mut linker = Linker::<RunState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    state::add_to_linker(&mut linker)?;
    WritebackPre::new(linker.instantiate_pre(component)?)
}

/// Loads the compiled component from the cache, or compiles it and stores it there.
fn load_component(engine: &Engine, wasm: &[u8], sha256: &str) -> anyhow::Result<Component> {
    let Some(dir) = cache_dir() else {
        return Ok(Component::new(engine, wasm)?);
    };
    let mut compat = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut compat);
    let version = env!("CARGO_PKG_VERSION");
    let file = dir.join(format!(
        "{}-{version}-{:016x}.cwasm",
        &sha256[..32],
        std::hash::Hasher::finish(&compat)
    ));
    if file.is_file() {
        // SAFETY: the file is this program's own output for this exact engine
        // configuration, in the user's private cache folder; wasmtime still checks its
        // header and compatibility before using it.
        match unsafe { Component::deserialize_file(engine, &file) } {
            Ok(component) => return Ok(component),
            Err(e) => tracing::debug!("ignoring unusable compiled cache {}: {e:#}", file.display()),
        }
    }
    let compiled = engine.precompile_component(wasm)?;
    // Write to a unique temporary name and rename, so concurrent runs never read half a file.
    if std::fs::create_dir_all(&dir).is_ok() {
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        if std::fs::write(&tmp, &compiled).is_ok() && std::fs::rename(&tmp, &file).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
    // SAFETY: `compiled` was produced just now by this engine.
    Ok(unsafe { Component::deserialize(engine, &compiled) }?)
}

/// `$ADLS_WRITEBACK_CACHE_DIR`, else `$XDG_CACHE_HOME/adls-writeback`, else
/// `~/.cache/adls-writeback`.
fn cache_dir() -> Option<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("ADLS_WRITEBACK_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("adls-writeback")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("adls-writeback")))
        .filter(|d| d.is_absolute())
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
