//! Saved accounts, as Domo's Accounts tab keeps them: an Entra ID app and a storage
//! account under a name, which job files name (`account = "prod"`) instead of repeating
//! the credentials.
//!
//! They live in one TOML file, `$ADLS_WRITEBACK_ACCOUNTS`, else
//! `$XDG_CONFIG_HOME/adls-writeback/accounts.toml`, else
//! `~/.config/adls-writeback/accounts.toml`. A secret is a reference (`{ env = "NAME" }`,
//! `{ file = "path" }`, relative to the accounts file) or the value itself; a file that
//! holds a value must be readable by its owner only (mode 0600): it is checked at every load
//! and a group- or world-readable one is refused. This module writes it with mode 0600.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::job::secret::{Secret, SecretRef};
use crate::job::{AccountSection, FieldError};

/// Where a saved account's secret is.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum StoredSecret {
    /// `{ env = "NAME" }`.
    Env {
        /// The variable.
        env: String,
    },
    /// `{ file = "path" }`, relative to the accounts file.
    File {
        /// The file.
        file: PathBuf,
    },
    /// The value, in the accounts file itself (which must then be mode 0600).
    Value(String),
}

impl fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl StoredSecret {
    /// Where the secret is, never the value: `environment variable X`, `file Y`, `stored`.
    pub fn describe(&self) -> String {
        match self {
            StoredSecret::Env { env } => format!("environment variable `{env}`"),
            StoredSecret::File { file } => format!("file `{}`", file.display()),
            StoredSecret::Value(_) => "stored in the accounts file".into(),
        }
    }
}

/// One saved account: the `[account]` table's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedAccount {
    /// The credential kind (`account.auth`): `client-secret` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    /// `public` (default), `china` or `us-government`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<String>,
    /// Application (client) ID (empty for a key or SAS, and for a system-assigned managed
    /// identity).
    #[serde(default)]
    pub client_id: String,
    /// Directory (tenant) ID or domain (empty for a key or SAS).
    #[serde(default)]
    pub tenant_id: String,
    /// The kind's secret: the app's client secret, the PEM of its certificate and key, the
    /// account key or the SAS token; none for workload and managed identities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<StoredSecret>,
    /// The service account token file (workload identity), relative to the accounts file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_token_file: Option<PathBuf>,
    /// The managed identity's token endpoint, when not IMDS's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_endpoint: Option<String>,
    /// Storage account name.
    pub account_name: String,
    /// Container (file system).
    pub container: String,
    /// DFS endpoint, when not `https://{account_name}.dfs.core.windows.net`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dfs_endpoint: Option<String>,
    /// Entra ID authority, when not `https://login.microsoftonline.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_host: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsFile {
    #[serde(default)]
    accounts: BTreeMap<String, SavedAccount>,
}

/// The saved accounts and the file they live in.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    file: AccountsFile,
}

/// Where the accounts file is (see the module's documentation).
pub fn default_path() -> Option<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("ADLS_WRITEBACK_ACCOUNTS").or_else(|| {
        var("XDG_CONFIG_HOME")
            .filter(|d| d.is_absolute())
            .or_else(|| var("HOME").map(|h| h.join(".config")))
            .map(|d| d.join("adls-writeback").join("accounts.toml"))
    })
}

impl Store {
    /// The accounts at [`default_path`].
    pub fn load_default() -> anyhow::Result<Store> {
        let path =
            default_path().context("no accounts file: set ADLS_WRITEBACK_ACCOUNTS or HOME")?;
        Store::load(&path)
    }

    /// Reads the accounts file (none yet: no accounts). Refuses a file holding secret
    /// values that others can read.
    pub fn load(path: &Path) -> anyhow::Result<Store> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot read the accounts file `{}`", path.display())
                });
            }
        };
        let file: AccountsFile = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        let store = Store {
            path: path.to_path_buf(),
            file,
        };
        if store.holds_values() {
            check_private(path)?;
        }
        Ok(store)
    }

    /// The accounts file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The account named `name`.
    pub fn get(&self, name: &str) -> Option<&SavedAccount> {
        self.file.accounts.get(name)
    }

    /// Every account, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &SavedAccount)> {
        self.file.accounts.iter()
    }

    /// Adds or replaces `name`.
    pub fn insert(&mut self, name: &str, account: SavedAccount) {
        self.file.accounts.insert(name.to_string(), account);
    }

    /// Removes `name`; false when there was none.
    pub fn remove(&mut self, name: &str) -> bool {
        self.file.accounts.remove(name).is_some()
    }

    /// Writes the file (mode 0600, replaced atomically). Comments are not kept.
    pub fn save(&self) -> anyhow::Result<()> {
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
        let text = format!(
            "# Saved accounts of adls-writeback (`adls-writeback accounts`). Keep this file mode 0600.\n{}",
            toml::to_string(&self.file)?
        );
        let tmp = dir.join(format!(".accounts.{}.tmp", std::process::id()));
        write_private(&tmp, text.as_bytes())
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .with_context(|| format!("cannot write the accounts file `{}`", self.path.display()))
    }

    /// The account as a job's `[account]` table, its secret reference resolved against
    /// the accounts file's folder.
    pub fn section(&self, name: &str) -> Option<AccountSection> {
        let a = self.get(name)?;
        let base = self.path.parent().unwrap_or(Path::new("."));
        let secret = a.client_secret.as_ref().map(|stored| match stored {
            StoredSecret::Env { env } => SecretRef::Env { env: env.clone() },
            StoredSecret::File { file } => SecretRef::File {
                file: base.join(file),
            },
            StoredSecret::Value(v) => SecretRef::Resolved(Secret::new(v.clone())),
        });
        let mut section = AccountSection {
            auth: a.auth.clone(),
            cloud: a.cloud.clone(),
            client_id: (!a.client_id.is_empty()).then(|| a.client_id.clone()),
            tenant_id: (!a.tenant_id.is_empty()).then(|| a.tenant_id.clone()),
            federated_token_file: a.federated_token_file.as_ref().map(|f| base.join(f)),
            identity_endpoint: a.identity_endpoint.clone(),
            account_name: Some(a.account_name.clone()),
            container: Some(a.container.clone()),
            dfs_endpoint: a.dfs_endpoint.clone(),
            blob_endpoint: None,
            endpoint: None,
            authority_host: a.authority_host.clone(),
            ..AccountSection::default()
        };
        // One stored secret, in the key its kind reads.
        match a.auth.as_deref() {
            Some("shared-key") => section.account_key = secret,
            Some("sas") => section.sas_token = secret,
            Some("client-certificate") => section.client_certificate = secret,
            _ => section.client_secret = secret,
        }
        Some(section)
    }

    fn holds_values(&self) -> bool {
        self.iter()
            .any(|(_, a)| matches!(a.client_secret, Some(StoredSecret::Value(_))))
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    anyhow::ensure!(
        mode & 0o077 == 0,
        "the accounts file `{p}` holds client secrets and others can read it (mode {mode:04o}): \
         run `chmod 600 {p}`, or store references ({{ env = \"NAME\" }}, {{ file = \"path\" }}) instead",
        p = path.display()
    );
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The job file's `account`: a saved account's name (`account = "prod"`) or the
/// `[account]` table. TOML makes them exclusive: one key, one value.
#[derive(Debug)]
pub enum AccountField {
    /// `account = "name"`.
    Named(String),
    /// `[account]`.
    Inline(Box<AccountSection>),
}

impl Default for AccountField {
    fn default() -> Self {
        AccountField::Inline(Box::default())
    }
}

impl<'de> Deserialize<'de> for AccountField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = AccountField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a saved account's name, or an [account] table")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AccountField, E> {
                Ok(AccountField::Named(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<AccountField, A::Error> {
                AccountSection::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|section| AccountField::Inline(Box::new(section)))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl AccountField {
    /// The `[account]` table to resolve: the inline one, or the saved account's. An unknown
    /// name or an unreadable accounts file is a problem of field `account`.
    pub fn into_section(self, problems: &mut Vec<FieldError>) -> AccountSection {
        self.resolve_with(Store::load_default, problems)
    }

    /// [`AccountField::into_section`] with the accounts from `load`.
    pub fn resolve_with(
        self,
        load: impl FnOnce() -> anyhow::Result<Store>,
        problems: &mut Vec<FieldError>,
    ) -> AccountSection {
        let name = match self {
            AccountField::Inline(section) => return *section,
            AccountField::Named(name) => name,
        };
        let found = load().map(|store| (store.section(&name), store.path().to_path_buf()));
        let message = match found {
            Ok((Some(section), _)) => return section,
            Ok((None, path)) => format!(
                "no saved account `{name}` in `{}` (see `adls-writeback accounts list`)",
                path.display()
            ),
            Err(e) => format!("{e:#}"),
        };
        problems.push(FieldError {
            field: "account".into(),
            message,
        });
        // The secret's absence would be reported too; one problem says it all.
        AccountSection {
            client_secret: Some(SecretRef::Resolved(Secret::new("-"))),
            ..AccountSection::default()
        }
    }
}

#[cfg(test)]
mod tests;
