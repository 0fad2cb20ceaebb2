//! The caps of one run's store and the words for a run they stopped: a resource limiter
//! that remembers what it refused, the tail of the guest's stderr (a panic message), and
//! [`RunError`], which turns a trap into what happened and what to change.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::capabilities::http::MemoryLimitReached;
use crate::capabilities::http::body::{MemoryBudget, Refusal};
use crate::capabilities::log::printable;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::AsyncWrite;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Most elements a guest table may hold (a Rust component needs a few hundred).
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// Most instances, tables and memories a store may create (a Rust component needs 3 or 4
/// instances and one memory).
const MAX_INSTANCES: usize = 8;
const MAX_TABLES: usize = 16;
const MAX_MEMORIES: usize = 4;
/// How much of the guest's stderr is kept: its last bytes.
const STDERR_TAIL: usize = 4096;

/// The store's resource limiter: memory and table caps that trap the guest when exceeded,
/// remembering the refusal so the error can say what happened. Linear memory counts
/// against the run's [`MemoryBudget`], with the request bodies the host holds.
#[derive(Debug)]
pub struct Limiter {
    budget: Arc<MemoryBudget>,
    /// What a refused memory growth asked for, and what was held then.
    refused_memory: Option<Refusal>,
    refused_table: Option<usize>,
}

impl Limiter {
    /// Caps linear memory and held bodies together by `budget`.
    pub fn new(budget: Arc<MemoryBudget>) -> Self {
        Limiter {
            budget,
            refused_memory: None,
            refused_table: None,
        }
    }

    /// The memory growth this limiter refused, if any.
    pub fn refused_memory(&self) -> Option<Refusal> {
        self.refused_memory
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if let Err(refusal) = self.budget.grow_linear(desired) {
            self.refused_memory = Some(refusal);
            wasmtime::bail!("memory limit of {} bytes reached", refusal.limit);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            self.refused_table = Some(desired);
            wasmtime::bail!("table cap of {MAX_TABLE_ELEMENTS} elements exceeded");
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

/// The guest's stderr: everything is accepted and dropped but the last few KiB, which
/// explain a panic. Clones share the buffer.
#[derive(Debug, Clone, Default)]
pub struct StderrTail(Arc<Mutex<VecDeque<u8>>>);

impl StderrTail {
    /// The kept tail as text.
    pub fn text(&self) -> String {
        let tail = self.0.lock().expect("not poisoned");
        let (a, b) = tail.as_slices();
        String::from_utf8_lossy(&[a, b].concat()).into_owned()
    }

    /// The panic message in the tail, on one line, if the guest printed one.
    pub fn panic_message(&self) -> Option<String> {
        let text = self.text();
        let start = text.rfind("panicked at")?;
        let message: Vec<&str> = text[start..]
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
            .collect();
        Some(printable(&message.join(" "), 500))
    }
}

impl IsTerminal for StderrTail {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StderrTail {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for StderrTail {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut tail = self.0.lock().expect("not poisoned");
        let keep = &buf[buf.len().saturating_sub(STDERR_TAIL)..];
        tail.extend(keep);
        let excess = tail.len().saturating_sub(STDERR_TAIL);
        tail.drain(..excess);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Why the sandbox stopped a run (or a validation) before the guest answered.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Wall time ran out (the epoch deadline or the host-side timeout).
    #[error(
        "the component was stopped after its time limit of {} s ([limits] timeout_secs)",
        .0.as_secs_f64()
    )]
    Timeout(Duration),
    /// The run's memory (the guest's own and the request bodies the host holds for it)
    /// would have passed its limit.
    #[error(
        "memory limit of {limit_mib} MiB reached: lower output.block_size × output.concurrency \
         or raise limits.memory_mib (the component's memory would have been {linear_mib} MiB \
         and the request bodies the host holds for it {held_mib} MiB)"
    )]
    Memory {
        /// The limit, in MiB.
        limit_mib: usize,
        /// The guest's linear memory then, in MiB.
        linear_mib: usize,
        /// Body bytes the host held for it then, in MiB.
        held_mib: usize,
    },
    /// The fuel budget ran out.
    #[error("the component was stopped when it used up its fuel budget of {0} ([limits] fuel)")]
    Fuel(u64),
    /// The guest called `exit`.
    #[error("the component exited with status {0} instead of returning a result")]
    Exit(i32),
    /// The guest panicked (it printed a panic message, then trapped).
    #[error("the component panicked: {0}")]
    Panic(String),
    /// Any other trap, or a failure to instantiate.
    #[error("the component failed: {0}")]
    Trap(String),
}

impl RunError {
    /// What stopped the call that failed with `error`, given the store's limiter and stderr.
    pub fn explain(
        error: wasmtime::Error,
        limiter: &Limiter,
        stderr: &StderrTail,
        timeout: Duration,
        fuel: Option<u64>,
    ) -> RunError {
        let refused = limiter.refused_memory().or_else(|| {
            error
                .chain()
                .find_map(|e| e.downcast_ref::<MemoryLimitReached>())
                .map(|reached| reached.0)
        });
        if let Some(refusal) = refused {
            return RunError::Memory {
                limit_mib: refusal.limit >> 20,
                linear_mib: refusal.linear.div_ceil(1 << 20),
                held_mib: refusal.held.div_ceil(1 << 20),
            };
        }
        if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
            return RunError::Exit(exit.0);
        }
        match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => return RunError::Timeout(timeout),
            Some(wasmtime::Trap::OutOfFuel) => return RunError::Fuel(fuel.unwrap_or(u64::MAX)),
            Some(wasmtime::Trap::UnreachableCodeReached) => {
                if let Some(message) = stderr.panic_message() {
                    return RunError::Panic(message);
                }
            }
            _ => {}
        }
        if let Some(elements) = limiter.refused_table {
            return RunError::Trap(format!(
                "it tried to grow a table to {elements} elements, over the cap of \
                 {MAX_TABLE_ELEMENTS}"
            ));
        }
        RunError::Trap(printable(&whole_cause(&error, stderr), 2000))
    }
}

/// Every cause of `error` on one line, outermost first, without wasmtime's backtrace
/// listing (whose first line, "error while executing at wasm backtrace:", says nothing),
/// and the guest's panic text when it printed one.
fn whole_cause(error: &wasmtime::Error, stderr: &StderrTail) -> String {
    let backtrace = error.downcast_ref::<wasmtime::WasmBacktrace>();
    let listing = backtrace.map(ToString::to_string);
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        if listing.as_deref() == Some(cause.to_string().as_str()) {
            continue;
        }
        let text = match cause.downcast_ref::<wasmtime::Trap>() {
            Some(trap) => format!("trap: {trap}"),
            None => cause.to_string(),
        };
        let text = text.lines().map(str::trim).collect::<Vec<_>>().join(" ");
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    if let Some(frame) = backtrace
        .and_then(|bt| bt.frames().first())
        .and_then(|f| f.func_name().map(str::to_owned))
    {
        parts.push(format!("in {frame}"));
    }
    if let Some(panic) = stderr.panic_message() {
        parts.push(format!("the component printed: {panic}"));
    }
    if parts.is_empty() {
        parts.push("no cause given".into());
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_keeps_only_its_tail_and_finds_the_panic() {
        let tail = StderrTail::default();
        let mut writer = tail.clone();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let noise = vec![b'x'; 10_000];
        let _ = Pin::new(&mut writer).poll_write(&mut cx, &noise);
        let panic = b"\nthread '<unnamed>' panicked at src/lib.rs:3:5:\nboom\x1b[31m\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        let _ = Pin::new(&mut writer).poll_write(&mut cx, panic);
        assert_eq!(tail.text().len(), STDERR_TAIL);
        assert_eq!(
            tail.panic_message().unwrap(),
            "panicked at src/lib.rs:3:5: boom\\u{1b}[31m"
        );
    }

    #[test]
    fn limiter_refuses_growth_over_the_cap_and_remembers_it() {
        let mut limiter = Limiter::new(MemoryBudget::new(32 << 20));
        assert!(limiter.memory_growing(0, 16 << 20, None).unwrap());
        assert!(limiter.memory_growing(16 << 20, 33 << 20, None).is_err());
        assert_eq!(
            limiter.refused_memory(),
            Some(Refusal {
                limit: 32 << 20,
                linear: 33 << 20,
                held: 0
            })
        );
        let error = RunError::explain(
            wasmtime::format_err!("grow"),
            &limiter,
            &StderrTail::default(),
            Duration::from_secs(1),
            None,
        );
        assert_eq!(
            error.to_string(),
            "memory limit of 32 MiB reached: lower output.block_size × output.concurrency or \
             raise limits.memory_mib (the component's memory would have been 33 MiB and the \
             request bodies the host holds for it 0 MiB)"
        );
    }

    #[test]
    fn a_trap_shows_its_whole_cause_not_the_backtrace_header() {
        let error = wasmtime::Error::new(wasmtime::Trap::MemoryOutOfBounds)
            .context("error while executing at wasm backtrace:\n    0: 0x1234 - guest!f");
        let text = RunError::explain(
            error,
            &Limiter::new(MemoryBudget::new(1 << 30)),
            &StderrTail::default(),
            Duration::from_secs(1),
            None,
        )
        .to_string();
        assert!(text.contains("out of bounds memory access"), "{text}");
    }
}
