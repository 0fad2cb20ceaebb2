//! Writing through the Blob endpoint (a flat-namespace account): blocks staged with Put
//! Block, published by one Put Block List.
//!
//! Staged blocks are invisible until a block list commits them, so the target is always the
//! old blob or the new one: replace needs no temporary name, and a failed run leaves
//! uncommitted blocks behind that the service discards (after a week) and no reader sees.
//! Append commits the blob's committed blocks followed by this run's, with `If-Match` on the
//! ETag read before, so a concurrent writer or a failed run leaves the blob as it was.
//!
//! Retries: a Put Block sent twice stages the same bytes under the same ID, which is
//! harmless. A replace's block list sent again commits the same blocks again (`Latest` finds
//! them committed). An append's block list sent again after the first succeeded meets a
//! moved ETag (412 `ConditionNotMet`): the blob is then checked for this run's last block.

use super::{Host, Plan, Run};
use crate::blob::{self, BlockList, CommittedBlock};
use crate::model::{JobError, Level, StorageError};
use crate::naming::Target;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// The content type of a CSV blob, as the DFS path's flush sets it.
const CSV: &str = "text/csv";

/// A blob whose blocks are staged, to be committed by [`Run::commit_blob`].
#[derive(Debug)]
pub(super) struct StagedBlob {
    /// Its name in the container.
    pub path: String,
    /// Its blocks, in order.
    pub block_ids: Vec<String>,
    /// The MD5 of its whole content.
    pub md5: Vec<u8>,
    /// Data rows in it.
    pub rows: u64,
    /// Its SHA-256, base64.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

impl<H: Host> Run<'_, H> {
    /// Replace through Blob: stage every block, then commit them with the file's MD5.
    /// Returns the blob's size.
    pub(super) fn replace_blob(&mut self, target: &Target) -> Result<u64, JobError> {
        let mut source = self.host.open(&self.job.dataset)?;
        self.authorize()?;
        let plan = Plan {
            path: &target.path,
            base: 0,
            skip_header: false,
            prefix: b"",
            existing_header: None,
        };
        let size = self.upload(source.as_mut(), &plan)?;
        let staged = StagedBlob {
            path: target.path.clone(),
            block_ids: std::mem::take(&mut self.written.block_ids),
            md5: self.host.hash_value(&self.written.md5),
            rows: self.written.rows,
            sha256: BASE64.encode(self.host.hash_value(&self.written.sha256)),
            size,
        };
        self.commit_blob(&staged, CSV)?;
        Ok(size)
    }

    /// Commits `staged` with its MD5, `content_type` and the properties every written file
    /// carries, then checks what the service holds.
    pub(super) fn commit_blob(
        &mut self,
        staged: &StagedBlob,
        content_type: &str,
    ) -> Result<(), JobError> {
        self.authorize()?;
        let encoded = self
            .file_properties(staged.rows, &staged.sha256)
            .map(|(key, value)| (key, blob::metadata_value(&value)));
        let metadata = encoded
            .each_ref()
            .map(|(key, value)| (*key, value.as_str()));
        let list = BlockList {
            latest: &staged.block_ids,
            md5: Some(&staged.md5),
            content_type,
            metadata: &metadata,
            ..BlockList::default()
        };
        let commit = self.blob_driver().put_block_list(&staged.path, &list);
        self.send(commit, "put block list")?;
        let md5_base64 = crate::dfs::encode_md5(&staged.md5);
        self.check_committed(&staged.path, staged.size, Some(&md5_base64))
    }

    /// Append through Blob: check the existing blob's header, stage the rows, commit the
    /// committed blocks plus this run's with `If-Match`. Returns the blob's size.
    pub(super) fn append_blob(&mut self, target: &Target) -> Result<u64, JobError> {
        self.authorize()?;
        let Some(props) = self.head(&target.path, "get properties of target")? else {
            self.host.log(
                Level::Info,
                &format!("{} does not exist yet: writing it whole", target.path),
            );
            return self.replace_blob(target);
        };
        let etag = (!props.etag.is_empty()).then_some(props.etag.clone());
        let committed = self.committed_blocks(&target.path, props.length)?;
        let header;
        let plan = if props.length == 0 {
            Plan {
                path: &target.path,
                base: 0,
                skip_header: false,
                prefix: b"",
                existing_header: None,
            }
        } else {
            let (found, crlf, last_byte) = self.existing_header(&target.path, props.length)?;
            header = found;
            Plan {
                path: &target.path,
                base: props.length,
                skip_header: true,
                prefix: match last_byte {
                    b'\n' | b'\r' => b"",
                    _ if crlf => b"\r\n",
                    _ => b"\n",
                },
                existing_header: Some(&header),
            }
        };
        let mut source = self.host.open(&self.job.dataset)?;
        let size = self.upload(source.as_mut(), &plan)?;
        if self.written.bytes == 0 {
            return Ok(size);
        }
        self.authorize()?;
        let committed: Vec<String> = committed.into_iter().map(|b| b.id).collect();
        let latest = self.written.block_ids.clone();
        // The blob's metadata describes the run that wrote it whole; an append keeps it
        // (a commit without metadata would clear it), as the DFS path's append does.
        let metadata: Vec<(&str, &str)> = props
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let list = BlockList {
            committed: &committed,
            latest: &latest,
            content_type: CSV,
            metadata: &metadata,
            if_match: etag.as_deref(),
            ..BlockList::default()
        };
        let commit = self.blob_driver().put_block_list(&target.path, &list);
        let response = self.exchange(commit, "put block list")?;
        // A refused commit may be the host's retry of one that succeeded.
        if let Err(e) = self.dfs.check(&response, "put block list")
            && !(e.code == "ConditionNotMet" && self.appended_already(&target.path, size)?)
        {
            return Err(e.into());
        }
        Ok(size)
    }

    /// The Blob request builder of a run that writes through Blob.
    pub(super) fn blob_driver(&mut self) -> &mut blob::Blob {
        self.blob
            .as_mut()
            .expect("Blob writes are only planned for runs through the Blob endpoint")
    }

    /// The committed blocks of `path`, which must make up its whole `length`: a blob
    /// uploaded in one piece (Put Blob) has none, and committing a list without its
    /// content would lose it.
    fn committed_blocks(
        &mut self,
        path: &str,
        length: u64,
    ) -> Result<Vec<CommittedBlock>, JobError> {
        const OPERATION: &str = "get block list of target";
        self.authorize()?;
        let request = self.blob_driver().get_block_list(path);
        let response = self.send(request, OPERATION)?;
        let blocks = blob::committed_blocks(&response)?;
        let total: u64 = blocks.iter().map(|b| b.size).sum();
        if total != length {
            return Err(StorageError::unexpected(
                OPERATION,
                response.status,
                format!(
                    "`{path}` holds {length} bytes but its committed blocks {total}: it was not \
                     written in blocks (a single Put Blob, or an append or page blob), so rows \
                     cannot be added to it without rewriting it. Use update = replace."
                ),
            )
            .into());
        }
        Ok(blocks)
    }

    /// Checks what a block list committed: `size` bytes and, when given, our MD5.
    fn check_committed(
        &mut self,
        path: &str,
        size: u64,
        md5: Option<&str>,
    ) -> Result<(), JobError> {
        const OPERATION: &str = "check blob after put block list";
        self.authorize()?;
        let props = self.head(path, OPERATION)?;
        let (length, stored) = props
            .map(|p| (p.length, p.content_md5))
            .unwrap_or((0, None));
        if length != size {
            return Err(StorageError::unexpected(
                OPERATION,
                200,
                format!(
                    "length after put block list differs: the service holds {length} bytes \
                     of `{path}`, this run wrote {size}"
                ),
            )
            .into());
        }
        if let (Some(want), Some(got)) = (md5, stored.as_deref())
            && want != got
        {
            return Err(StorageError::unexpected(
                OPERATION,
                200,
                format!(
                    "MD5 after put block list differs: the service stored {got} for `{path}`, \
                     this run wrote {want}"
                ),
            )
            .into());
        }
        Ok(())
    }
}
