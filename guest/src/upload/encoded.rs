//! Outputs that are not the source's bytes as they are: another format (`csv.gz`), another
//! CSV dialect, parts (`max_rows_per_file`, `max_bytes_per_file`), a manifest.
//!
//! The source is cut into records (the chunker's checks all apply), each record encoded
//! ([`crate::format`]) into the current file, whose bytes go out in appends of
//! `block_size` with `concurrency` in flight, as for a plain export. A single file is
//! written under its temporary name and renamed onto the target. A multi-file output is
//! written under a temporary directory beside the target directory (`_<name>.<run>.tmp`):
//! every part, then `_manifest.json` and `_SUCCESS`; then the old directory is renamed
//! away (`_<name>.<run>.old`), the new one renamed into place, and the old one deleted. A
//! reader thus finds the old set of files or the new one, never a mix; for the moment
//! between the two renames, the directory is absent. Any failure before the swap deletes
//! the temporary directory and leaves the target as it was. (`publish` does the renames;
//! `append_parts` adds parts to an existing directory; through the Blob endpoint, files go
//! under their own names, blocks staged, and `blob_encoded` commits them.)

use std::collections::BTreeMap;
use std::mem;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::blob_write::StagedBlob;
use super::recovery::Leftover;
use super::{Host, InFlight, READ_SIZE, Run, Source, Written};
use crate::chunk::Chunker;
use crate::format::parquet::{self, ParquetEncoder, RecordError};
use crate::format::records::Records;
use crate::format::{BOM, Encoder, FileEncoder, SourceHead};
use crate::model::{
    Algorithm, DataError, DatasetInfo, JobError, Level, OutputFormat, UpdateMode, WrittenFile,
};
use crate::naming::{self, Target};

/// The file being written.
struct Current {
    path: String,
    /// Bytes appended so far (the next append's position).
    position: u64,
    rows: u64,
    /// Rows pushed since the last block went out.
    unsent_rows: u64,
}

/// What [`Run::write_files`] wrote.
struct WrittenOutput {
    /// The files, under their temporary paths (through Blob, their own: blocks staged).
    files: Vec<WrittenFile>,
    /// The header's names.
    columns: Vec<String>,
    /// For Parquet, the files' typed columns.
    schema: Option<Vec<parquet::Column>>,
    /// Through Blob, each file's staged blocks, committed when the output is published.
    staged: Vec<StagedBlob>,
}

/// Where a record starts in the source.
#[derive(Clone, Copy, Default)]
struct Position {
    /// 1-based line.
    line: u64,
    /// 0-based byte offset.
    offset: u64,
}

impl Position {
    /// Moves past a record's bytes `raw` (blank lines before it and its terminator
    /// included); returns where the record itself starts.
    fn advance(&mut self, raw: &[u8]) -> Position {
        let blank = raw
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(raw.len());
        let starts = Position {
            line: self.line + memchr::memchr_iter(b'\n', &raw[..blank]).count() as u64,
            offset: self.offset + blank as u64,
        };
        self.line += memchr::memchr_iter(b'\n', raw).count() as u64;
        self.offset += raw.len() as u64;
        starts
    }

    /// The run's error for a record starting here.
    fn error(self, message: String) -> DataError {
        DataError {
            line: self.line,
            byte_offset: self.offset,
            message,
        }
    }
}

/// The header record's field names.
fn header_names(header: &[u8]) -> Vec<String> {
    crate::chunk::fields(header)
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

/// A file that could not be encoded (never the source's fault: a bug or a limit).
fn file_error(path: &str, e: RecordError) -> DataError {
    DataError {
        line: 0,
        byte_offset: 0,
        message: format!("encoding {path}: {}", e.0),
    }
}

/// Totals over the files written.
#[derive(Default)]
struct Totals {
    rows: u64,
    bytes: u64,
    blocks: u32,
    /// Through Blob, the files ended so far, their blocks staged.
    staged: Vec<StagedBlob>,
}

impl<H: Host> Run<'_, H> {
    /// Writes and publishes an encoded output; returns the published size (the sum of the
    /// data files') and every data file, leaving `self.written` with the run's totals.
    pub(super) fn encoded(
        &mut self,
        target: &Target,
        info: &DatasetInfo,
    ) -> Result<(u64, Vec<WrittenFile>), JobError> {
        let multi = self.job.output.multi_file();
        // An append to a directory that exists adds parts; else the output is written whole.
        let existing = match multi && self.job.output.update == UpdateMode::Append {
            true => self.existing_parts(target)?,
            false => None,
        };
        let mut source = self.host.open(&self.job.dataset)?;
        self.authorize()?;
        let through_blob = self.blob.is_some();
        if through_blob {
            // Staged blocks are invisible: files are written under their own names.
        } else if multi {
            self.remove_leftovers_of(target, Leftover::TempDirectory);
            self.create(&target.temp_path, true, "create temporary directory")?;
        } else {
            self.remove_leftovers(target);
            self.create(&target.temp_path, false, "create temporary file")?;
        }
        let first_part = existing.as_ref().map_or(1, |e| e.next_part);
        let outcome = self
            .write_files(source.as_mut(), target, info, first_part)
            .and_then(|written| {
                let WrittenOutput {
                    files,
                    columns,
                    schema,
                    staged,
                } = written;
                match &existing {
                    Some(existing) => {
                        self.publish_parts(target, info, existing, &files, columns, schema)?
                    }
                    None if through_blob => {
                        self.publish_blobs(target, info, &files, staged, columns, schema)?
                    }
                    None => self.publish(target, info, &files, columns, schema)?,
                }
                Ok(files)
            });
        match outcome {
            Ok(mut files) => {
                if multi {
                    for f in &mut files {
                        if let Some(rest) = f.path.strip_prefix(&target.temp_path) {
                            f.path = format!("{}{rest}", target.path);
                        }
                    }
                } else {
                    files[0].path = target.path.clone();
                }
                if existing.is_some()
                    && let Err(e) = self.delete_tree(&target.temp_path, "delete temporary output")
                {
                    let warning = format!("could not delete {}: {e:?}", target.temp_path);
                    self.host.log(Level::Warn, &warning);
                }
                Ok((files.iter().map(|f| f.bytes).sum(), files))
            }
            // Through Blob, nothing was committed: the staged blocks stay invisible.
            Err(e) if through_blob => Err(e),
            Err(e) => {
                let operation = "delete temporary output";
                let deleted = match multi {
                    true => self.delete_tree(&target.temp_path, operation),
                    false => self.delete(&target.temp_path, operation),
                };
                if let Err(d) = deleted {
                    self.host.log(
                        Level::Warn,
                        &format!("could not delete {}: {d:?}", target.temp_path),
                    );
                }
                Err(e)
            }
        }
    }

    /// Streams the dataset into the output's files, parts numbered from `first_part`;
    /// returns them (under their temporary paths) and the header's columns.
    fn write_files(
        &mut self,
        source: &mut dyn Source<H::Body>,
        target: &Target,
        info: &DatasetInfo,
        first_part: u32,
    ) -> Result<WrittenOutput, JobError> {
        let output = self.job.output.clone();
        let block_size = output.block_size as usize;
        let mut chunker = Chunker::new(block_size, true)
            .reject_long_records(true)
            .strict(output.strict);
        let pipeline = self.host.pipeline(output.concurrency.max(1));
        let mut flight: BTreeMap<u64, InFlight<H::Body>> = BTreeMap::new();
        let mut records = Records::default();
        let mut encoder: Option<Encoder> = None;
        let mut current: Option<Current> = None;
        let mut files = Vec::new();
        let mut totals = Totals::default();
        let mut digests = Some((
            self.host.hasher(Algorithm::Md5),
            self.host.hasher(Algorithm::Sha256),
        ));
        let mut bom = None;
        let mut at_end = false;
        // Where the next record starts, for the messages of a value Parquet refuses.
        let mut at = Position::default();
        while !at_end {
            let data = source.read(READ_SIZE)?;
            if bom.is_none() && !data.is_empty() {
                bom = Some(data.starts_with(BOM));
            }
            if data.is_empty() {
                chunker.finish()?;
                at_end = true;
            } else {
                chunker.feed(&data);
                chunker.check()?;
            }
            if encoder.is_none()
                && let Some(header) = chunker.header()
            {
                let head = SourceHead {
                    header: header.to_vec(),
                    crlf: chunker.header_crlf(),
                    bom: bom.unwrap_or(false),
                };
                let (offset, line) = chunker.data_start();
                at = Position { line, offset };
                encoder = Some(self.encoder(head, info)?);
            }
            while let Some(block) = chunker.next_block() {
                let encoder = encoder.as_mut().expect("rows come after the header");
                let parquet = matches!(encoder, Encoder::Parquet(_));
                records.each(&block.data, at_end, |record| {
                    let starts = if parquet { at.advance(record.raw) } else { at };
                    let pending = encoder.pending(&record);
                    if let Some(file) = &current {
                        let split = output.split;
                        let full = split.max_rows.is_some_and(|max| file.rows >= max)
                            || split
                                .max_bytes
                                .is_some_and(|max| encoder.file_bytes() + pending > max);
                        if file.rows > 0 && full {
                            let done = current.take().expect("checked above");
                            let file = self.end_file(
                                &pipeline,
                                &mut flight,
                                encoder,
                                done,
                                &mut digests,
                                &mut totals,
                            )?;
                            files.push(file);
                        }
                    }
                    if current.is_none() {
                        current = Some(self.start_file(
                            target,
                            encoder,
                            first_part,
                            files.len(),
                            &mut digests,
                        )?);
                    }
                    let file = current.as_mut().expect("started above");
                    encoder.push(&record).map_err(|e| starts.error(e.0))?;
                    file.rows += 1;
                    file.unsent_rows += 1;
                    while let Some(data) = encoder.take(block_size) {
                        self.send_block(&pipeline, &mut flight, file, data)?;
                    }
                    Ok::<(), JobError>(())
                })?;
            }
        }
        let encoder = encoder
            .as_mut()
            .expect("a finished chunker has seen the header");
        if chunker.rows() == 0 && !output.allow_empty {
            return Err(DataError {
                line: 1,
                byte_offset: 0,
                message: "the dataset has a header but no rows: set output.allow_empty = \
                          true to write it anyway"
                    .into(),
            }
            .into());
        }
        let last = match current.take() {
            Some(file) => file,
            None => self.start_file(target, encoder, first_part, files.len(), &mut digests)?,
        };
        let file = self.end_file(
            &pipeline,
            &mut flight,
            encoder,
            last,
            &mut digests,
            &mut totals,
        )?;
        files.push(file);
        let (md5, sha256) = digests.take().expect("handed back by end_file");
        self.written = Written::new(self.host);
        self.written.md5 = md5;
        self.written.sha256 = sha256;
        self.written.rows = totals.rows;
        self.written.bytes = totals.bytes;
        self.written.blocks = totals.blocks;
        let columns = chunker.header().map(header_names).unwrap_or_default();
        let schema = match encoder {
            Encoder::Parquet(p) => Some(p.columns().to_vec()),
            Encoder::Csv(_) => None,
        };
        Ok(WrittenOutput {
            files,
            columns,
            schema,
            staged: mem::take(&mut totals.staged),
        })
    }

    /// The encoder of the output's format, for a source starting with `head`.
    fn encoder(&mut self, head: SourceHead, info: &DatasetInfo) -> Result<Encoder, JobError> {
        let output = &self.job.output;
        if output.format != OutputFormat::Parquet {
            return Ok(Encoder::Csv(Box::new(FileEncoder::new(
                output.format,
                output.dialect,
                head,
            ))));
        }
        let header = header_names(&head.header);
        let header_error = |message: String| DataError {
            line: 1,
            byte_offset: 0,
            message,
        };
        let (columns, notes) =
            parquet::resolve_columns(&header, &info.columns).map_err(header_error)?;
        for note in notes {
            self.host.log(Level::Warn, &note);
        }
        let encoder = ParquetEncoder::new(columns, output.parquet).map_err(header_error)?;
        Ok(Encoder::Parquet(Box::new(encoder)))
    }

    /// Starts file number `index` (0-based) of this run, part `first_part + index`: created
    /// (a part), its header encoded, its digests begun.
    fn start_file(
        &mut self,
        target: &Target,
        encoder: &mut Encoder,
        first_part: u32,
        index: usize,
        digests: &mut Option<(H::Hasher, H::Hasher)>,
    ) -> Result<Current, JobError> {
        let path = if self.job.output.multi_file() {
            let part = u32::try_from(index)
                .ok()
                .and_then(|i| first_part.checked_add(i))
                .unwrap_or(u32::MAX);
            let name = naming::file_name(self.job, &target.vars, Some(part));
            if self.blob.is_some() {
                format!("{}/{name}", target.path)
            } else {
                let path = format!("{}/{name}", target.temp_path);
                self.authorize()?;
                self.create(&path, false, "create part")?;
                path
            }
        } else if self.blob.is_some() {
            target.path.clone()
        } else {
            target.temp_path.clone()
        };
        self.written = Written::new(self.host);
        self.written.also = digests.take();
        encoder.start().map_err(|e| file_error(&path, e))?;
        Ok(Current {
            path,
            position: 0,
            rows: 0,
            unsent_rows: 0,
        })
    }

    /// Appends `data` to `file`, with the rows pushed since the last block.
    fn send_block(
        &mut self,
        pipeline: &H::Pipeline,
        flight: &mut BTreeMap<u64, InFlight<H::Body>>,
        file: &mut Current,
        data: Vec<u8>,
    ) -> Result<(), JobError> {
        let rows = mem::take(&mut file.unsent_rows);
        let body = self.host.body(data);
        file.position =
            self.start_append(pipeline, flight, &file.path, file.position, body, rows)?;
        Ok(())
    }

    /// Ends `file`: its last bytes appended, every append landed, the flush (with the
    /// file's MD5 and the format's content type) checked, its properties set. Through
    /// Blob, its staged blocks are kept in `totals`, for the commit at publication.
    fn end_file(
        &mut self,
        pipeline: &H::Pipeline,
        flight: &mut BTreeMap<u64, InFlight<H::Body>>,
        encoder: &mut Encoder,
        mut file: Current,
        digests: &mut Option<(H::Hasher, H::Hasher)>,
        totals: &mut Totals,
    ) -> Result<WrittenFile, JobError> {
        let rest = encoder.finish().map_err(|e| file_error(&file.path, e))?;
        if !rest.is_empty() {
            self.send_block(pipeline, flight, &mut file, rest)?;
        }
        self.land_all(pipeline, flight)?;
        let md5 = self.host.hash_value(&self.written.md5);
        let sha256 = BASE64.encode(self.host.hash_value(&self.written.sha256));
        let md5_base64 = BASE64.encode(&md5);
        if self.blob.is_some() {
            totals.staged.push(StagedBlob {
                path: file.path.clone(),
                block_ids: mem::take(&mut self.written.block_ids),
                md5,
                rows: file.rows,
                sha256: sha256.clone(),
                size: file.position,
            });
        } else {
            let content_type = self.job.output.format.content_type();
            self.authorize()?;
            let flush = self
                .dfs
                .flush_as(&file.path, file.position, Some(&md5), content_type);
            self.flush_replaced(flush, &file.path, file.position, &md5_base64)?;
            self.set_file_properties(&file.path, file.rows, &sha256)?;
        }
        *digests = self.written.also.take();
        totals.rows += self.written.rows;
        totals.bytes += self.written.bytes;
        totals.blocks += self.written.blocks;
        Ok(WrittenFile {
            path: file.path,
            rows: file.rows,
            bytes: file.position,
            md5: md5_base64,
            sha256,
        })
    }
}
