//! Secrets: where they come from (a reference in the job file) and a value type that
//! never shows itself.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where a secret is read from. Job files never hold a secret inline.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum SecretRef {
    /// `{ env = "NAME" }`: the value of an environment variable.
    Env {
        /// The variable's name.
        env: String,
    },
    /// `{ file = "path" }`: the contents of a file (trailing newline trimmed), relative to
    /// the job file's folder.
    File {
        /// The file's path.
        file: PathBuf,
    },
    /// A value already read (a saved account's stored secret); never from a job file.
    #[serde(skip)]
    Resolved(Secret),
}

impl SecretRef {
    /// Reads the secret. The error names the reference, never the value.
    pub fn resolve(&self, base_dir: &Path) -> Result<Secret, String> {
        let value = match self {
            SecretRef::Env { env } => std::env::var(env)
                .map_err(|_| format!("environment variable `{env}` is not set"))?,
            SecretRef::File { file } => {
                let path = base_dir.join(file);
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read secret file `{}`: {e}", path.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_string()
            }
            SecretRef::Resolved(secret) => secret.expose().to_string(),
        };
        if value.is_empty() {
            return Err(format!("{} is empty", self.describe()));
        }
        Ok(Secret(value))
    }

    /// Describes the reference for messages (`environment variable X`, `file Y`).
    pub fn describe(&self) -> String {
        match self {
            SecretRef::Env { env } => format!("environment variable `{env}`"),
            SecretRef::File { file } => format!("secret file `{}`", file.display()),
            SecretRef::Resolved(_) => "the saved account's secret".into(),
        }
    }
}

/// A secret value. `Debug` and `Display` print `[redacted]`; the value is reachable only
/// through [`Secret::expose`], at the one place that sends it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value (for secrets that do not come from a job file, like a token).
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the request that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the secret in `text`, for messages built from
    /// third-party responses that might echo what they were sent.
    pub fn scrub(&self, text: &str) -> String {
        text.replace(&self.0, "[redacted]")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret} {secret:?}"), "[redacted] [redacted]");
        assert_eq!(
            secret.scrub("bad secret hunter2!"),
            "bad secret [redacted]!"
        );
    }

    #[test]
    fn file_reference_is_relative_to_the_job_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.txt"), "value\n").unwrap();
        let r = SecretRef::File {
            file: "s.txt".into(),
        };
        assert_eq!(r.resolve(dir.path()).unwrap().expose(), "value");
        let missing = SecretRef::File {
            file: "nope.txt".into(),
        };
        assert!(
            missing
                .resolve(dir.path())
                .unwrap_err()
                .contains("nope.txt")
        );
    }

    #[test]
    fn env_reference_names_the_variable_when_unset() {
        let r = SecretRef::Env {
            env: "ADLS_WRITEBACK_TEST_UNSET_VAR".into(),
        };
        let err = r.resolve(Path::new(".")).unwrap_err();
        assert!(err.contains("ADLS_WRITEBACK_TEST_UNSET_VAR"), "{err}");
    }
}
