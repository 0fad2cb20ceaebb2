//! Resolving the job file's sections: defaults, secrets, and the checks only the host can
//! make, each problem named by its field.

use super::*;

pub(super) fn resolve_secret(
    r: &SecretRef,
    base: &Path,
    field: &str,
    problems: &mut Vec<FieldError>,
) -> Option<Secret> {
    r.resolve(base)
        .map_err(|e| problems.push(FieldError::new(field, e)))
        .ok()
}

pub(super) fn resolve_source(
    s: SourceSection,
    base: &Path,
    problems: &mut Vec<FieldError>,
) -> Source {
    match s.kind.as_str() {
        "file" => {
            let path = match s.path {
                Some(p) => base.join(p),
                None => {
                    problems.push(FieldError::new(
                        "source.path",
                        "missing: the CSV file to export",
                    ));
                    PathBuf::new()
                }
            };
            if !path.as_os_str().is_empty() && !path.is_file() {
                problems.push(FieldError::new(
                    "source.path",
                    format!("no such file `{}`", path.display()),
                ));
            }
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            let dataset_id = s.dataset_id.or(stem).unwrap_or_default();
            Source::LocalFile { path, dataset_id }
        }
        kind => {
            if kind != "domo" {
                problems.push(FieldError::new(
                    "source.kind",
                    format!("`{kind}` is not a source kind: use \"domo\" or \"file\""),
                ));
            }
            let d = s.domo.unwrap_or_default();
            let field = "source.domo.client_id";
            let client_id = d.client_id.unwrap_or_else(|| {
                problems.push(FieldError::new(field, "missing: the Domo API client ID"));
                String::new()
            });
            let client_secret = match d.client_secret {
                Some(r) => resolve_secret(&r, base, "source.domo.client_secret", problems),
                None => {
                    problems.push(FieldError::new(
                        "source.domo.client_secret",
                        "missing: give `{ env = \"NAME\" }` or `{ file = \"path\" }`",
                    ));
                    None
                }
            };
            let api_host = d.api_host.unwrap_or_else(|| DEFAULT_DOMO_API_HOST.into());
            check_endpoint("source.domo.api_host", &api_host, problems);
            let instance = d.instance.map(|url| {
                check_endpoint("source.domo.instance", &url, problems);
                let token = match d.developer_token {
                    Some(r) => resolve_secret(&r, base, "source.domo.developer_token", problems),
                    None => {
                        problems.push(FieldError::new(
                            "source.domo.developer_token",
                            "missing: reading co-owners from the instance needs a developer token",
                        ));
                        None
                    }
                };
                (url.trim_end_matches('/').to_string(), token)
            });
            Source::Domo(DomoSource {
                dataset_id: s.dataset_id.unwrap_or_default(),
                client_id,
                client_secret,
                api_host: api_host.trim_end_matches('/').to_string(),
                instance,
            })
        }
    }
}

pub(super) fn resolve_output(o: OutputSection, problems: &mut Vec<FieldError>) -> Output {
    let files = crate::job::output::FileOptions::resolve(&o, problems);
    let naming = match o.select_filename.as_deref().unwrap_or("dataset-id") {
        "dataset-id" => Naming::DatasetId,
        // An empty name is reported by the guest's validation, with its other rules.
        "file-name" => Naming::FileName(o.file_name.unwrap_or_default()),
        other => {
            problems.push(FieldError::new(
                "output.select_filename",
                format!("`{other}` is not an option: use \"dataset-id\" or \"file-name\""),
            ));
            Naming::DatasetId
        }
    };
    let update = match o.update.as_deref().unwrap_or("replace") {
        "replace" => UpdateMode::Replace,
        "append" => UpdateMode::Append,
        other => {
            problems.push(FieldError::new(
                "output.update",
                format!("`{other}` is not an update mode: use \"replace\" or \"append\""),
            ));
            UpdateMode::Replace
        }
    };
    Output {
        file_system: o.file_system,
        directory: o.directory,
        naming,
        update,
        block_size: o.block_size.unwrap_or(DEFAULT_BLOCK_SIZE),
        concurrency: o.concurrency.unwrap_or(DEFAULT_CONCURRENCY),
        allow_empty: o.allow_empty.unwrap_or(false),
        strict: o.strict.unwrap_or(false),
        files,
    }
}

pub(super) fn in_range(
    field: &str,
    value: u64,
    min: u64,
    max: u64,
    problems: &mut Vec<FieldError>,
) -> bool {
    let ok = (min..=max).contains(&value);
    if !ok {
        problems.push(FieldError::new(
            field,
            format!("{value} is out of range: {min} to {max}"),
        ));
    }
    ok
}

pub(super) fn resolve_http(h: &HttpSection, base: &Path, problems: &mut Vec<FieldError>) -> Http {
    let mut http = Http::default();
    if let Some(url) = &h.proxy {
        match Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                if !u.username().is_empty() || u.password().is_some() {
                    problems.push(FieldError::new(
                        "http.proxy",
                        "holds credentials: give them as http.proxy_username and \
                         http.proxy_password (a reference), never inline",
                    ));
                }
                let password = h
                    .proxy_password
                    .as_ref()
                    .and_then(|r| resolve_secret(r, base, "http.proxy_password", problems));
                let credentials = match (&h.proxy_username, password) {
                    (Some(user), Some(password)) => {
                        Some((user.clone(), password.expose().to_string()))
                    }
                    (None, None) => None,
                    (Some(_), None) if h.proxy_password.is_some() => None,
                    _ => {
                        problems.push(FieldError::new(
                            "http.proxy_username",
                            "give both http.proxy_username and http.proxy_password, or neither",
                        ));
                        None
                    }
                };
                http.proxy = Some(crate::plumbing::client::ProxySettings {
                    url: url.clone(),
                    credentials,
                });
            }
            _ => problems.push(FieldError::new(
                "http.proxy",
                format!("`{url}` is not a proxy URL: use http://host:port"),
            )),
        }
    } else if h.proxy_username.is_some() || h.proxy_password.is_some() {
        problems.push(FieldError::new(
            "http.proxy",
            "missing: proxy credentials are given but no http.proxy",
        ));
    }
    let retry = &mut http.retry;
    if let Some(n) = h.max_retries
        && in_range("http.max_retries", n.into(), 0, 20, problems)
    {
        retry.max_retries = n;
    }
    if let Some(ms) = h.backoff_initial_ms
        && in_range("http.backoff_initial_ms", ms, 1, 60_000, problems)
    {
        retry.backoff.initial = Duration::from_millis(ms);
    }
    if let Some(ms) = h.backoff_max_ms
        && in_range("http.backoff_max_ms", ms, 1, 600_000, problems)
    {
        retry.backoff.max = Duration::from_millis(ms);
    }
    if retry.backoff.max < retry.backoff.initial {
        problems.push(FieldError::new(
            if h.backoff_max_ms.is_some() {
                "http.backoff_max_ms"
            } else {
                "http.backoff_initial_ms"
            },
            format!(
                "backoff_max_ms ({} ms) is less than backoff_initial_ms ({} ms)",
                retry.backoff.max.as_millis(),
                retry.backoff.initial.as_millis()
            ),
        ));
    }
    if let Some(secs) = h.retry_timeout_secs
        && in_range("http.retry_timeout_secs", secs, 1, 86_400, problems)
    {
        retry.retry_timeout = Duration::from_secs(secs);
    }
    if let Some(secs) = h.request_timeout_secs
        && in_range("http.request_timeout_secs", secs, 1, 86_400, problems)
    {
        http.request_timeout = Duration::from_secs(secs);
    }
    http
}

/// An endpoint is `https://`, or `http://` on a loopback address (an emulator).
pub fn check_endpoint(field: &str, value: &str, problems: &mut Vec<FieldError>) {
    match Url::parse(value) {
        Ok(url) if url.scheme() == "https" && url.host().is_some() => {}
        Ok(url) if url.scheme() == "http" && is_loopback(&url) => {}
        Ok(url) if url.scheme() == "http" => problems.push(FieldError::new(
            field,
            format!("`{value}` uses plain http, which is allowed only for loopback addresses"),
        )),
        _ => problems.push(FieldError::new(
            field,
            format!("`{value}` is not an https URL"),
        )),
    }
}

/// True for `localhost`, 127.0.0.0/8 and `::1`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `[limits] memory_mib` when not given.
pub(super) const DEFAULT_MEMORY_MIB: u64 = 512;
/// The most `[limits] memory_mib` may be.
pub(super) const MAX_MEMORY_MIB: u64 = 4096;

/// About what a run with `output`'s blocks needs, in MiB, with room to spare: the host holds
/// the appends in flight, an append's last block and one queued per digest besides the one
/// being hashed; the guest's memory peaks at about two blocks (the one filling and the one
/// cut off it) and a read's worth, and a few MiB of its own.
pub(super) fn memory_needed_mib(output: &Output) -> u64 {
    let block = u64::from(output.block_size);
    let blocks = u64::from(output.concurrency) + 9;
    (block * blocks).div_ceil(1 << 20) + 16
}

/// The run's memory cap in bytes: `memory_mib` when given (16 to 4096), else the default or,
/// when `output`'s blocks need more, what they need. A cap too small for the blocks is a
/// problem naming the three keys, so a run never starts only to hit it.
pub(super) fn memory_bytes(
    memory_mib: Option<u64>,
    output: &Output,
    problems: &mut Vec<FieldError>,
) -> usize {
    let needed = memory_needed_mib(output);
    let blocks_checked = (64 << 10..=100 << 20).contains(&output.block_size)
        && (1..=64).contains(&output.concurrency);
    let mib = match memory_mib {
        Some(mib) if !(16..=MAX_MEMORY_MIB).contains(&mib) => {
            problems.push(FieldError::new(
                "limits.memory_mib",
                format!("{mib} is out of range: give 16 to {MAX_MEMORY_MIB} (MiB)"),
            ));
            mib.clamp(16, MAX_MEMORY_MIB)
        }
        Some(mib) => {
            if blocks_checked && mib < needed {
                problems.push(FieldError::new(
                    "limits.memory_mib",
                    format!(
                        "{mib} MiB is too little for output.block_size × output.concurrency \
                         ({} × {} in flight): a run needs about {needed} MiB; raise \
                         limits.memory_mib or lower output.block_size or output.concurrency",
                        human_bytes(output.block_size),
                        output.concurrency
                    ),
                ));
            }
            mib
        }
        None => {
            if blocks_checked && needed > MAX_MEMORY_MIB {
                problems.push(FieldError::new(
                    "output.concurrency",
                    format!(
                        "output.block_size × output.concurrency ({} × {} in flight) needs about \
                         {needed} MiB, more than limits.memory_mib may be ({MAX_MEMORY_MIB}): \
                         lower output.block_size or output.concurrency",
                        human_bytes(output.block_size),
                        output.concurrency
                    ),
                ));
            }
            needed.clamp(DEFAULT_MEMORY_MIB, MAX_MEMORY_MIB)
        }
    };
    (mib as usize) << 20
}

/// `8 MiB`, `64 KiB` or `1000 bytes`.
fn human_bytes(bytes: u32) -> String {
    match bytes {
        b if b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}
