//! `_manifest.json`: what a run wrote into a multi-file output, for readers that want the
//! list of parts and their digests without listing the directory.

use serde::Serialize;

use crate::format::parquet::Column;
use crate::model::{OutputFormat, WrittenFile};

/// The manifest's file name, beside the parts.
pub const MANIFEST: &str = "_manifest.json";
/// Spark's marker of a complete output, beside the parts.
pub const SUCCESS: &str = "_SUCCESS";

/// The manifest document.
#[derive(Serialize)]
pub struct Manifest<'a> {
    /// The run that wrote the output.
    pub run_id: &'a str,
    /// The dataset exported.
    pub dataset: Dataset<'a>,
    /// The files' format: `csv`, `csv.gz` or `parquet`.
    pub format: &'static str,
    /// Data rows in all parts.
    pub rows: u64,
    /// The header's field names (the columns of every part).
    pub columns: Vec<String>,
    /// For Parquet, each column's name, the source's type and the Parquet type written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Vec<SchemaColumn>>,
    /// Every part, in order.
    pub files: Vec<Part<'a>>,
}

/// One column of a Parquet output.
#[derive(Serialize)]
pub struct SchemaColumn {
    /// Its name.
    pub name: String,
    /// The source's type (`STRING`, `LONG`, …).
    pub source_type: &'static str,
    /// The Parquet type written, such as `INT64` or `INT32 (DATE)`.
    pub parquet_type: &'static str,
}

/// The dataset, as the source named it.
#[derive(Serialize)]
pub struct Dataset<'a> {
    /// Its ID.
    pub id: &'a str,
    /// Its name.
    pub name: &'a str,
}

/// One part.
#[derive(Serialize)]
pub struct Part<'a> {
    /// Its path inside the file system, as published.
    pub path: String,
    /// Data rows in it.
    pub rows: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// Base64 MD5.
    pub md5: &'a str,
    /// Base64 SHA-256.
    pub sha256: &'a str,
    /// Its format.
    pub format: &'static str,
}

impl<'a> Part<'a> {
    /// The entry of `file`, written under `temp_dir` and published under `directory`.
    pub fn published(
        file: &'a WrittenFile,
        format: OutputFormat,
        temp_dir: &str,
        directory: &str,
    ) -> Part<'a> {
        Part {
            path: match file.path.strip_prefix(temp_dir) {
                Some(rest) => format!("{directory}{rest}"),
                None => file.path.clone(),
            },
            rows: file.rows,
            bytes: file.bytes,
            md5: &file.md5,
            sha256: &file.sha256,
            format: format.as_str(),
        }
    }
}

impl<'a> Manifest<'a> {
    /// The manifest listing `files`, the parts of an output in `format`.
    pub fn new(
        run_id: &'a str,
        dataset: Dataset<'a>,
        format: OutputFormat,
        columns: Vec<String>,
        schema: Option<&[Column]>,
        files: Vec<Part<'a>>,
    ) -> Manifest<'a> {
        Manifest {
            run_id,
            dataset,
            format: format.as_str(),
            rows: files.iter().map(|f| f.rows).sum(),
            columns,
            schema: schema.map(|columns| {
                columns
                    .iter()
                    .map(|c| SchemaColumn {
                        name: c.name.clone(),
                        source_type: c.kind.source_name(),
                        parquet_type: c.kind.parquet_name(),
                    })
                    .collect()
            }),
            files,
        }
    }

    /// The document, pretty-printed, with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("a manifest always serialises");
        out.push(b'\n');
        out
    }
}
