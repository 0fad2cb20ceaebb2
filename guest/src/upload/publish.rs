//! Publishing an encoded output through DFS: a single file renamed onto the target; a
//! directory completed with its manifest and marker, then swapped in with two renames. Also
//! the small whole files (manifest, marker) and the renames and deletes that need.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::recovery::Leftover;
use super::{Host, Run};
use crate::dfs::Destination;
use crate::format::manifest::{self, Dataset, Manifest, Part};
use crate::format::parquet;
use crate::model::{Algorithm, DatasetInfo, JobError, Level, Request, WrittenFile};
use crate::naming::{self, Target};

impl<H: Host> Run<'_, H> {
    /// Publishes what [`write_files`](Run::write_files) wrote: a single file renamed onto
    /// the target; a directory completed with its manifest and marker, then swapped in.
    pub(super) fn publish(
        &mut self,
        target: &Target,
        info: &DatasetInfo,
        files: &[WrittenFile],
        columns: Vec<String>,
        schema: Option<Vec<parquet::Column>>,
    ) -> Result<(), JobError> {
        let output = &self.job.output;
        if !output.multi_file() {
            return self.rename_onto(&target.temp_path, &target.path, "rename onto target");
        }
        if output.manifest {
            let document = self
                .manifest(target, info, files, columns, schema)
                .to_bytes();
            let path = format!("{}/{}", target.temp_path, manifest::MANIFEST);
            self.small_file(&path, document, "application/json")?;
        }
        if output.success_marker {
            let path = format!("{}/{}", target.temp_path, manifest::SUCCESS);
            self.small_file(&path, Vec::new(), "application/octet-stream")?;
        }
        self.swap_in(target)?;
        // The new set is in place: what a run killed mid-swap set aside may go now.
        self.remove_leftovers_of(target, Leftover::OldDirectory);
        Ok(())
    }

    /// The manifest of this run's `files` (under their temporary paths), as published.
    pub(super) fn manifest<'a>(
        &'a self,
        target: &Target,
        info: &'a DatasetInfo,
        files: &'a [WrittenFile],
        columns: Vec<String>,
        schema: Option<Vec<parquet::Column>>,
    ) -> Manifest<'a> {
        let format = self.job.output.format;
        let dataset = Dataset {
            id: &self.job.dataset.id,
            name: &info.name,
        };
        let parts = files
            .iter()
            .map(|f| Part::published(f, format, &target.temp_path, &target.path))
            .collect();
        Manifest::new(
            &self.job.run_id,
            dataset,
            format,
            columns,
            schema.as_deref(),
            parts,
        )
    }

    /// Writes a small file whole: create, one append, flush; returns its MD5 (base64).
    pub(super) fn small_file(
        &mut self,
        path: &str,
        data: Vec<u8>,
        content_type: &str,
    ) -> Result<String, JobError> {
        self.authorize()?;
        self.create(path, false, "create manifest")?;
        let size = data.len() as u64;
        let body = self.host.body(data);
        let md5 = self.host.digest(Algorithm::Md5, &body);
        if size > 0 {
            let crc64 = self.host.digest(Algorithm::Crc64, &body);
            let append = self.dfs.append(path, 0, &crc64);
            self.send_body(&append, &body, "append manifest")?;
        }
        self.authorize()?;
        let md5_base64 = BASE64.encode(&md5);
        let flush = self.dfs.flush_as(path, size, Some(&md5), content_type);
        self.flush_replaced(flush, path, size, &md5_base64)?;
        Ok(md5_base64)
    }

    /// Sends one request with `body` (through a pipeline, the one way bodies go) and checks
    /// its answer.
    pub(super) fn send_body(
        &mut self,
        request: &Request,
        body: &H::Body,
        operation: &str,
    ) -> Result<(), JobError> {
        let pipeline = self.host.pipeline(1);
        self.host.submit(&pipeline, request, body);
        let (_, outcome) = self.host.next(&pipeline).expect("one request is in flight");
        self.dfs.check(&outcome?, operation)?;
        Ok(())
    }

    /// Replaces the target directory with the temporary one: the old one renamed away,
    /// the new one renamed into place, the old one deleted.
    fn swap_in(&mut self, target: &Target) -> Result<(), JobError> {
        let old = naming::old_path(&target.path, &self.job.run_id);
        self.authorize()?;
        let existing = self.head(&target.path, "get properties of target")?;
        if existing.is_some() {
            self.rename_onto(&target.path, &old, "move the old output aside")?;
        }
        if let Err(e) = self.rename_onto(&target.temp_path, &target.path, "rename onto target") {
            if existing.is_some() {
                // Put the old output back: the target is as it was.
                let _ = self.rename_onto(&old, &target.path, "restore the old output");
            }
            return Err(e);
        }
        if existing.is_some()
            && let Err(e) = self.delete_tree(&old, "delete the old output")
        {
            self.host
                .log(Level::Warn, &format!("could not delete {old}: {e:?}"));
        }
        Ok(())
    }

    /// Renames `from` onto `to`; a rename finding no source while `to` exists counts as
    /// done (the host's retry of one that succeeded).
    pub(super) fn rename_onto(
        &mut self,
        from: &str,
        to: &str,
        operation: &str,
    ) -> Result<(), JobError> {
        self.rename_to(from, to, None, None, operation)
    }

    /// Renames `from` onto `to`, provided `to` is as `destination` says (anything, for
    /// `None`). A rename finding no source while `to` exists, with the MD5 `ours` when given,
    /// counts as done: the host's retry of one that succeeded. A refusal is the service's
    /// error, for the caller to explain.
    pub(super) fn rename_to(
        &mut self,
        from: &str,
        to: &str,
        destination: Option<Destination>,
        ours: Option<&str>,
        operation: &str,
    ) -> Result<(), JobError> {
        self.authorize()?;
        let rename = match destination {
            Some(destination) => self.dfs.rename_if(from, to, destination),
            None => self.dfs.rename(from, to),
        };
        let response = self.exchange(rename, operation)?;
        if let Err(e) = self.dfs.check(&response, operation) {
            let done = e.code == "SourcePathNotFound" && {
                self.authorize()?;
                self.head(to, operation)?
                    .is_some_and(|p| ours.is_none_or(|md5| p.content_md5.as_deref() == Some(md5)))
            };
            if !done {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Deletes a directory and everything in it; one already gone counts as deleted.
    pub(super) fn delete_tree(&mut self, path: &str, operation: &str) -> Result<(), JobError> {
        self.authorize()?;
        let delete = self.dfs.delete_recursive(path);
        let response = self.exchange(delete, operation)?;
        if response.status == 404 {
            return Ok(());
        }
        self.dfs.check(&response, operation)?;
        Ok(())
    }
}
