//! Where log lines go and whether they are coloured: stderr, in `tracing`'s format,
//! filtered by `ADLS_WRITEBACK_LOG`, coloured only when [`use_color`] says so; and the
//! guest's progress events handed to the run history (see [`crate::runner::history::progress`]).

use std::ffi::OsStr;
use std::io::IsTerminal;

use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::runner::history::progress::ProgressLayer;

/// `--color`: when to colour the log (the cargo and clap convention).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal, `NO_COLOR` is unset or empty and `TERM` is not
    /// `dumb`.
    #[default]
    Auto,
    /// Always colour, even into a pipe or a file, and whatever `NO_COLOR` says.
    Always,
    /// Never colour.
    Never,
}

/// Whether to colour, for `choice`, given whether stderr is a terminal and the values of
/// `NO_COLOR` and `TERM`. `NO_COLOR` counts when present and not empty (no-color.org).
pub fn use_color(
    choice: ColorChoice,
    stderr_is_terminal: bool,
    no_color: Option<&OsStr>,
    term: Option<&OsStr>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            stderr_is_terminal
                && no_color.is_none_or(OsStr::is_empty)
                && term.is_none_or(|t| t != "dumb")
        }
    }
}

/// The default filter: the host's and the guest's information, others' warnings.
pub const DEFAULT_FILTER: &str = "warn,adls_writeback=info,guest=info";

/// Installs the process's log: stderr, `ADLS_WRITEBACK_LOG`'s filter (else
/// [`DEFAULT_FILTER`]), colours as `choice` decides; and the progress layer.
pub fn init(choice: ColorChoice) {
    let ansi = use_color(
        choice,
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("TERM").as_deref(),
    );
    let filter = tracing_subscriber::EnvFilter::try_from_env("ADLS_WRITEBACK_LOG")
        .unwrap_or_else(|_| DEFAULT_FILTER.into());
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_filter(filter);
    let progress =
        ProgressLayer.with_filter(tracing_subscriber::filter::filter_fn(ProgressLayer::wants));
    tracing_subscriber::registry()
        .with(log)
        .with(progress)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color_unless_forced() {
        let os = |s: &'static str| Some(OsStr::new(s));
        let cases = [
            // (choice, terminal, NO_COLOR, TERM, coloured)
            (ColorChoice::Auto, true, None, os("xterm-256color"), true),
            (ColorChoice::Auto, true, None, None, true),
            (ColorChoice::Auto, false, None, os("xterm"), false),
            (ColorChoice::Auto, true, os("1"), os("xterm"), false),
            (ColorChoice::Auto, true, os(""), os("xterm"), true),
            (ColorChoice::Auto, true, None, os("dumb"), false),
            (ColorChoice::Always, false, os("1"), os("dumb"), true),
            (ColorChoice::Never, true, None, os("xterm"), false),
        ];
        for (choice, terminal, no_color, term, want) in cases {
            assert_eq!(
                use_color(choice, terminal, no_color, term),
                want,
                "{choice:?} terminal={terminal} NO_COLOR={no_color:?} TERM={term:?}"
            );
        }
    }
}
