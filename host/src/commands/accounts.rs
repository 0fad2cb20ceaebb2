//! `adls-writeback accounts add|list|show|remove|test`: saved accounts (see
//! [`crate::job::accounts`]). Secrets are never printed. `test` proves write access with a probe
//! file ([`probe`]).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::Value;

mod probe;

use crate::capabilities::auth::authorizer::AppProof;
use crate::capabilities::auth::{Authorizer, EntraCredential, StorageCredential};
use crate::job::accounts::{SavedAccount, Store, StoredSecret};
use crate::job::credential::{Credential, Sas};
use crate::job::{DEFAULT_AUTHORITY_HOST, check_endpoint};

/// `adls-writeback accounts …`.
#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Save an account (replaces one of the same name). The secret (the app's client
    /// secret, the account key or the SAS token, as --auth says) is a reference
    /// (--secret-env, --secret-file) or read from standard input (--secret-stdin) and kept
    /// in the accounts file, which is then mode 0600.
    Add(Box<AddArgs>),
    /// List the saved accounts.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one account (its secret only as where it is kept).
    Show {
        /// The account's name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove an account.
    Remove {
        /// The account's name.
        name: String,
    },
    /// Check the account's credential (get a storage token, for an Entra ID app), check
    /// that its file system exists and may be listed, and prove write access: create, write and delete a small
    /// `_`-prefixed probe file (exit 1 when any step fails, with the service's error
    /// explained).
    Test {
        /// The account's name.
        name: String,
    },
}

/// Options of `accounts add`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("secret").required(true).args(["secret_env", "secret_file", "secret_stdin"])))]
pub struct AddArgs {
    /// The account's name, as job files name it (`account = "NAME"`).
    pub name: String,
    /// The credential kind: client-secret (default), shared-key or sas.
    #[arg(long, default_value = "client-secret", value_parser = ["client-secret", "shared-key", "sas"])]
    pub auth: String,
    /// Application (client) ID of the Entra ID app (with --auth client-secret).
    #[arg(long, required_if_eq("auth", "client-secret"))]
    pub client_id: Option<String>,
    /// Directory (tenant) ID or domain (with --auth client-secret).
    #[arg(long, required_if_eq("auth", "client-secret"))]
    pub tenant_id: Option<String>,
    /// Storage account name.
    #[arg(long)]
    pub account_name: String,
    /// Container (file system).
    #[arg(long)]
    pub container: String,
    /// DFS endpoint (default https://ACCOUNT_NAME.dfs.core.windows.net).
    #[arg(long)]
    pub dfs_endpoint: Option<String>,
    /// Entra ID authority (default https://login.microsoftonline.com).
    #[arg(long)]
    pub authority_host: Option<String>,
    /// Read the client secret from this environment variable at run time.
    #[arg(long, value_name = "VAR")]
    pub secret_env: Option<String>,
    /// Read the client secret from this file at run time.
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
    /// Read the client secret's value from standard input now and keep it in the accounts
    /// file (mode 0600).
    #[arg(long)]
    pub secret_stdin: bool,
}

/// Runs an `accounts` subcommand.
pub async fn main(command: AccountsCommand) -> anyhow::Result<ExitCode> {
    let mut store = Store::load_default()?;
    match command {
        AccountsCommand::Add(args) => add(&mut store, *args),
        AccountsCommand::List { json } => {
            if json {
                let list: Vec<Value> = store.iter().map(|(n, a)| describe(n, a)).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if store.iter().next().is_none() {
                println!("no saved accounts in {}", store.path().display());
            } else {
                println!(
                    "{:<16} {:<38} {:<40} SECRET",
                    "NAME", "CLIENT ID", "STORAGE"
                );
                for (name, a) in store.iter() {
                    let storage = format!("{}/{}", a.account_name, a.container);
                    println!(
                        "{name:<16} {:<38} {storage:<40} {}",
                        a.client_id,
                        a.client_secret.describe()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AccountsCommand::Show { name, json } => {
            let a = find(&store, &name)?;
            let value = describe(&name, a);
            if json {
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                for (key, v) in value.as_object().expect("an object") {
                    println!("{key:<15} {}", v.as_str().unwrap_or_default());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AccountsCommand::Remove { name } => {
            anyhow::ensure!(
                store.remove(&name),
                "no saved account `{name}` in {}",
                store.path().display()
            );
            store.save()?;
            println!("removed account `{name}`");
            Ok(ExitCode::SUCCESS)
        }
        AccountsCommand::Test { name } => test(&store, &name).await,
    }
}

fn find<'a>(store: &'a Store, name: &str) -> anyhow::Result<&'a SavedAccount> {
    store.get(name).with_context(|| {
        format!(
            "no saved account `{name}` in {} (see `adls-writeback accounts list`)",
            store.path().display()
        )
    })
}

fn describe(name: &str, a: &SavedAccount) -> Value {
    let default_dfs = crate::plumbing::dfs::default_endpoint(&a.account_name);
    serde_json::json!({
        "name": name,
        "auth": a.auth.as_deref().unwrap_or("client-secret"),
        "client_id": a.client_id,
        "tenant_id": a.tenant_id,
        "client_secret": a.client_secret.describe(),
        "account_name": a.account_name,
        "container": a.container,
        "dfs_endpoint": a.dfs_endpoint.clone().unwrap_or(default_dfs),
        "authority_host": a.authority_host.as_deref().unwrap_or(DEFAULT_AUTHORITY_HOST),
    })
}

fn add(store: &mut Store, args: AddArgs) -> anyhow::Result<ExitCode> {
    let mut problems = Vec::new();
    for (field, value) in [
        ("--dfs-endpoint", &args.dfs_endpoint),
        ("--authority-host", &args.authority_host),
    ] {
        if let Some(value) = value {
            check_endpoint(field, value, &mut problems);
        }
    }
    if let Some(p) = problems.first() {
        anyhow::bail!("{}: {}", p.field, p.message);
    }
    let client_secret = if let Some(env) = args.secret_env {
        StoredSecret::Env { env }
    } else if let Some(file) = args.secret_file {
        StoredSecret::File {
            file: std::path::absolute(&file)
                .with_context(|| format!("bad path `{}`", file.display()))?,
        }
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the secret from standard input")?;
        let value = line.trim_end_matches(['\r', '\n']).to_string();
        anyhow::ensure!(!value.is_empty(), "no secret on standard input");
        StoredSecret::Value(value)
    };
    let account = SavedAccount {
        auth: (args.auth != "client-secret").then(|| args.auth.clone()),
        client_id: args.client_id.unwrap_or_default(),
        tenant_id: args.tenant_id.unwrap_or_default(),
        client_secret,
        account_name: args.account_name,
        container: args.container,
        dfs_endpoint: args
            .dfs_endpoint
            .map(|e| e.trim_end_matches('/').to_string()),
        authority_host: args
            .authority_host
            .map(|e| e.trim_end_matches('/').to_string()),
    };
    let secret = account.client_secret.describe();
    store.insert(&args.name, account);
    store.save()?;
    println!(
        "saved account `{}` in {} (secret: {secret})",
        args.name,
        store.path().display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn test(store: &Store, name: &str) -> anyhow::Result<ExitCode> {
    let a = find(store, name)?;
    let section = store.section(name).expect("found above");
    let base = store.path().parent().unwrap_or(std::path::Path::new("."));
    let reference = section
        .client_secret
        .or(section.account_key)
        .or(section.sas_token)
        .expect("a saved account has a secret");
    let secret = reference
        .resolve(base)
        .map_err(|e| anyhow::anyhow!("account `{name}`: secret: {e}"))?;
    let kind = a.auth.as_deref().unwrap_or("client-secret");
    let credential = match kind {
        "shared-key" => Credential::SharedKey(secret),
        "sas" => {
            let sas = Sas::parse(secret.expose())
                .map_err(|e| anyhow::anyhow!("account `{name}`: the SAS token {e}"))?;
            Credential::Sas(sas)
        }
        _ => Credential::ClientSecret(secret),
    };
    let authority = a
        .authority_host
        .as_deref()
        .unwrap_or(DEFAULT_AUTHORITY_HOST);
    let dfs = a
        .dfs_endpoint
        .clone()
        .unwrap_or_else(|| crate::plumbing::dfs::default_endpoint(&a.account_name));
    let who = if a.client_id.is_empty() {
        format!("{kind} credential")
    } else {
        format!("app {} in tenant {}", a.client_id, a.tenant_id)
    };
    println!(
        "Testing account `{name}`: {who}, storage {}/{}",
        a.account_name, a.container
    );
    let client = crate::plumbing::client::client_trusting(None)?;
    let storage_credential =
        StorageCredential::of(&credential, &a.account_name, &client, |proof| {
            let secret = match proof {
                AppProof::Secret(secret) => secret.clone(),
                AppProof::FederatedTokenFile(_) | AppProof::Certificate(_) => {
                    unreachable!("saved accounts hold a secret")
                }
            };
            EntraCredential::new(
                client.clone(),
                authority,
                &a.tenant_id,
                &a.client_id,
                secret,
            )
        });
    let authorizer = Authorizer::new(storage_credential);
    match authorizer.ready().await {
        Ok(_) if kind == "client-secret" => {
            println!("  token        ok: Entra ID issued a storage token")
        }
        Ok(_) => println!("  credential   ok: {kind} (checked by the requests below)"),
        Err(e) => {
            let message = crate::runner::wording::auth_message(&e);
            println!("  credential   FAILED: {message}");
            return Ok(ExitCode::from(super::EXIT_FAILED));
        }
    }
    let storage = probe::Storage {
        client: &client,
        dfs: &dfs,
        container: &a.container,
        authorizer: &authorizer,
    };
    if let Err(message) = storage.can_list().await {
        println!("  file system  FAILED: {message}");
        return Ok(ExitCode::from(super::EXIT_FAILED));
    }
    println!(
        "  file system  ok: `{}` exists and may be listed",
        a.container
    );
    match storage.can_write().await {
        Ok(probe) => {
            println!(
                "  write        ok: created, wrote and deleted `{}/{probe}`",
                a.container
            );
            println!("Account `{name}` works.");
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            println!("  write        FAILED: {message}");
            Ok(ExitCode::from(super::EXIT_FAILED))
        }
    }
}
