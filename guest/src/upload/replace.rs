//! Replace: leftovers of killed runs removed, temporary file, upload, flush, length check,
//! rename.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{Host, Plan, Run, Source};
use crate::model::{JobError, Level, StorageError};
use crate::naming::Target;

impl<H: Host> Run<'_, H> {
    /// Replace: temporary file, upload, flush, rename. Returns the file's size.
    pub(super) fn replace(&mut self, target: &Target) -> Result<u64, JobError> {
        let mut source = self.host.open(&self.job.dataset)?;
        self.authorize()?;
        self.remove_leftovers(target);
        // Without If-None-Match: a retried run, or a retried request before any append,
        // truncates the file to empty again, which is harmless.
        self.create(&target.temp_path, false, "create temporary file")?;
        let outcome = self.fill_and_publish(source.as_mut(), target);
        if outcome.is_err() {
            self.discard(&target.temp_path);
        }
        outcome
    }

    fn fill_and_publish(
        &mut self,
        source: &mut dyn Source<H::Body>,
        target: &Target,
    ) -> Result<u64, JobError> {
        let plan = Plan {
            path: &target.temp_path,
            base: 0,
            skip_header: false,
            prefix: b"",
            existing_header: None,
        };
        let size = self.upload(source, &plan)?;
        let md5 = self.host.hash_value(&self.written.md5);
        let md5_base64 = crate::dfs::encode_md5(&md5);
        self.authorize()?;
        let flush = self.dfs.flush(&target.temp_path, size, Some(&md5), None);
        self.flush_replaced(flush, &target.temp_path, size, &md5_base64)?;
        let sha256 = BASE64.encode(self.host.hash_value(&self.written.sha256));
        let rows = self.written.rows;
        self.set_file_properties(&target.temp_path, rows, &sha256)?;
        self.authorize()?;
        let rename = self.dfs.rename(&target.temp_path, &target.path);
        let response = self.exchange(rename, "rename onto target")?;
        // A rename finding no source may be the host's retry of one that succeeded.
        if let Err(e) = self.dfs.check(&response, "rename onto target")
            && !(e.code == "SourcePathNotFound"
                && self.renamed_already(target, size, &md5_base64)?)
        {
            return Err(e.into());
        }
        Ok(size)
    }

    /// Sends the flush of the temporary file, then checks what the service committed: its
    /// length must be `size` (and its MD5 ours, when reported). A flush refused because a
    /// retry of it came after it had succeeded passes the same check.
    pub(super) fn flush_replaced(
        &mut self,
        flush: crate::model::Request,
        path: &str,
        size: u64,
        md5: &str,
    ) -> Result<(), JobError> {
        const OPERATION: &str = "flush temporary file";
        let response = self.exchange(flush, OPERATION)?;
        let flushed = self.dfs.check(&response, OPERATION);
        if let Err(e) = &flushed
            && !super::recovery::maybe_done_flush(e)
        {
            return Err(flushed.unwrap_err().into());
        }
        let props = self.head(path, "check length after flush")?;
        let (length, stored_md5) = props
            .map(|p| (p.length, p.content_md5))
            .unwrap_or((0, None));
        let md5_ok = stored_md5.as_deref().is_none_or(|m| m == md5);
        match flushed {
            Ok(()) if length == size && md5_ok => Ok(()),
            Ok(()) => {
                let message = if length != size {
                    format!(
                        "length after flush differs: the service holds {length} bytes of \
                         `{path}`, this run wrote {size}"
                    )
                } else {
                    format!(
                        "MD5 after flush differs: the service stored {} for `{path}`, this \
                         run wrote {md5}",
                        stored_md5.unwrap_or_default()
                    )
                };
                Err(
                    StorageError::unexpected("check length after flush", response.status, message)
                        .into(),
                )
            }
            Err(_) if length == size && stored_md5.as_deref() == Some(md5) => {
                self.host.log(
                    Level::Info,
                    &format!(
                        "the flush of {path} had succeeded (its response was lost and a retry \
                         of it refused): continuing"
                    ),
                );
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the temporary file after a failure; its own outcome is only logged.
    fn discard(&mut self, path: &str) {
        if let Err(e) = self.delete(path, "delete temporary file") {
            self.host.log(
                Level::Warn,
                &format!("could not delete the temporary file {path}: {e:?}"),
            );
        }
    }
}
