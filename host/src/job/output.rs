//! `[output]`'s file options: format, CSV dialect, Parquet options, parts, manifest, the
//! name templates' time zone, permissions and ACL. The guest checks the values' ranges; here the spellings are read.

use std::str::FromStr as _;

use chrono_tz::Tz;

use super::{FieldError, OutputSection};

/// The files' format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// `csv`.
    #[default]
    Csv,
    /// `csv.gz`.
    CsvGz,
    /// `parquet`.
    Parquet,
}

/// How Parquet pages are compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ParquetCompression {
    /// `none`.
    Uncompressed,
    /// `snappy`.
    #[default]
    Snappy,
    /// `zstd`.
    Zstd,
}

/// Rows in one Parquet row group unless the job says otherwise.
pub const DEFAULT_ROW_GROUP_ROWS: u32 = 100_000;

/// The file options of `[output]`, spellings resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOptions {
    /// The files' format.
    pub format: Format,
    /// Rows in one Parquet row group (the guest checks the range).
    pub parquet_row_group_rows: u32,
    /// Compression of Parquet pages.
    pub parquet_compression: ParquetCompression,
    /// Field separator, one byte.
    pub delimiter: u8,
    /// Whether every file starts with the header.
    pub header: bool,
    /// Quote every field.
    pub quote_all: bool,
    /// Byte-order mark: always, never, or as the source.
    pub bom: Option<bool>,
    /// Most rows per part.
    pub max_rows_per_file: Option<u64>,
    /// Most bytes per part.
    pub max_bytes_per_file: Option<u64>,
    /// Write `_manifest.json`.
    pub manifest: bool,
    /// Write `_SUCCESS`.
    pub success_marker: bool,
    /// The name templates' time zone.
    pub time_zone: Tz,
    /// `x-ms-permissions` of what a run creates (the guest checks the spelling).
    pub permissions: Option<String>,
    /// `x-ms-umask` of what a run creates.
    pub umask: Option<String>,
    /// The ACL set on each file a run creates.
    pub acl: Option<String>,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            format: Format::Csv,
            parquet_row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            parquet_compression: ParquetCompression::Snappy,
            delimiter: b',',
            header: true,
            quote_all: false,
            bom: None,
            max_rows_per_file: None,
            max_bytes_per_file: None,
            manifest: false,
            success_marker: false,
            time_zone: Tz::UTC,
            permissions: None,
            umask: None,
            acl: None,
        }
    }
}

impl FileOptions {
    /// Reads the options of `o`, each problem named by its key.
    pub(super) fn resolve(o: &OutputSection, problems: &mut Vec<FieldError>) -> FileOptions {
        let mut f = FileOptions::default();
        match o.format.as_deref().unwrap_or("csv") {
            "csv" => {}
            "csv.gz" => f.format = Format::CsvGz,
            "parquet" => f.format = Format::Parquet,
            other => problems.push(FieldError::new(
                "output.format",
                format!("`{other}` is not a format: use \"csv\", \"csv.gz\" or \"parquet\""),
            )),
        }
        f.resolve_parquet(o, problems);
        if let Some(d) = o.delimiter.as_deref() {
            match d {
                "," | ";" | "|" | "\t" => f.delimiter = d.as_bytes()[0],
                "tab" => f.delimiter = b'\t',
                other => problems.push(FieldError::new(
                    "output.delimiter",
                    format!(
                        "`{}` is not a delimiter this writer offers: use \",\", \";\", \"|\" or \"\\t\" (tab)",
                        other.escape_default()
                    ),
                )),
            }
        }
        f.header = o.header.unwrap_or(true);
        f.quote_all = o.quote_all.unwrap_or(false);
        f.bom = o.bom;
        f.max_rows_per_file = o.max_rows_per_file;
        f.max_bytes_per_file = o.max_bytes_per_file;
        f.manifest = o.manifest.unwrap_or(false);
        f.success_marker = o.success_marker.unwrap_or(false);
        f.permissions = o.permissions.clone();
        f.umask = o.umask.clone();
        f.acl = o.acl.clone();
        if let Some(name) = o.time_zone.as_deref() {
            match Tz::from_str(name) {
                Ok(tz) => f.time_zone = tz,
                Err(_) => problems.push(FieldError::new(
                    "output.time_zone",
                    format!(
                        "`{name}` is not an IANA time zone: use a name such as \"UTC\" or \"Europe/Paris\""
                    ),
                )),
            }
        }
        f
    }

    /// Reads the `parquet_*` keys, which only a Parquet output takes.
    fn resolve_parquet(&mut self, o: &OutputSection, problems: &mut Vec<FieldError>) {
        let parquet = self.format == Format::Parquet;
        let keys = [
            (
                "output.parquet_row_group_rows",
                o.parquet_row_group_rows.is_some(),
            ),
            (
                "output.parquet_compression",
                o.parquet_compression.is_some(),
            ),
        ];
        for (key, set) in keys {
            if set && !parquet {
                problems.push(FieldError::new(
                    key,
                    "applies to a Parquet output only: set format = \"parquet\" or remove it",
                ));
            }
        }
        if let Some(rows) = o.parquet_row_group_rows {
            self.parquet_row_group_rows = rows;
        }
        match o.parquet_compression.as_deref() {
            None | Some("snappy") => {}
            Some("none" | "uncompressed") => {
                self.parquet_compression = ParquetCompression::Uncompressed
            }
            Some("zstd") => self.parquet_compression = ParquetCompression::Zstd,
            Some(other) => problems.push(FieldError::new(
                "output.parquet_compression",
                format!(
                    "`{other}` is not a Parquet compression: use \"snappy\", \"zstd\" or \"none\""
                ),
            )),
        }
    }

    /// The UTC offset of the time zone at `at_ms` (milliseconds since the epoch), in
    /// minutes.
    pub fn utc_offset_minutes(&self, at_ms: u64) -> i32 {
        use chrono::Offset as _;
        let at = i64::try_from(at_ms)
            .ok()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .unwrap_or_default();
        at.with_timezone(&self.time_zone)
            .offset()
            .fix()
            .local_minus_utc()
            / 60
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_the_zone_and_the_date() {
        let mut f = FileOptions::default();
        assert_eq!(f.utc_offset_minutes(1_700_000_000_000), 0);
        f.time_zone = Tz::Europe__Paris;
        // November: UTC+1; July: UTC+2.
        assert_eq!(f.utc_offset_minutes(1_700_000_000_000), 60);
        assert_eq!(f.utc_offset_minutes(1_720_000_000_000), 120);
    }
}
