//! Job validation over arbitrary jobs: it never panics, every problem names a field and says
//! something, and a job built only from valid pieces has no problem (and names its target
//! without panicking).

#![no_main]

use adls_writeback_guest::model::{
    AccessControl, Account, CredentialKind, CsvDialect, DatasetRef, EndpointChoice, FileNaming,
    Job, Output, OutputFormat, ParquetCompression, ParquetOptions, SourceKind, SplitLimits,
    UpdateMode,
};
use adls_writeback_guest::naming;
use adls_writeback_guest::validate::{
    MAX_BLOCK_SIZE, MAX_CONCURRENCY, MAX_ROW_GROUP_ROWS, MIN_BLOCK_SIZE, MIN_PART_BYTES, validate,
};
use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Builds each field from valid pieces or from arbitrary input, and remembers whether all
/// were valid.
struct Builder<'a, 'b> {
    u: &'b mut Unstructured<'a>,
    all_valid: bool,
    raw_allowed: bool,
}

impl<'a> Builder<'a, '_> {
    /// A valid value from `valid`, or (sometimes) an arbitrary string.
    fn string(
        &mut self,
        valid: impl FnOnce(&mut Unstructured<'a>) -> Result<String>,
    ) -> Result<String> {
        if self.raw_allowed && self.u.arbitrary::<bool>()? {
            self.all_valid = false;
            return self.u.arbitrary();
        }
        valid(self.u)
    }
}

fn pick(u: &mut Unstructured<'_>, set: &[u8], len: usize) -> Result<String> {
    (0..len).map(|_| Ok(char::from(*u.choose(set)?))).collect()
}

fn guid(u: &mut Unstructured<'_>) -> Result<String> {
    let bytes: [u8; 16] = u.arbitrary()?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let guid = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    Ok(if u.arbitrary()? {
        guid.to_uppercase()
    } else {
        guid
    })
}

fn domain(u: &mut Unstructured<'_>) -> Result<String> {
    let labels = u.int_in_range(2..=4)?;
    let mut parts = Vec::new();
    for _ in 0..labels {
        let len = u.int_in_range(1..=12)?;
        let mut label = pick(u, ALNUM, len)?;
        if len >= 3 && u.arbitrary()? {
            label.replace_range(1..2, "-");
        }
        parts.push(label);
    }
    Ok(parts.join("."))
}

fn account_name(u: &mut Unstructured<'_>) -> Result<String> {
    let len = u.int_in_range(3..=24)?;
    pick(u, ALNUM, len)
}

/// 3-63 lowercase letters, digits and single hyphens, a letter or digit at both ends.
fn container(u: &mut Unstructured<'_>) -> Result<String> {
    let len = u.int_in_range(3..=63)?;
    let mut s = String::new();
    for i in 0..len {
        let hyphen = i > 0 && i + 1 < len && !s.ends_with('-') && u.ratio(1, 5)?;
        if hyphen {
            s.push('-');
        } else {
            s.push(char::from(*u.choose(ALNUM)?));
        }
    }
    Ok(s)
}

fn endpoint(u: &mut Unstructured<'_>, account: &str) -> Result<String> {
    let port: u16 = u.int_in_range(1..=65535)?;
    Ok(match u.int_in_range(0..=3)? {
        0 => format!("https://{account}.dfs.core.windows.net"),
        1 => format!("http://127.0.0.1:{port}/{account}"),
        2 => format!("http://localhost:{port}"),
        _ => format!("https://[::1]:{port}/{account}"),
    })
}

/// A path segment: letters, digits and some harmless punctuation and non-ASCII, starting and
/// ending with a letter or digit (never `.` or `..`).
fn segment(u: &mut Unstructured<'_>) -> Result<String> {
    let middle = ["a", "Z", "7", " ", "-", "_", ".", "é", "✓", "("];
    let len = u.int_in_range(0..=18)?;
    let mut s = pick(u, ALNUM, 1)?;
    for _ in 0..len {
        s.push_str(u.choose(&middle)?);
    }
    s.push_str(&pick(u, ALNUM, 1)?);
    Ok(s)
}

fn path(u: &mut Unstructured<'_>) -> Result<String> {
    let segments = u.int_in_range(1..=5)?;
    let parts: Result<Vec<String>> = (0..segments).map(|_| segment(u)).collect();
    Ok(parts?.join("/"))
}

fn run_id(u: &mut Unstructured<'_>) -> Result<String> {
    let len = u.int_in_range(1..=64)?;
    pick(
        u,
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
        len,
    )
}

fn job(u: &mut Unstructured<'_>) -> Result<(Job, bool)> {
    let raw_allowed = u.arbitrary()?;
    let mut b = Builder {
        u,
        all_valid: true,
        raw_allowed,
    };
    let name: String = b.u.arbitrary()?;
    let credential = *b.u.choose(&[
        CredentialKind::ClientSecret,
        CredentialKind::ClientCertificate,
        CredentialKind::WorkloadIdentity,
        CredentialKind::ManagedIdentity,
        CredentialKind::SharedKey,
        CredentialKind::Sas,
    ])?;
    // Who the requests act as is for messages only: any text will do.
    let identity = b.u.arbitrary::<bool>()?;
    let identity = match identity {
        true => guid(b.u)?,
        false => domain(b.u)?,
    };
    let account_name = b.string(account_name)?;
    let container_name = b.string(container)?;
    let dfs_endpoint = b.string(|u| endpoint(u, &account_name))?;
    let kind = if b.u.arbitrary()? {
        SourceKind::Domo
    } else {
        SourceKind::LocalFile
    };
    let id = b.string(|u| match kind {
        SourceKind::Domo => guid(u),
        SourceKind::LocalFile => segment(u),
    })?;
    let file_system = match b.u.arbitrary()? {
        true => Some(b.string(container)?),
        false => None,
    };
    let directory = match b.u.arbitrary()? {
        true => Some(b.string(path)?),
        false => None,
    };
    let naming = match b.u.arbitrary()? {
        true => FileNaming::FileName(b.string(path)?),
        false => FileNaming::DatasetId,
    };
    let update = if b.u.arbitrary()? {
        UpdateMode::Replace
    } else {
        UpdateMode::Append
    };
    let (block_size, concurrency) = if b.raw_allowed && b.u.arbitrary()? {
        b.all_valid = false;
        (b.u.arbitrary()?, b.u.arbitrary()?)
    } else {
        (
            b.u.int_in_range(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE)?,
            b.u.int_in_range(1..=MAX_CONCURRENCY)?,
        )
    };
    let (allow_empty, strict) = (b.u.arbitrary()?, b.u.arbitrary()?);
    let format = *b.u.choose(&[OutputFormat::Csv, OutputFormat::CsvGz, OutputFormat::Parquet])?;
    let row_group_rows = if b.raw_allowed && b.u.ratio(1, 8)? {
        let rows: u32 = b.u.arbitrary()?;
        b.all_valid &= (1..=MAX_ROW_GROUP_ROWS).contains(&rows);
        rows
    } else {
        b.u.int_in_range(1..=MAX_ROW_GROUP_ROWS)?
    };
    let parquet = ParquetOptions {
        row_group_rows,
        compression: match b.u.arbitrary()? {
            true => ParquetCompression::Snappy,
            false => ParquetCompression::Uncompressed,
        },
    };
    let delimiter = if b.raw_allowed && b.u.ratio(1, 8)? {
        let byte: u8 = b.u.arbitrary()?;
        b.all_valid &= matches!(byte, b',' | b';' | b'|' | b'\t');
        byte
    } else {
        *b.u.choose(b",;|\t")?
    };
    let dialect = CsvDialect {
        delimiter,
        header: b.u.arbitrary()?,
        quote_all: b.u.arbitrary()?,
        bom: b.u.arbitrary()?,
    };
    let split = SplitLimits {
        max_rows: match b.u.arbitrary()? {
            true => Some(b.u.int_in_range(1..=u64::MAX)?),
            false => None,
        },
        max_bytes: match b.u.arbitrary()? {
            true => Some(b.u.int_in_range(MIN_PART_BYTES..=u64::MAX)?),
            false => None,
        },
    };
    let (manifest, success_marker) = (b.u.arbitrary()?, b.u.arbitrary()?);
    let utc_offset_minutes = b.u.int_in_range(-14 * 60..=14 * 60)?;
    // Valid spellings, or (sometimes) anything: only the valid ones keep the job valid.
    let permissions = match b.u.int_in_range(0..=2)? {
        0 => None,
        1 => Some(b.string(|u| Ok(format!("0{}", pick(u, b"01234567", 3)?)))?),
        _ => Some(b.string(|u| {
            (0..9)
                .map(|i| Ok(char::from(*u.choose(&[b"rwx"[i % 3], b'-'])?)))
                .collect()
        })?),
    };
    let umask = match b.u.arbitrary()? {
        true => Some(b.string(|u| Ok(format!("0{}", pick(u, b"01234567", 3)?)))?),
        false => None,
    };
    let acl = match b.u.arbitrary()? {
        true => Some(b.string(|u| {
            let who = guid(u)?;
            Ok(format!(
                "user::rw-,group::r--,other::---,user:{who}:r-x,default:mask::r-x"
            ))
        })?),
        false => None,
    };
    let access = AccessControl {
        permissions,
        umask,
        acl,
    };

    let owner = match b.u.arbitrary()? {
        true => Some(b.string(|u| Ok(u.int_in_range(1..=u64::MAX)?.to_string()))?),
        false => None,
    };
    let run_id = b.string(run_id)?;
    let started_at_ms = b.u.arbitrary()?;
    let all_valid = b.all_valid;
    let job = Job {
        name,
        account: Account {
            credential,
            identity,
            account_name,
            container: container_name,
            blob_endpoint: dfs_endpoint.replacen(".dfs.", ".blob.", 1),
            dfs_endpoint,
            endpoint: EndpointChoice::Dfs,
        },
        dataset: DatasetRef { kind, id },
        output: Output {
            file_system,
            directory,
            naming,
            update,
            block_size,
            concurrency,
            allow_empty,
            strict,
            format,
            dialect,
            parquet,
            split,
            manifest,
            success_marker,
            utc_offset_minutes,
            access,
        },
        owner,
        run_id,
        started_at_ms,
    };
    // Rules that tie fields together: append writes a plain CSV file only, and a
    // directory of files needs a directory of its own.
    let output = &job.output;
    let all_valid = all_valid
        && (output.update == UpdateMode::Replace || output.passthrough())
        && (!output.multi_file() || output.directory.as_deref().is_some_and(|d| !d.is_empty()));
    Ok((job, all_valid))
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok((job, all_valid)) = job(&mut u) else {
        return;
    };
    let problems = validate(&job);
    for p in &problems {
        assert!(!p.field.is_empty() && !p.message.is_empty(), "{p:?}");
    }
    if all_valid {
        assert!(
            problems.is_empty(),
            "a job of valid pieces: {problems:?}\n{job:#?}"
        );
        let vars = naming::vars(&job, "dataset");
        let target = naming::target_path(&job, &vars);
        let temp = naming::temp_path(&target, &job.run_id);
        let extension = job.output.format.extension();
        assert!(
            temp.ends_with(".tmp") && target.to_ascii_lowercase().ends_with(extension),
            "{target} {temp}"
        );
        if job.output.split.any() {
            let part = naming::file_name(&job, &vars, Some(7));
            assert!(part.to_ascii_lowercase().ends_with(extension), "{part}");
        }
    }
});
