//! What `accounts test` asks the storage service: that the file system exists and the app
//! may list it, and that it may write there: a small probe file with a `_`-prefixed name
//! (which Spark, Hive and Hadoop listings skip) is created, written, flushed and deleted.
//! Each refusal comes back with the service's error code and what to do about it.

use serde_json::Value;

use crate::plumbing::dfs;

/// The file system of one account, as its credential sees it.
pub(super) struct Storage<'a> {
    /// The shared HTTP client.
    pub client: &'a reqwest::Client,
    /// The DFS endpoint, `https://ACCOUNT.dfs.core.windows.net`.
    pub dfs: &'a str,
    /// The container (file system).
    pub container: &'a str,
    /// Authorizes each request with the account's credential.
    pub authorizer: &'a crate::capabilities::auth::Authorizer,
}

/// Which request a refusal answered, for the hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    List,
    Write,
    Delete,
}

impl Storage<'_> {
    /// Lists one path of the file system: it must exist and the app needs a data role.
    pub async fn can_list(&self) -> Result<(), String> {
        let url = format!(
            "{}?resource=filesystem&recursive=false&maxResults=1",
            dfs::file_system_url(self.dfs, self.container)
        );
        self.send(self.client.get(&url), Step::List).await
    }

    /// Creates, writes, flushes and deletes a probe file; returns its path. When the file
    /// was created but could not be deleted, the error names it.
    pub async fn can_write(&self) -> Result<String, String> {
        let name = format!(
            "_adls-writeback-probe-{}.tmp",
            uuid::Uuid::new_v4().simple()
        );
        let url = dfs::path_url(self.dfs, self.container, &name);
        let body: &[u8] = b"adls-writeback accounts test: write access probe\n";
        let create = self
            .client
            .put(format!("{url}?resource=file"))
            .header("If-None-Match", "*");
        self.send(create, Step::Write).await?;
        let append = self
            .client
            .patch(format!("{url}?action=append&position=0"))
            .body(body.to_vec());
        let flush = self.client.patch(format!(
            "{url}?action=flush&position={}&close=true",
            body.len()
        ));
        let written = match self.send(append, Step::Write).await {
            Ok(()) => self.send(flush, Step::Write).await,
            Err(e) => Err(e),
        };
        let deleted = self.send(self.client.delete(&url), Step::Delete).await;
        match (written, deleted) {
            (Ok(()), Ok(())) => Ok(name),
            (Err(e), Ok(())) => Err(e),
            (written, Err(e)) => {
                let before = written
                    .err()
                    .map_or(String::new(), |w| format!("{w}; then "));
                Err(format!(
                    "{before}the probe file `{}/{name}` could not be deleted: {e}; remove it by hand",
                    self.container
                ))
            }
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder, step: Step) -> Result<(), String> {
        let mut request = dfs::versioned(request)
            .build()
            .map_err(|e| format!("bad request to {}: {e}", self.dfs))?;
        self.authorizer
            .authorize(&mut request)
            .await
            .map_err(|e| crate::runner::wording::auth_message(&e))?;
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| format!("cannot reach the DFS endpoint {}: {e}", self.dfs))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let header_code = dfs::error_code(response.headers()).map(str::to_string);
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let code = body["error"]["code"]
            .as_str()
            .map(str::to_string)
            .or(header_code)
            .unwrap_or_default();
        let message = body["error"]["message"].as_str().unwrap_or_default();
        let message = message.lines().next().unwrap_or_default();
        let hint = hint(&code, step, self.container);
        Err(format!("{code} ({status}): {message} — {hint}"))
    }
}

/// What to do about the service's error `code`, answered to `step`.
fn hint(code: &str, step: Step, container: &str) -> String {
    const ROLE: &str = "`Storage Blob Data Contributor`";
    match (code, step) {
        ("FilesystemNotFound" | "ContainerNotFound", _) => format!(
            "the container `{container}` does not exist in this storage account: create it, or fix `container`"
        ),
        ("AuthorizationPermissionMismatch", Step::List) => format!(
            "the app signs in but has no data access: give it the {ROLE} role on the storage \
             account or the container (Access control (IAM)); a new role assignment takes a \
             few minutes to apply"
        ),
        ("AuthorizationPermissionMismatch", _) => format!(
            "the app may read `{container}` but not write to it: its role is read-only (like \
             `Storage Blob Data Reader`), and every run would fail when it writes. Give it the \
             {ROLE} role on the storage account or the container (Access control (IAM)); a \
             new role assignment takes a few minutes to apply"
        ),
        ("AuthorizationFailure", _) => format!(
            "the request was refused: check the storage account's firewall and network rules, \
             and the app's role ({ROLE})"
        ),
        ("InvalidAuthenticationInfo", _) => {
            "the token was refused: check `tenant_id` (the storage account's tenant)".into()
        }
        ("AuthenticationFailed", _) => {
            "the signature was refused: check the account key or SAS, and `account_name`".into()
        }
        (_, Step::List) => "check `account_name`, `container` and `dfs_endpoint`".into(),
        _ => format!("the app could list `{container}` but not write a file there"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permission_mismatch_is_explained_by_the_step_it_answered() {
        let list = hint("AuthorizationPermissionMismatch", Step::List, "exports");
        assert!(list.contains("no data access"), "{list}");
        let write = hint("AuthorizationPermissionMismatch", Step::Write, "exports");
        assert!(
            write.contains("read-only") && write.contains("Storage Blob Data Contributor"),
            "{write}"
        );
        let missing = hint("FilesystemNotFound", Step::Write, "exports");
        assert!(missing.contains("`exports` does not exist"), "{missing}");
    }
}
