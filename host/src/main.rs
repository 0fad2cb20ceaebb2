//! The `adls-writeback` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use adls_writeback::commands;
use clap::{Parser, Subcommand};

/// Export datasets as CSV into Azure Data Lake Storage Gen2, through a sandboxed
/// WebAssembly component.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a job once and print its report (exit 1 on failure, 2 for an invalid job).
    Run {
        /// The job file (TOML; see docs/job-file.md).
        job: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a job file and list every problem (exit 2 when there are any).
    Validate {
        /// The job file.
        job: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the local emulator of ADLS Gen2, Entra ID and the Domo API.
    Emulator(commands::emulator::EmulatorArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ADLS_WRITEBACK_LOG")
                .unwrap_or_else(|_| "warn,adls_writeback=info,guest=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run { job, json } => commands::run::main(&job, json).await,
            Command::Validate { job, json } => commands::validate::main(&job, json).await,
            Command::Emulator(args) => commands::emulator::main(args).await,
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
