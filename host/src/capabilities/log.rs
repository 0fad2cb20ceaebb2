//! Log lines and progress from the guest: messages go to `tracing`, progress to a bar
//! on a terminal (and nowhere otherwise). A run's log is bounded: each message is cut at
//! [`MAX_MESSAGE`] bytes, and after [`MAX_LINES_PER_RUN`] lines or [`MAX_BYTES_PER_RUN`]
//! bytes the rest are dropped, with one line at the end of the run saying how many.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::capabilities::bindings::log::{self, Level};

/// Longest message kept; a longer one is cut, so a guest cannot flood the log with one call.
pub const MAX_MESSAGE: usize = 4096;
/// Most log lines one run may write; later ones are counted and dropped.
pub const MAX_LINES_PER_RUN: u64 = 10_000;
/// Most bytes of log messages one run may write; later lines are counted and dropped.
pub const MAX_BYTES_PER_RUN: u64 = 4 << 20;

/// The log capability of one run.
pub struct LogCapability {
    job: String,
    bar: Option<ProgressBar>,
    lines: u64,
    bytes: u64,
    dropped: u64,
}

impl LogCapability {
    /// Logs for job `job`; draws a progress bar when `show_progress` and stderr is a terminal.
    pub fn new(job: &str, show_progress: bool) -> Self {
        let bar = show_progress.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} {binary_bytes} ({binary_bytes_per_sec})",
                )
                .expect("valid template"),
            );
            bar
        });
        LogCapability {
            job: job.to_string(),
            bar,
            lines: 0,
            bytes: 0,
            dropped: 0,
        }
    }

    /// How many lines were dropped so far for going over the run's budget.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl Drop for LogCapability {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.dropped > 0 {
            tracing::warn!(
                target: "guest",
                job = self.job.as_str(),
                "{} more log lines from the component were dropped (at most {MAX_LINES_PER_RUN} \
                 lines or {} MiB per run)",
                self.dropped,
                MAX_BYTES_PER_RUN >> 20
            );
        }
    }
}

impl log::Host for LogCapability {
    async fn log(&mut self, level: Level, message: String) {
        if self.lines >= MAX_LINES_PER_RUN || self.bytes >= MAX_BYTES_PER_RUN {
            self.dropped += 1;
            return;
        }
        self.lines += 1;
        self.bytes += message.len().min(MAX_MESSAGE) as u64;
        let mut message = message;
        if message.len() > MAX_MESSAGE {
            let cut = (0..=MAX_MESSAGE)
                .rev()
                .find(|&i| message.is_char_boundary(i))
                .unwrap_or(0);
            message.truncate(cut);
            message.push_str(" [cut]");
        }
        // Guest text is data: no terminal escapes, no forged log lines.
        if message.chars().any(char::is_control) {
            message = printable(&message, usize::MAX);
        }
        let job = self.job.as_str();
        match level {
            Level::Trace => tracing::trace!(target: "guest", job, "{message}"),
            Level::Debug => tracing::debug!(target: "guest", job, "{message}"),
            Level::Info => tracing::info!(target: "guest", job, "{message}"),
            Level::Warn => tracing::warn!(target: "guest", job, "{message}"),
            Level::Error => tracing::error!(target: "guest", job, "{message}"),
        }
    }

    async fn progress(&mut self, rows: u64, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
            bar.set_message(format!("{rows} rows"));
        }
        tracing::debug!(target: "guest", job = self.job.as_str(), rows, bytes, "progress");
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

#[cfg(test)]
mod tests {
    use super::*;
    use log::Host as _;

    #[tokio::test]
    async fn a_run_logs_a_bounded_number_of_lines_and_counts_the_rest() {
        let mut cap = LogCapability::new("flood", false);
        for i in 0..MAX_LINES_PER_RUN + 25 {
            cap.log(Level::Trace, format!("line {i}")).await;
        }
        assert_eq!(cap.dropped(), 25);

        let mut cap = LogCapability::new("huge", false);
        let huge = "x".repeat(1 << 20);
        for _ in 0..2000 {
            cap.log(Level::Trace, huge.clone()).await;
        }
        let kept = MAX_BYTES_PER_RUN.div_ceil(MAX_MESSAGE as u64);
        assert_eq!(cap.dropped(), 2000 - kept);
    }
}
