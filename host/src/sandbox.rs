//! The sandbox: compiles the guest component once (and caches the compiled form on disk),
//! then runs each job in a fresh store with a memory cap, a wall-time limit and WASI that
//! grants nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};

use crate::bindings::{Writeback, WritebackPre, exports::adls::writeback::job as wit_job, types};
use crate::capabilities::{Capabilities, RunState};

/// The built-in guest component, built from `guest/` by the host's build script.
pub const BUILTIN_GUEST: &[u8] = include_bytes!(env!("ADLS_WRITEBACK_GUEST_WASM_PATH"));

/// How often the epoch advances; run-time limits are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(50);

/// A compiled guest, ready to instantiate once per run.
pub struct Sandbox {
    engine: Engine,
    pre: WritebackPre<RunState>,
    component_sha256: String,
    ticker: Arc<AtomicBool>,
}

/// The caps of one run's store.
#[derive(Debug, Clone, Copy)]
pub struct RunLimits {
    /// Linear memory the guest may grow to, in bytes.
    pub memory_bytes: usize,
    /// Wall time for the whole run, host calls included.
    pub timeout: Duration,
}

impl Sandbox {
    /// The built-in guest.
    pub fn builtin() -> anyhow::Result<Sandbox> {
        Sandbox::new(BUILTIN_GUEST)
    }

    /// Compiles (or loads from the cache) `wasm` and links it against this host's
    /// capabilities. Fails if the component imports anything this host does not provide.
    pub fn new(wasm: &[u8]) -> anyhow::Result<Sandbox> {
        let mut config = Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let component_sha256 = hex(&Sha256::digest(wasm));
        let component = load_component(&engine, wasm, &component_sha256)?;

        let mut linker = Linker::<RunState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        crate::capabilities::add_to_linker(&mut linker)?;
        let pre = linker.instantiate_pre(&component).map_err(anyhow::Error::from).context(
            "the component imports something this host does not provide (run `adls-writeback audit`)",
        )?;
        let pre = WritebackPre::new(pre)?;

        let ticker = Arc::new(AtomicBool::new(true));
        let (engine_ref, running) = (engine.clone(), ticker.clone());
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while running.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine_ref.increment_epoch();
                }
            })?;
        Ok(Sandbox {
            engine,
            pre,
            component_sha256,
            ticker,
        })
    }

    /// SHA-256 (hex) of the component's bytes, for reports and audits.
    pub fn component_sha256(&self) -> &str {
        &self.component_sha256
    }

    /// Asks the guest to validate `job`. The guest gets no capabilities for this.
    pub async fn validate(&self, job: &types::Job) -> anyhow::Result<Vec<types::ValidationError>> {
        let limits = RunLimits {
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(10),
        };
        let (mut store, bindings) = self.instantiate(Capabilities::none(), limits).await?;
        let call = bindings.adls_writeback_job().call_validate(&mut store, job);
        with_deadline(limits.timeout, call).await
    }

    /// Runs `job` with `capabilities` in a fresh store.
    pub async fn run(
        &self,
        job: &types::Job,
        capabilities: Capabilities,
        limits: RunLimits,
    ) -> anyhow::Result<Result<types::Report, wit_job::JobError>> {
        let (mut store, bindings) = self.instantiate(capabilities, limits).await?;
        let call = bindings.adls_writeback_job().call_run(&mut store, job);
        with_deadline(limits.timeout, call).await
    }

    async fn instantiate(
        &self,
        capabilities: Capabilities,
        limits: RunLimits,
    ) -> anyhow::Result<(Store<RunState>, Writeback)> {
        let mut store = Store::new(
            &self.engine,
            RunState::new(capabilities, limits.memory_bytes),
        );
        store.limiter(|state| state.limits());
        // The epoch keeps ticking while the guest waits on host calls, so this is a
        // wall-time limit; `with_deadline` also bounds a host call that never returns.
        let ticks = limits.timeout.as_millis() / EPOCH_TICK.as_millis() + 1;
        store.set_epoch_deadline(ticks as u64);
        store.epoch_deadline_trap();
        let bindings = self.pre.instantiate_async(&mut store).await?;
        Ok((store, bindings))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.ticker.store(false, Ordering::Relaxed);
    }
}

async fn with_deadline<T>(
    timeout: Duration,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(trap)) => match trap.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => Err(anyhow!(
                "the run exceeded its time limit of {timeout:?} ([limits] timeout_secs)"
            )),
            _ => Err(anyhow::Error::from(trap).context("the component failed (trapped)")),
        },
        Err(_) => Err(anyhow!(
            "the run exceeded its time limit of {timeout:?} ([limits] timeout_secs)"
        )),
    }
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
