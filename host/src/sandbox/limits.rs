//! The caps of one run's store and the words for a run they stopped: a resource limiter
//! that remembers what it refused, the tail of the guest's stderr (a panic message), and
//! [`RunError`], which turns a trap into what happened and what to change.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
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
/// remembering the refusal so the error can say what happened.
#[derive(Debug)]
pub struct Limiter {
    memory_bytes: usize,
    /// The size a refused memory growth asked for.
    refused_memory: Option<usize>,
    refused_table: Option<usize>,
}

impl Limiter {
    /// Caps each linear memory at `memory_bytes`.
    pub fn new(memory_bytes: usize) -> Self {
        Limiter {
            memory_bytes,
            refused_memory: None,
            refused_table: None,
        }
    }

    /// The size, in bytes, of a memory growth this limiter refused, if any.
    pub fn refused_memory(&self) -> Option<usize> {
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
        if desired > self.memory_bytes {
            self.refused_memory = Some(desired);
            wasmtime::bail!("memory cap of {} bytes exceeded", self.memory_bytes);
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

/// `text` with control characters escaped, cut at `max` characters: guest text is data.
pub fn printable(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push_str(" [cut]");
    }
    out
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
    /// A memory growth over the cap was refused.
    #[error(
        "the component was stopped when it tried to grow its memory to {wanted_mib} MiB, over \
         the cap of {cap_mib} MiB ([limits] memory_mib)"
    )]
    Memory {
        /// What it asked for, in MiB.
        wanted_mib: usize,
        /// The cap, in MiB.
        cap_mib: usize,
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
        if let Some(wanted) = limiter.refused_memory() {
            return RunError::Memory {
                wanted_mib: wanted.div_ceil(1 << 20),
                cap_mib: limiter.memory_bytes >> 20,
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
        let summary = format!("{error:#}");
        let first = summary.lines().next().unwrap_or_default();
        RunError::Trap(printable(first, 1000))
    }
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
        let mut limiter = Limiter::new(32 << 20);
        assert!(limiter.memory_growing(0, 16 << 20, None).unwrap());
        assert!(limiter.memory_growing(16 << 20, 33 << 20, None).is_err());
        assert_eq!(limiter.refused_memory(), Some(33 << 20));
        let error = RunError::explain(
            wasmtime::format_err!("grow"),
            &limiter,
            &StderrTail::default(),
            Duration::from_secs(1),
            None,
        );
        assert_eq!(
            error.to_string(),
            "the component was stopped when it tried to grow its memory to 33 MiB, over the cap \
             of 32 MiB ([limits] memory_mib)"
        );
    }
}
