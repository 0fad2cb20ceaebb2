//! `run --verify`: after a successful run, the host reads what it published back through
//! the endpoint it wrote through, with a storage token from the run's own credential, and
//! compares the digests with the report's. Replace compares the whole file; append compares
//! the bytes this run added, the last `bytes` of the file; a split or encoded output has each
//! of its files compared with its entry in the report. Files are streamed, never held whole.

use base64::Engine as _;
use md5::{Digest as _, Md5};
use sha2::Sha256;

use crate::capabilities::auth::Authorizer;
use crate::job::UpdateMode;
use crate::plumbing::client::describe_error;
use crate::plumbing::dfs;
use crate::plumbing::retry::{self, RetryConfig, Verdict};
use crate::runner::report::RunReport;

/// The part of the file a run wrote: `(first byte, length)`. The whole file for replace;
/// for append, the last `bytes` of the `file_size` bytes.
pub fn span(append: bool, file_size: u64, bytes: u64) -> (u64, u64) {
    match append {
        false => (0, file_size),
        true => (file_size.saturating_sub(bytes), bytes.min(file_size)),
    }
}

/// Digests of the bytes read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// How many bytes.
    pub bytes: u64,
    /// Base64 MD5, as the report (and `Content-MD5`) writes it.
    pub md5: String,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

/// Hashes bytes as they stream in.
#[derive(Default)]
pub struct Hasher {
    md5: Md5,
    sha256: Sha256,
    bytes: u64,
}

impl Hasher {
    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.sha256.update(data);
        self.bytes += data.len() as u64;
    }

    /// The digests of everything added.
    pub fn finish(self) -> Digests {
        let sha256: String = self
            .sha256
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Digests {
            bytes: self.bytes,
            md5: base64::engine::general_purpose::STANDARD.encode(self.md5.finalize()),
            sha256,
        }
    }
}

impl Digests {
    /// The digests of `data`.
    pub fn of(data: &[u8]) -> Digests {
        let mut hasher = Hasher::default();
        hasher.update(data);
        hasher.finish()
    }
}

/// What the report says the run wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Bytes written.
    pub bytes: u64,
    /// Base64 MD5.
    pub md5: String,
    /// SHA-256 (hex, or base64), when the report carries one.
    pub sha256: Option<String>,
}

impl Expected {
    /// What `report` claims.
    pub fn of(report: &RunReport) -> Expected {
        Expected {
            bytes: report.bytes,
            md5: report.md5.clone(),
            sha256: Some(report.sha256.clone()),
        }
    }
}

/// `Ok` when what was read back is what the report claims; otherwise a message naming the
/// reported and the read digests.
pub fn compare(expected: &Expected, read: &Digests) -> Result<(), String> {
    if read.bytes != expected.bytes {
        return Err(format!(
            "the published file does not match the report: {} bytes read back where the \
             report says {} were written (md5 read {}, reported {})",
            read.bytes, expected.bytes, read.md5, expected.md5
        ));
    }
    if read.md5 != expected.md5 {
        return Err(format!(
            "the published file does not match the report: md5 read back {}, reported {}",
            read.md5, expected.md5
        ));
    }
    if let Some(sha) = &expected.sha256 {
        let hex_matches = sha.eq_ignore_ascii_case(&read.sha256);
        let base64_matches = hex_bytes(&read.sha256)
            .map(|raw| base64::engine::general_purpose::STANDARD.encode(raw) == *sha)
            .unwrap_or(false);
        if !hex_matches && !base64_matches {
            return Err(format!(
                "the published file does not match the report: sha256 read back {}, reported {sha}",
                read.sha256
            ));
        }
    }
    Ok(())
}

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Why one read-back attempt failed.
enum ReadError {
    Status(u16, reqwest::header::HeaderMap, String),
    Transport(reqwest::Error),
    Credential(crate::capabilities::bindings::errors::AuthError),
}

/// One file to read back: where, which bytes, and what they must hash to.
struct Check {
    url: String,
    path: String,
    start: u64,
    length: u64,
    expected: Expected,
}

/// The files `report` says the run wrote, each with the span it wrote. A single file is
/// checked as the report describes it (an append: its tail); the parts of a split or
/// encoded output, each written whole by this run, are checked one by one.
fn checks(report: &RunReport) -> Vec<Check> {
    let single = match report.files.as_slice() {
        [] => true,
        [only] => only.path == report.path,
        _ => false,
    };
    if single {
        let (start, length) = span(
            report.update == UpdateMode::Append,
            report.file_size,
            report.bytes,
        );
        return vec![Check {
            url: report.url.clone(),
            path: report.path.clone(),
            start,
            length,
            expected: Expected::of(report),
        }];
    }
    report
        .files
        .iter()
        .map(|file| Check {
            url: sibling_url(&report.url, &report.path, &file.path),
            path: file.path.clone(),
            start: 0,
            length: file.bytes,
            expected: Expected {
                bytes: file.bytes,
                md5: file.md5.clone(),
                sha256: Some(file.sha256.clone()),
            },
        })
        .collect()
}

/// The URL of `path` in the file system of `url`, the URL of `url_path`: the segments of
/// `url_path` are swapped for those of `path` (path-style and host-style endpoints alike).
fn sibling_url(url: &str, url_path: &str, path: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return url.to_owned();
    };
    let depth = url_path.split('/').count();
    if let Ok(mut segments) = parsed.path_segments_mut() {
        for _ in 0..depth {
            segments.pop();
        }
        segments.extend(path.split('/'));
    }
    parsed.into()
}

/// Reads back the files `report` says the run wrote (authorized by `authorizer`, retried
/// as `retry` says) and compares each with the report. The error is the message of a
/// failure of kind `verify`.
pub async fn verify(
    client: &reqwest::Client,
    authorizer: &Authorizer,
    retry: &RetryConfig,
    report: &RunReport,
) -> Result<(), String> {
    let cannot = |e| {
        format!(
            "cannot authorize reading the file back: {}",
            crate::runner::wording::auth_message(&e)
        )
    };
    for check in checks(report) {
        if check.length == 0 {
            // Nothing was written: nothing to read back.
            compare(&check.expected, &Digests::of(b""))?;
            continue;
        }
        authorizer.ready().await.map_err(cannot)?;
        let target = reqwest::Url::parse(&check.url)
            .map(|u| u.path().to_string())
            .unwrap_or_default();
        let attempt = || read_back(client, authorizer, &check.url, check.start, check.length);
        let outcome = retry::retry(retry, &target, attempt, |outcome| match outcome {
            Ok(_) => Verdict::Final,
            Err(ReadError::Status(status, headers, _)) => retry::classify_status(*status, headers),
            Err(ReadError::Transport(e)) => retry::classify_error(e),
            Err(ReadError::Credential(_)) => Verdict::Final,
        })
        .await;
        let read = outcome.map_err(|e| match e {
            ReadError::Status(status, _, detail) => format!(
                "reading {} back failed: HTTP {status}: {detail}",
                check.path
            ),
            ReadError::Transport(e) => {
                format!("reading {} back failed: {}", check.path, describe_error(&e))
            }
            ReadError::Credential(e) => cannot(e),
        })?;
        compare(&check.expected, &read).map_err(|message| match report.files.len() {
            0 | 1 => message,
            _ => format!("{}: {message}", check.path),
        })?;
    }
    Ok(())
}

/// One streamed GET of `length` bytes from `start`.
async fn read_back(
    client: &reqwest::Client,
    authorizer: &Authorizer,
    url: &str,
    start: u64,
    length: u64,
) -> Result<Digests, ReadError> {
    let mut request = dfs::versioned(client.get(url))
        .header("Range", format!("bytes={start}-{}", start + length - 1))
        .build()
        .map_err(ReadError::Transport)?;
    authorizer
        .authorize(&mut request)
        .await
        .map_err(ReadError::Credential)?;
    let mut response = client
        .execute(request)
        .await
        .map_err(ReadError::Transport)?;
    let status = response.status().as_u16();
    if status != 200 && status != 206 {
        let headers = response.headers().clone();
        let code = dfs::error_code(&headers).unwrap_or("").to_string();
        let body = response.bytes().await.unwrap_or_default();
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        return Err(ReadError::Status(status, headers, format!("{code} {text}")));
    }
    // A server that ignores `Range` sends the whole file: skip to the span.
    let mut skip = if status == 206 { 0 } else { start };
    let mut hasher = Hasher::default();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        let mut data = &chunk[..];
        let skipped = skip.min(data.len() as u64);
        data = &data[skipped as usize..];
        skip -= skipped;
        hasher.update(data);
    }
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_span_is_the_whole_file_or_the_appended_tail() {
        assert_eq!(span(false, 100, 100), (0, 100));
        assert_eq!(span(true, 150, 50), (100, 50));
        assert_eq!(span(true, 10, 50), (0, 10));
    }

    #[test]
    fn parts_are_found_beside_the_output_directory() {
        assert_eq!(
            sibling_url(
                "http://127.0.0.1:10004/acct/fs/out/sales",
                "out/sales",
                "out/sales/sales-00002.csv"
            ),
            "http://127.0.0.1:10004/acct/fs/out/sales/sales-00002.csv"
        );
        assert_eq!(
            sibling_url(
                "https://acct.dfs.core.windows.net/my%20fs/a%20b",
                "a b",
                "a b/é 1.csv"
            ),
            "https://acct.dfs.core.windows.net/my%20fs/a%20b/%C3%A9%201.csv"
        );
    }

    #[test]
    fn digests_are_base64_md5_and_hex_sha256() {
        let d = Digests::of(b"a,b\n1,2\n");
        let mut split = Hasher::default();
        split.update(b"a,b\n");
        split.update(b"1,2\n");
        assert_eq!(split.finish(), d);
        let empty = Digests::of(b"");
        assert_eq!(empty.md5, "1B2M2Y8AsgTpgAmY7PhCfg==");
        assert_eq!(
            empty.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_tampered_file_fails_naming_both_digests() {
        let written = b"a,b\n1,2\n";
        let expected = Expected {
            bytes: written.len() as u64,
            md5: Digests::of(written).md5,
            sha256: Some(Digests::of(written).sha256),
        };
        assert_eq!(compare(&expected, &Digests::of(written)), Ok(()));
        let tampered = Digests::of(b"a,b\n1,3\n");
        let message = compare(&expected, &tampered).unwrap_err();
        assert!(
            message.contains(&expected.md5) && message.contains(&tampered.md5),
            "{message}"
        );
        let short = Digests::of(b"a,b\n");
        let message = compare(&expected, &short).unwrap_err();
        assert!(message.contains("4 bytes read back"), "{message}");
        // Same MD5 (as if it collided) but another SHA-256: still refused.
        let forged = Digests {
            sha256: tampered.sha256.clone(),
            ..Digests::of(written)
        };
        let message = compare(&expected, &forged).unwrap_err();
        assert!(message.contains("sha256"), "{message}");
        // A base64 SHA-256 is read too.
        let raw = hex_bytes(&Digests::of(written).sha256).unwrap();
        let b64 = Expected {
            sha256: Some(base64::engine::general_purpose::STANDARD.encode(raw)),
            ..expected
        };
        assert_eq!(compare(&b64, &Digests::of(written)), Ok(()));
    }
}
