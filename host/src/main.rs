//! The `adls-writeback` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use adls_writeback::commands;
use adls_writeback::commands::logging::ColorChoice;
use adls_writeback::commands::validate::{NextRuns, parse_count, parse_instant};
use clap::{CommandFactory, Parser, Subcommand};

/// Export datasets as CSV into Azure Data Lake Storage Gen2, through a sandboxed
/// WebAssembly component.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The run history database (default $XDG_STATE_HOME/adls-writeback/history.sqlite,
    /// or ~/.local/state/…; `off` records nothing).
    #[arg(
        long,
        global = true,
        env = "ADLS_WRITEBACK_HISTORY",
        value_name = "PATH"
    )]
    history: Option<PathBuf>,
    /// Colour the log: `auto` on a terminal unless NO_COLOR is set, `always`, or `never`.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = ColorChoice::Auto,
        env = "ADLS_WRITEBACK_COLOR",
        value_name = "WHEN"
    )]
    color: ColorChoice,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a job once and print its report (exit 1 on failure, 2 for an invalid job or a
    /// refused component).
    Run {
        /// The job file (TOML; see docs/job-file.md).
        job: PathBuf,
        /// Run the job with this component instead of the built-in one, after the same
        /// audit as `adls-writeback audit` (a component it refuses is not run).
        #[arg(long, value_name = "COMPONENT.wasm")]
        guest: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// After a success, read the published file back and compare its digests with the
        /// report's (the bytes this run appended, in append mode); a mismatch fails the run.
        #[arg(long)]
        verify: bool,
    },
    /// Show what a component imports and exports and whether this host grants it (exit 1
    /// when it imports anything this host would not grant; see docs/audit.md).
    Audit {
        /// The component; the built-in guest when absent.
        #[arg(value_name = "COMPONENT.wasm")]
        component: Option<PathBuf>,
        /// Show the concrete origins, credential kind and dataset this job file would grant.
        #[arg(long, value_name = "JOB.toml")]
        job: Option<PathBuf>,
        /// Print the audit as JSON (the stable format).
        #[arg(long)]
        json: bool,
    },
    /// Check a job file and list every problem (exit 2 when there are any); with --next,
    /// also list the next run times of its [schedule].
    Validate {
        /// The job file.
        job: PathBuf,
        /// Print the result as JSON (the run times as RFC 3339 with the zone's offset,
        /// under "next_runs").
        #[arg(long)]
        json: bool,
        /// List the next N run times of the job's schedule (1 to 1000), in its time zone
        /// and in UTC.
        #[arg(long, value_name = "N", value_parser = parse_count)]
        next: Option<usize>,
        /// Start the list at this RFC 3339 instant (default now), to check a schedule on
        /// any date: a DST night, a month's end, 29 February.
        #[arg(long, value_name = "INSTANT", value_parser = parse_instant, requires = "next")]
        from: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Run the local emulator of ADLS Gen2, Entra ID and the Domo API.
    Emulator(commands::emulator::EmulatorArgs),
    /// Run every job file in a folder on its [schedule], until SIGTERM (see docs/scheduling.md).
    Serve(commands::serve::ServeArgs),
    /// Show the run history, newest first.
    History {
        /// Only this job's runs.
        job: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// How many rows.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Manage saved accounts, which job files name with `account = "NAME"`.
    #[command(subcommand)]
    Accounts(commands::accounts::AccountsCommand),
    /// Print a shell completion script, e.g. `adls-writeback completions bash >
    /// /etc/bash_completion.d/adls-writeback`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one per command into a folder.
    Man {
        /// Write adls-writeback.1 and one page per subcommand into this folder instead.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    adls_writeback::commands::logging::init(cli.color);
    if let Some(path) = cli.history {
        adls_writeback::runner::history::set_path(path);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run {
                job,
                guest,
                json,
                verify,
            } => commands::run::main(&job, guest.as_deref(), json, verify).await,
            Command::Audit {
                component,
                job,
                json,
            } => commands::audit::main(component.as_deref(), job.as_deref(), json).await,
            Command::Validate {
                job,
                json,
                next,
                from,
            } => {
                let next = next.map(|count| NextRuns {
                    count,
                    from: from.unwrap_or_else(chrono::Utc::now),
                });
                commands::validate::main(&job, json, next).await
            }
            Command::Emulator(args) => commands::emulator::main(args).await,
            Command::Serve(args) => commands::serve::main(args).await,
            Command::History { job, json, limit } => {
                commands::history::main(job.as_deref(), json, limit)
            }
            Command::Accounts(command) => commands::accounts::main(command).await,
            Command::Completions { shell } => {
                commands::completions::completions(Cli::command(), shell)
            }
            Command::Man { out_dir } => {
                commands::completions::man(Cli::command(), out_dir.as_deref())
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(commands::EXIT_INVALID)
        }
    }
}
