//! Where and how a run writes (`types.output`): naming, update mode, format, CSV dialect,
//! Parquet options, split limits and POSIX access control.

/// How the output file is named (`types.file-naming`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileNaming {
    /// `<dataset id>.csv`.
    DatasetId,
    /// The given name, `.csv` appended when missing.
    FileName(String),
}

/// What happens to an existing target file (`types.update-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateMode {
    /// Write under a temporary name, then rename onto the target.
    Replace,
    /// Add the dataset's rows at the end of the existing file.
    Append,
}

/// The files' format (`types.output-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// CSV, `.csv`.
    #[default]
    Csv,
    /// Gzip-compressed CSV, `.csv.gz`.
    CsvGz,
    /// Apache Parquet, `.parquet`, typed by the dataset's columns.
    Parquet,
}

impl OutputFormat {
    /// The file extension, with its dot.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Csv => ".csv",
            OutputFormat::CsvGz => ".csv.gz",
            OutputFormat::Parquet => ".parquet",
        }
    }

    /// The content type set on the files written.
    pub fn content_type(self) -> &'static str {
        match self {
            OutputFormat::Csv => "text/csv",
            OutputFormat::CsvGz => "application/gzip",
            OutputFormat::Parquet => "application/vnd.apache.parquet",
        }
    }

    /// The name the job file and the manifest give it.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Csv => "csv",
            OutputFormat::CsvGz => "csv.gz",
            OutputFormat::Parquet => "parquet",
        }
    }
}

/// How CSV is written (`types.csv-dialect`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CsvDialect {
    /// Field separator.
    pub delimiter: u8,
    /// Whether every file starts with the header record.
    pub header: bool,
    /// Quote every field.
    pub quote_all: bool,
    /// Byte-order mark: always, never, or as the source (`None`).
    pub bom: Option<bool>,
}

impl Default for CsvDialect {
    /// The source's own dialect: nothing re-encoded.
    fn default() -> Self {
        CsvDialect {
            delimiter: b',',
            header: true,
            quote_all: false,
            bom: None,
        }
    }
}

impl CsvDialect {
    /// Whether records must be re-encoded (their fields written anew) rather than copied.
    pub fn reencodes(&self) -> bool {
        self.delimiter != b',' || self.quote_all
    }
}

/// How Parquet is compressed (`types.parquet-compression`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ParquetCompression {
    /// No compression.
    Uncompressed,
    /// Snappy.
    #[default]
    Snappy,
    /// Zstandard (pure-Rust ruzstd, about zstd's level 1).
    Zstd,
}

/// How Parquet is written (`types.parquet-options`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParquetOptions {
    /// Rows in one row group (the last of a file may have fewer).
    pub row_group_rows: u32,
    /// The pages' compression.
    pub compression: ParquetCompression,
}

/// Rows of a Parquet row group unless the job says otherwise.
pub const DEFAULT_ROW_GROUP_ROWS: u32 = 100_000;

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            compression: ParquetCompression::Snappy,
        }
    }
}

/// When the output is cut into parts (`types.split-limits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SplitLimits {
    /// Most data rows in one part.
    pub max_rows: Option<u64>,
    /// Most bytes in one part.
    pub max_bytes: Option<u64>,
}

impl SplitLimits {
    /// Whether either limit is set.
    pub fn any(&self) -> bool {
        self.max_rows.is_some() || self.max_bytes.is_some()
    }
}

/// POSIX access control of what a run creates (`types.access-control`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AccessControl {
    /// `x-ms-permissions` at creation.
    pub permissions: Option<String>,
    /// `x-ms-umask` at creation.
    pub umask: Option<String>,
    /// `x-ms-acl`, set on each file before it is published.
    pub acl: Option<String>,
}

/// Where and how the output is written (`types.output`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// File system to write to; the account's container when `None`.
    pub file_system: Option<String>,
    /// Directory inside the file system; the root when `None`.
    pub directory: Option<String>,
    /// How the file is named.
    pub naming: FileNaming,
    /// Replace or append.
    pub update: UpdateMode,
    /// Target size in bytes of one append request.
    pub block_size: u32,
    /// How many append requests may be in flight at once.
    pub concurrency: u32,
    /// Write a dataset that has a header but no rows (replace: the header alone; append:
    /// nothing) instead of failing.
    pub allow_empty: bool,
    /// Fail on a record whose field count differs from the header's.
    pub strict: bool,
    /// The files' format.
    pub format: OutputFormat,
    /// How CSV is written.
    pub dialect: CsvDialect,
    /// How Parquet is written.
    pub parquet: ParquetOptions,
    /// Cutting the output into parts.
    pub split: SplitLimits,
    /// Write `_manifest.json`.
    pub manifest: bool,
    /// Write `_SUCCESS`.
    pub success_marker: bool,
    /// UTC offset of the job's time zone at the run's start, in minutes.
    pub utc_offset_minutes: i32,
    /// Permissions and ACL of what the run creates.
    pub access: AccessControl,
}

impl Output {
    /// Whether the output is a directory of files (split, or with a manifest or marker)
    /// rather than one file.
    pub fn multi_file(&self) -> bool {
        self.split.any() || self.manifest || self.success_marker
    }

    /// Whether the source's bytes go to one file as they are (today's fast path).
    pub fn passthrough(&self) -> bool {
        !self.multi_file()
            && self.format == OutputFormat::Csv
            && self.dialect == CsvDialect::default()
    }
}
