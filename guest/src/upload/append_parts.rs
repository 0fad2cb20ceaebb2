//! Append to a multi-file output: this run's parts are numbered after those already in the
//! output directory, written under the temporary directory as a replace writes them, then
//! moved in one by one, each rename refusing a name already taken (two writers never
//! overwrite each other's parts). The manifest goes last, renamed onto the old one with
//! `If-Match` on the ETag it had when the run began, so a reader following the manifest sees
//! the earlier parts, or those and every new one. A run that fails before the manifest is in
//! place moves its parts back out: the output is as it was.

use super::Host;
use super::Run;
use crate::dfs::Destination;
use crate::format::manifest::{MANIFEST, SUCCESS};
use crate::format::parquet;
use crate::model::{DatasetInfo, JobError, Level, StorageError, ValidationError, WrittenFile};
use crate::naming::{PartNames, Target};

/// Most listing pages read to number the new parts (5,000 names a page).
const MAX_LIST_PAGES: usize = 10_000;

/// What an output directory holds before an append to it.
#[derive(Debug)]
pub(super) struct ExistingParts {
    /// The number of this run's first part.
    pub next_part: u32,
    /// The manifest as read and its ETag, when the output has one.
    manifest: Option<(Vec<u8>, String)>,
}

impl<H: Host> Run<'_, H> {
    /// Reads the output directory an append adds to: `None` when there is none yet (the
    /// output is then written whole).
    pub(super) fn existing_parts(
        &mut self,
        target: &Target,
    ) -> Result<Option<ExistingParts>, JobError> {
        const OPERATION: &str = "get properties of target";
        self.authorize()?;
        match self.head(&target.path, OPERATION)? {
            None => {
                let message = format!("{} does not exist yet: writing it whole", target.path);
                self.host.log(Level::Info, &message);
                return Ok(None);
            }
            Some(p) if !p.directory => {
                let message = format!(
                    "`{}` is a file, not a directory of parts: choose another output.directory",
                    target.path
                );
                return Err(StorageError::unexpected(OPERATION, 200, message).into());
            }
            Some(_) => {}
        }
        let mut highest = 0;
        let mut parts = 0;
        let part_names = PartNames::new(self.job, &target.vars);
        for name in self.names_in(&target.path)? {
            if let Some(n) = part_names.number(&name) {
                highest = highest.max(n);
                parts += 1;
            }
        }
        let manifest = self.read_manifest(&format!("{}/{MANIFEST}", target.path))?;
        if manifest.is_none() && parts > 0 && self.job.output.manifest {
            return Err(JobError::Invalid(vec![ValidationError {
                field: "output.manifest".into(),
                message: format!(
                    "`{}` holds {parts} parts but no {MANIFEST}: a manifest lists every part, \
                     and the digests of these are unknown; append without a manifest, or \
                     replace the output once",
                    target.path
                ),
            }]));
        }
        let next_part = highest.checked_add(1).ok_or_else(|| {
            let message = format!("`{}` already holds the last part number", target.path);
            StorageError::unexpected("number the new parts", 200, message)
        })?;
        let message = format!(
            "appending to {}: {parts} parts there, this run's first is number {next_part}",
            target.path
        );
        self.host.log(Level::Info, &message);
        Ok(Some(ExistingParts {
            next_part,
            manifest,
        }))
    }

    /// The names (without directory) of the files directly in `directory`.
    fn names_in(&mut self, directory: &str) -> Result<Vec<String>, JobError> {
        self.authorize()?;
        let entries = self.entries_in(Some(directory), MAX_LIST_PAGES)?;
        let files = entries
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, dir)| !dir);
        Ok(files
            .map(|(path, _)| match path.rsplit_once('/') {
                Some((_, name)) => name.to_owned(),
                None => path,
            })
            .collect())
    }

    /// The manifest at `path` and its ETag, `None` when there is none.
    fn read_manifest(&mut self, path: &str) -> Result<Option<(Vec<u8>, String)>, JobError> {
        const OPERATION: &str = "read the output's manifest";
        self.authorize()?;
        let Some(props) = self.head(path, OPERATION)? else {
            return Ok(None);
        };
        if props.length == 0 {
            return Ok(Some((Vec::new(), props.etag)));
        }
        self.authorize()?;
        let read = self.dfs.read(path, 0, props.length - 1);
        let response = self.send(read, OPERATION)?;
        Ok(Some((response.body, props.etag)))
    }

    /// Publishes an append's `files` (under the temporary directory): the manifest that
    /// will list them checked against the existing one, each part moved in, then the
    /// manifest and the marker. On failure the parts moved so far are moved back.
    pub(super) fn publish_parts(
        &mut self,
        target: &Target,
        info: &DatasetInfo,
        existing: &ExistingParts,
        files: &[WrittenFile],
        columns: Vec<String>,
        schema: Option<Vec<parquet::Column>>,
    ) -> Result<(), JobError> {
        let manifest_path = format!("{}/{MANIFEST}", target.path);
        // An output that has a manifest keeps one listing every part.
        let document = match &existing.manifest {
            Some((previous, _)) => {
                let manifest = self.manifest(target, info, files, columns, schema);
                let extended = manifest.extending(previous).map_err(|why| {
                    let message = format!("{manifest_path} cannot list this run's parts: {why}");
                    StorageError::unexpected("extend the output's manifest", 200, message)
                })?;
                Some(extended)
            }
            None if self.job.output.manifest => Some(
                self.manifest(target, info, files, columns, schema)
                    .to_bytes(),
            ),
            None => None,
        };
        let mut moved = Vec::new();
        let published = self
            .move_parts_in(target, files, &mut moved)
            .and_then(|()| {
                let Some(document) = document else {
                    return Ok(());
                };
                let etag = existing.manifest.as_ref().map(|(_, etag)| etag.as_str());
                self.replace_manifest(target, document, etag)
            });
        if let Err(e) = published {
            for (part, dest) in moved.iter().rev() {
                if let Err(back) = self.rename_onto(dest, part, "take back a part") {
                    let warning = format!("could not take {dest} back out of the output: {back:?}");
                    self.host.log(Level::Warn, &warning);
                }
            }
            return Err(e);
        }
        if self.job.output.success_marker {
            let marker = format!("{}/{SUCCESS}", target.path);
            self.authorize()?;
            if self.head(&marker, "get properties of marker")?.is_none() {
                let temp = format!("{}/{SUCCESS}", target.temp_path);
                self.small_file(&temp, Vec::new(), "application/octet-stream")?;
                self.rename_onto(&temp, &marker, "publish marker")?;
            }
        }
        Ok(())
    }

    /// Renames each of `files` into the output directory under a name nobody holds yet,
    /// recording in `moved` each (temporary path, published path) as it goes.
    fn move_parts_in(
        &mut self,
        target: &Target,
        files: &[WrittenFile],
        moved: &mut Vec<(String, String)>,
    ) -> Result<(), JobError> {
        const OPERATION: &str = "move a part into the output";
        for file in files {
            let name = file.path.rsplit('/').next().unwrap_or(&file.path);
            let dest = format!("{}/{name}", target.path);
            let moving = self.rename_to(
                &file.path,
                &dest,
                Some(Destination::Absent),
                Some(&file.md5),
                OPERATION,
            );
            raced(moving, OPERATION, &["PathAlreadyExists"], || {
                format!(
                    "{dest} appeared while this run wrote its parts: another run is appending \
                     to {} at the same time; this run's parts were taken back, run it again",
                    target.path
                )
            })?;
            moved.push((file.path.clone(), dest));
        }
        Ok(())
    }

    /// Publishes `document` as the output's manifest, provided the one there still has
    /// `etag` (or, for `None`, that there is still none).
    fn replace_manifest(
        &mut self,
        target: &Target,
        document: Vec<u8>,
        etag: Option<&str>,
    ) -> Result<(), JobError> {
        const OPERATION: &str = "publish the manifest";
        let temp = format!("{}/{MANIFEST}", target.temp_path);
        let dest = format!("{}/{MANIFEST}", target.path);
        let md5 = self.small_file(&temp, document, "application/json")?;
        let destination = etag.map_or(Destination::Absent, Destination::Unchanged);
        let publishing = self.rename_to(&temp, &dest, Some(destination), Some(&md5), OPERATION);
        raced(
            publishing,
            OPERATION,
            &["ConditionNotMet", "PathAlreadyExists"],
            || {
                format!(
                    "{dest} changed while this run wrote its parts: another run appended to {} at \
                 the same time; this run's parts were taken back, run it again",
                    target.path
                )
            },
        )
    }
}

/// `result`, with a refusal of one of `codes` (another writer got there first) explained by
/// `message`.
fn raced(
    result: Result<(), JobError>,
    operation: &str,
    codes: &[&str],
    message: impl FnOnce() -> String,
) -> Result<(), JobError> {
    match result {
        Err(JobError::Storage(e)) if codes.contains(&e.code.as_str()) => {
            Err(StorageError::unexpected(operation, e.status, message()).into())
        }
        other => other,
    }
}
