//! Append: the existing file's header checked, rows appended at its end, flush with
//! `If-Match`.

use super::{HEADER_PROBE, Host, Plan, Run};
use crate::chunk;
use crate::model::{JobError, Level, StorageError};
use crate::naming::Target;

impl<H: Host> Run<'_, H> {
    /// Append: check the existing file, then append the rows and flush with `If-Match`.
    /// Returns the file's size after the run.
    pub(super) fn append(&mut self, target: &Target) -> Result<u64, JobError> {
        self.authorize()?;
        let head = self.dfs.get_properties(&target.path);
        let response = self.exchange(head, "get properties of target")?;
        let Some(props) = self.dfs.properties(&response)? else {
            self.host.log(
                Level::Info,
                &format!("{} does not exist yet: writing it whole", target.path),
            );
            return self.replace(target);
        };
        if props.directory {
            return Err(StorageError::unexpected(
                "get properties of target",
                response.status,
                format!(
                    "`{}` is a directory, not a file: choose another output.file_name",
                    target.path
                ),
            )
            .into());
        }
        let etag = (!props.etag.is_empty()).then_some(props.etag.as_str());
        if props.length == 0 {
            // An empty file: the whole dataset, header included.
            let plan = Plan {
                path: &target.path,
                base: 0,
                skip_header: false,
                prefix: b"",
                existing_header: None,
            };
            return self.append_and_flush(&plan, etag);
        }
        let (header, crlf, last_byte) = self.existing_header(&target.path, props.length)?;
        let prefix: &[u8] = match last_byte {
            b'\n' | b'\r' => b"",
            _ if crlf => b"\r\n",
            _ => b"\n",
        };
        let plan = Plan {
            path: &target.path,
            base: props.length,
            skip_header: true,
            prefix,
            existing_header: Some(&header),
        };
        self.append_and_flush(&plan, etag)
    }

    fn append_and_flush(&mut self, plan: &Plan<'_>, etag: Option<&str>) -> Result<u64, JobError> {
        let mut source = self.host.open(&self.job.dataset)?;
        let size = self.upload(source.as_mut(), plan)?;
        if self.written.bytes > 0 {
            self.authorize()?;
            let flush = self.dfs.flush(plan.path, size, None, etag);
            let response = self.exchange(flush, "flush")?;
            // A refused flush may be the host's retry of one that succeeded.
            if let Err(e) = self.dfs.check(&response, "flush")
                && !(super::recovery::maybe_done_flush(&e)
                    && self.appended_already(plan.path, size)?)
            {
                return Err(e.into());
            }
        }
        Ok(size)
    }

    /// The existing file's header record, whether it ends with CRLF, and the file's last
    /// byte.
    pub(super) fn existing_header(
        &mut self,
        path: &str,
        length: u64,
    ) -> Result<(Vec<u8>, bool, u8), JobError> {
        const OPERATION: &str = "read existing header";
        let last = length.min(HEADER_PROBE) - 1;
        self.authorize()?;
        let read = self.dfs.read(path, 0, last);
        let response = self.send(read, OPERATION)?;
        // The whole file, when it is short (or the server ignored the range).
        let whole = response.body.len() as u64 == length;
        let bad = |message: String| StorageError::unexpected(OPERATION, response.status, message);
        let (header, crlf) = chunk::first_record(&response.body, whole).ok_or_else(|| {
            bad(if whole {
                format!("the existing file `{path}` has no complete header line")
            } else {
                format!(
                    "the existing file `{path}` has no header line within its first \
                     {HEADER_PROBE} bytes"
                )
            })
        })?;
        let last_byte = if let (true, Some(&last)) = (whole, response.body.last()) {
            last
        } else {
            self.authorize()?;
            let read = self.dfs.read(path, length - 1, length - 1);
            let response = self.send(read, "read existing last byte")?;
            *response.body.last().ok_or_else(|| {
                StorageError::unexpected(
                    "read existing last byte",
                    response.status,
                    format!("reading the last byte of `{path}` returned nothing"),
                )
            })?
        };
        Ok((header, crlf, last_byte))
    }
}
