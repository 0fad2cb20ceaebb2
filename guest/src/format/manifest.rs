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

    /// The manifest an append publishes: `previous` (the output's manifest as read) with
    /// this one's parts listed after its own and the rows of both; run id, columns and
    /// schema are this run's. Fails, saying why, when `previous` is not a manifest or lists
    /// another format or other columns.
    pub fn extending(&self, previous: &[u8]) -> Result<Vec<u8>, String> {
        let previous: serde_json::Value = serde_json::from_slice(previous)
            .map_err(|e| format!("it is not the JSON of a manifest: {e}"))?;
        let format = previous["format"].as_str().unwrap_or_default();
        if format != self.format {
            return Err(format!(
                "it lists {format:?} files and this run writes {:?}",
                self.format
            ));
        }
        let columns = serde_json::Value::from(self.columns.clone());
        if previous["columns"] != columns {
            return Err(format!(
                "its columns are {} and this run's are {columns}",
                previous["columns"]
            ));
        }
        let (Some(files), Some(rows)) = (previous["files"].as_array(), previous["rows"].as_u64())
        else {
            return Err("it has no `files` list or no `rows` count".into());
        };
        let mut document = serde_json::to_value(self).expect("a manifest always serialises");
        let new_files = document["files"].as_array().cloned().unwrap_or_default();
        document["files"] = files.iter().cloned().chain(new_files).collect();
        document["rows"] = (rows + self.rows).into();
        let mut out = serde_json::to_vec_pretty(&document).expect("a manifest always serialises");
        out.push(b'\n');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(path: &str, rows: u64) -> WrittenFile {
        WrittenFile {
            path: path.into(),
            rows,
            bytes: rows * 10,
            md5: "bWQ1".into(),
            sha256: "c2hh".into(),
        }
    }

    fn manifest<'a>(run_id: &'a str, files: &'a [WrittenFile], columns: &[&str]) -> Manifest<'a> {
        let parts = files
            .iter()
            .map(|f| Part::published(f, OutputFormat::Csv, "_d.r.tmp", "d"))
            .collect();
        let columns = columns.iter().map(|c| c.to_string()).collect();
        let dataset = Dataset {
            id: "ds",
            name: "Sales",
        };
        Manifest::new(run_id, dataset, OutputFormat::Csv, columns, None, parts)
    }

    #[test]
    fn an_append_lists_the_earlier_parts_then_its_own() {
        let first = [
            written("_d.r.tmp/s-00001.csv", 3),
            written("_d.r.tmp/s-00002.csv", 2),
        ];
        let before = manifest("r1", &first, &["id", "name"]).to_bytes();
        let second = [written("_d.r.tmp/s-00003.csv", 4)];
        let after = manifest("r2", &second, &["id", "name"])
            .extending(&before)
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&after).unwrap();
        let paths: Vec<&str> = doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["d/s-00001.csv", "d/s-00002.csv", "d/s-00003.csv"]);
        assert_eq!(doc["rows"], 9);
        assert_eq!(doc["run_id"], "r2");
        assert!(after.ends_with(b"}\n"));
    }

    #[test]
    fn another_format_other_columns_or_no_manifest_are_refused() {
        let first = [written("_d.r.tmp/s-00001.csv", 3)];
        let before = manifest("r1", &first, &["id", "name"]).to_bytes();
        let second = [written("_d.r.tmp/s-00002.csv", 1)];
        let e = manifest("r2", &second, &["id", "email"])
            .extending(&before)
            .unwrap_err();
        assert!(e.contains("\"email\""), "{e}");
        let mut other = manifest("r2", &second, &["id", "name"]);
        other.format = "parquet";
        assert!(
            other
                .extending(&before)
                .unwrap_err()
                .contains("\"csv\" files")
        );
        let e = manifest("r2", &second, &["id"])
            .extending(b"not json")
            .unwrap_err();
        assert!(e.contains("not the JSON"), "{e}");
    }
}
