//! Recognising requests that had succeeded before a retry of them was refused, and removing
//! the temporary files that killed runs of the same job left behind.
//!
//! The host retries a request whose response it did not get (timeouts, dropped connections,
//! 5xx); when the first attempt had succeeded, the retry meets the changed state: a second
//! flush is refused (`InvalidFlushPosition`, or `ConditionNotMet` as the ETag moved), a
//! second rename finds no source (`SourcePathNotFound`), a second delete finds nothing
//! (`PathNotFound`). Each is then checked against what the service holds.

use super::{Body, Host, Run};
use crate::dfs::Properties;
use crate::model::Algorithm;
use crate::model::{JobError, Level, StorageError};
use crate::naming::Target;

/// Most pages of a directory listing read while looking for leftovers.
const MAX_LIST_PAGES: usize = 100;

/// Whether a refused flush may be the retry of one that succeeded.
pub(super) fn maybe_done_flush(e: &StorageError) -> bool {
    matches!(
        (e.status, e.code.as_str()),
        (400, "InvalidFlushPosition") | (412, "ConditionNotMet")
    )
}

/// What a killed run may leave beside a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Leftover {
    /// A single file's temporary file, `_<name>.<run id>.tmp`.
    TempFile,
    /// A directory output's temporary directory, `_<name>.<run id>.tmp`.
    TempDirectory,
    /// A directory output's previous set, renamed away during a swap, `_<name>.<run id>.old`.
    OldDirectory,
}

impl Leftover {
    fn suffix(self) -> &'static str {
        match self {
            Leftover::TempFile | Leftover::TempDirectory => ".tmp",
            Leftover::OldDirectory => ".old",
        }
    }

    fn is_directory(self) -> bool {
        self != Leftover::TempFile
    }

    fn what(self) -> &'static str {
        match self {
            Leftover::TempFile => "temporary file",
            Leftover::TempDirectory => "temporary directory",
            Leftover::OldDirectory => "previous output set aside",
        }
    }
}

/// Whether `name` (without directory) is what another run writing `target_name` left
/// behind: `_<target name>.<run id><suffix>`.
pub(super) fn is_leftover(name: &str, target_name: &str, own_run_id: &str, suffix: &str) -> bool {
    name.strip_prefix('_')
        .and_then(|n| n.strip_prefix(target_name))
        .and_then(|n| n.strip_prefix('.'))
        .and_then(|n| n.strip_suffix(suffix))
        .is_some_and(|run_id| {
            !run_id.is_empty()
                && run_id != own_run_id
                && run_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl<H: Host> Run<'_, H> {
    /// `HEAD` of `path`: `None` when it does not exist.
    pub(super) fn head(
        &mut self,
        path: &str,
        operation: &str,
    ) -> Result<Option<Properties>, JobError> {
        let head = self.dfs.get_properties(path);
        let response = self.exchange(head, operation)?;
        Ok(self.dfs.properties(&response)?)
    }

    /// Deletes `path`; a path already gone counts as deleted (a retried delete).
    pub(super) fn delete(&mut self, path: &str, operation: &str) -> Result<(), JobError> {
        self.authorize()?;
        let delete = self.dfs.delete(path);
        let response = self.exchange(delete, operation)?;
        if response.status == 404 && self.dfs.error(&response, operation).code == "PathNotFound" {
            return Ok(());
        }
        self.dfs.check(&response, operation)?;
        Ok(())
    }

    /// After a rename refused with `SourcePathNotFound`: whether the target holds what this
    /// run wrote (the rename had succeeded, and a retry of it found no source).
    pub(super) fn renamed_already(
        &mut self,
        target: &Target,
        size: u64,
        md5: &str,
    ) -> Result<bool, JobError> {
        self.authorize()?;
        let done = self
            .head(&target.path, "check target after rename")?
            .is_some_and(|p| p.length == size && p.content_md5.as_deref() == Some(md5));
        if done {
            self.host.log(
                Level::Info,
                &format!(
                    "the rename onto {} had succeeded (its response was lost and a retry of it \
                     found no source): continuing",
                    target.path
                ),
            );
        }
        Ok(done)
    }

    /// After an append-mode flush refused as a possible retry: whether the file is `size`
    /// bytes long and ends with this run's last block.
    pub(super) fn appended_already(&mut self, path: &str, size: u64) -> Result<bool, JobError> {
        let Some((position, last)) = self.written.last_block.clone() else {
            return Ok(false);
        };
        let len = last.len();
        self.authorize()?;
        let length_ok = self
            .head(path, "check file after flush")?
            .is_some_and(|p| p.length == size);
        if !length_ok || len == 0 {
            return Ok(false);
        }
        let read = self.dfs.read(path, position, position + len - 1);
        let response = self.exchange(read, "check file after flush")?;
        let done = (200..300).contains(&response.status) && {
            let read_back = self.host.body(response.body);
            self.host.digest(Algorithm::Md5, &read_back) == self.host.digest(Algorithm::Md5, &last)
        };
        if done {
            self.host.log(
                Level::Info,
                &format!(
                    "the flush of {path} had succeeded (its response was lost and a retry of it \
                     refused): continuing"
                ),
            );
        }
        Ok(done)
    }

    /// Every path directly in `directory` (the root for `None`), with whether it is a
    /// directory, reading at most `max_pages` pages; `None` when the directory does not
    /// exist.
    pub(super) fn entries_in(
        &mut self,
        directory: Option<&str>,
        max_pages: usize,
    ) -> Result<Option<Vec<(String, bool)>>, JobError> {
        const OPERATION: &str = "list target directory";
        let mut entries = Vec::new();
        let mut continuation: Option<String> = None;
        for _ in 0..max_pages {
            let list = self.dfs.list_paths(directory, continuation.as_deref());
            let response = self.exchange(list, OPERATION)?;
            if response.status == 404 {
                return Ok(None);
            }
            self.dfs.check(&response, OPERATION)?;
            let (page, next) = self.dfs.entries(&response)?;
            entries.extend(page);
            match next {
                Some(token) => continuation = Some(token),
                None => return Ok(Some(entries)),
            }
        }
        // As many pages as asked for: what was read is what there is to act on.
        Ok(Some(entries))
    }

    /// Deletes the temporary files of other runs writing the same target, left by killed
    /// processes. Failures are logged as warnings: they never fail the run.
    pub(super) fn remove_leftovers(&mut self, target: &Target) {
        self.remove_leftovers_of(target, Leftover::TempFile);
    }

    /// Deletes what killed runs of the same target left of `kind`; failures are warnings.
    pub(super) fn remove_leftovers_of(&mut self, target: &Target, kind: Leftover) {
        if let Err(e) = self.try_remove_leftovers(target, kind) {
            self.host.log(
                Level::Warn,
                &format!("could not look for leftovers ({}): {e:?}", kind.what()),
            );
        }
    }

    fn try_remove_leftovers(&mut self, target: &Target, kind: Leftover) -> Result<(), JobError> {
        let (directory, name) = match target.path.rsplit_once('/') {
            Some((dir, name)) => (Some(dir), name),
            None => (None, target.path.as_str()),
        };
        // No directory yet: nothing left over.
        let entries = self
            .entries_in(directory, MAX_LIST_PAGES)?
            .unwrap_or_default();
        let leftovers: Vec<String> = entries
            .into_iter()
            .filter_map(|(path, is_directory)| {
                let file = path.rsplit('/').next().unwrap_or(&path);
                (is_directory == kind.is_directory()
                    && is_leftover(file, name, &self.job.run_id, kind.suffix()))
                .then_some(path)
            })
            .collect();
        let what = kind.what();
        for path in leftovers {
            let operation = format!("delete leftover {what}");
            let deleted = match kind.is_directory() {
                true => self.delete_tree(&path, &operation),
                false => self.delete(&path, &operation),
            };
            match deleted {
                Ok(()) => self.host.log(
                    Level::Info,
                    &format!("deleted {path}, the {what} of an earlier run that ended early"),
                ),
                Err(e) => self.host.log(
                    Level::Warn,
                    &format!("could not delete the leftover {what} {path}: {e:?}"),
                ),
            }
        }
        Ok(())
    }
}
