//! Publishing an encoded output through the Blob endpoint (a flat namespace, where no
//! rename is atomic): every file's blocks are staged under its own name while the data
//! streams, invisible until committed; only when all of them are staged are the block lists
//! committed, one blob each, then the manifest and the marker, then the parts of the earlier
//! set that this one does not overwrite are deleted.
//!
//! So a run that fails while the data streams (bad input, a refused request) leaves the
//! output as it was. Once committing starts, a reader listing the directory may see new
//! parts beside old ones for the few requests it takes; the manifest, committed after every
//! part, names the parts and their MD5s, so a reader that follows it knows the set it read.

use super::blob_write::StagedBlob;
use super::{Host, Run};
use crate::blob::{self, BlockList};
use crate::format::manifest::{MANIFEST, SUCCESS};
use crate::format::parquet;
use crate::model::{Algorithm, DatasetInfo, JobError, Level, StorageError, WrittenFile};
use crate::naming::{PartNames, Target};

/// Most listing pages read while looking for the earlier set's parts (5,000 names a page).
const MAX_LIST_PAGES: usize = 10_000;

impl<H: Host> Run<'_, H> {
    /// Commits `staged` (the blobs of `files`), then, for a directory output, writes its
    /// manifest and marker and deletes the earlier set's parts not overwritten.
    pub(super) fn publish_blobs(
        &mut self,
        target: &Target,
        info: &DatasetInfo,
        files: &[WrittenFile],
        staged: Vec<StagedBlob>,
        columns: Vec<String>,
        schema: Option<Vec<parquet::Column>>,
    ) -> Result<(), JobError> {
        let content_type = self.job.output.format.content_type();
        for blob in &staged {
            self.commit_blob(blob, content_type)?;
        }
        let output = &self.job.output;
        if !output.multi_file() {
            return Ok(());
        }
        let (manifest, marker) = (output.manifest, output.success_marker);
        if manifest {
            let document = self
                .manifest(target, info, files, columns, schema)
                .to_bytes();
            let path = format!("{}/{MANIFEST}", target.path);
            self.small_blob(&path, document, "application/json")?;
        }
        if marker {
            let path = format!("{}/{SUCCESS}", target.path);
            self.small_blob(&path, Vec::new(), "application/octet-stream")?;
        }
        self.delete_earlier_parts(target, files);
        Ok(())
    }

    /// Writes a small blob whole: one block, committed with its MD5.
    fn small_blob(
        &mut self,
        path: &str,
        data: Vec<u8>,
        content_type: &str,
    ) -> Result<(), JobError> {
        let size = data.len() as u64;
        let body = self.host.body(data);
        let md5 = self.host.digest(Algorithm::Md5, &body);
        let mut block_ids = Vec::new();
        if size > 0 {
            let id = self.blob_driver().block_id(0);
            self.authorize()?;
            let put = self.blob_driver().put_block(path, &id, &md5);
            self.send_body(&put, &body, "put block")?;
            block_ids.push(id);
        }
        self.authorize()?;
        let list = BlockList {
            latest: &block_ids,
            md5: Some(&md5),
            content_type,
            ..BlockList::default()
        };
        let commit = self.blob_driver().put_block_list(path, &list);
        self.send(commit, "put block list")?;
        Ok(())
    }

    /// Deletes the parts in the output directory that `files` (this run's) did not
    /// overwrite: the earlier set had more. Failures are warnings: the new set is complete.
    fn delete_earlier_parts(&mut self, target: &Target, files: &[WrittenFile]) {
        let earlier = match self.blob_names_in(&target.path) {
            Ok(names) => names,
            Err(e) => {
                let warning = format!("could not list {} for earlier parts: {e:?}", target.path);
                self.host.log(Level::Warn, &warning);
                return;
            }
        };
        let part_names = PartNames::new(self.job, &target.vars);
        for path in earlier {
            let name = path.rsplit('/').next().unwrap_or(&path);
            let ours = files.iter().any(|f| f.path == path);
            if ours || part_names.number(name).is_none() {
                continue;
            }
            match self.delete(&path, "delete an earlier part") {
                Ok(()) => self.host.log(
                    Level::Info,
                    &format!("deleted {path}, a part of the earlier output"),
                ),
                Err(e) => self.host.log(
                    Level::Warn,
                    &format!("could not delete {path}, a part of the earlier output: {e:?}"),
                ),
            }
        }
    }

    /// The names of the blobs directly under the virtual directory `directory`.
    fn blob_names_in(&mut self, directory: &str) -> Result<Vec<String>, JobError> {
        const OPERATION: &str = "list output directory";
        let mut names = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            self.authorize()?;
            let list = self.blob_driver().list_blobs(directory, marker.as_deref());
            let response = self.send(list, OPERATION)?;
            let (page, next) = blob::blob_names(&response)?;
            names.extend(page);
            match next {
                Some(next) => marker = Some(next),
                None => return Ok(names),
            }
        }
        let message = format!("`{directory}` lists more than {MAX_LIST_PAGES} pages");
        Err(StorageError::unexpected(OPERATION, 200, message).into())
    }
}
