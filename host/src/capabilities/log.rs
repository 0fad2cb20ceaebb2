//! Log lines and progress from the guest: messages go to `tracing`, progress to a bar
//! on a terminal (and nowhere otherwise).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::bindings::log::{self, Level};

/// Longest message kept; a longer one is cut, so a guest cannot flood the log with one call.
const MAX_MESSAGE: usize = 4096;

/// The log capability of one run.
pub struct LogCapability {
    job: String,
    bar: Option<ProgressBar>,
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
        }
    }
}

impl Drop for LogCapability {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl log::Host for LogCapability {
    async fn log(&mut self, level: Level, message: String) {
        let mut message = message;
        if message.len() > MAX_MESSAGE {
            let cut = (0..=MAX_MESSAGE)
                .rev()
                .find(|&i| message.is_char_boundary(i))
                .unwrap_or(0);
            message.truncate(cut);
            message.push_str(" [cut]");
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
