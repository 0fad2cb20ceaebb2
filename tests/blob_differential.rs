//! The emulator's Blob endpoint (on an account without a hierarchical namespace) against
//! Azurite: one sequence of Blob requests sent to both, and their answers compared: status,
//! `x-ms-error-code`, the headers clients read, and what bodies say (bytes, block lists,
//! listed names). Where Azurite is known to answer otherwise than the service, the difference
//! is listed in [`DEVIATIONS`] with its reason; every listed difference must still occur.

use std::collections::{BTreeMap, BTreeSet};

use adls_writeback_emulator::{Emulator, EmulatorConfig, well_known};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;

use crate::support::azurite::{ACCOUNT, Azurite, KEY};
use crate::support::blob::{Answer, BlobClient};
use crate::support::md5_base64;

/// One request of the sequence. `{etag:NAME}` in a header value is replaced by the ETag each
/// side answered to the step `NAME` (each side's own).
struct Step {
    name: &'static str,
    method: Method,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn step(name: &'static str, method: Method, path: &'static str) -> Step {
    Step {
        name,
        method,
        path,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

impl Step {
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Step {
        self.headers.push((name, value.into()));
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Step {
        self.body = body.into();
        self
    }
}

/// A block ID: the base64 of a fixed-width name.
fn id(n: u32) -> String {
    STANDARD.encode(format!("block-{n:06}"))
}

fn block_list(entries: &[(&str, u32)]) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for (kind, n) in entries {
        xml.push_str(&format!("<{kind}>{}</{kind}>", id(*n)));
    }
    xml.push_str("</BlockList>");
    xml
}

fn put_blob(name: &'static str, path: &'static str, body: &str) -> Step {
    step(name, Method::PUT, path)
        .header("x-ms-blob-type", "BlockBlob")
        .header("content-type", "text/csv")
        .body(body.as_bytes().to_vec())
}

/// The sequence: a container, blocks staged and committed (with integrity checks and block
/// list rules), conditional writes and reads, ranges, properties, metadata, listings with
/// prefix and delimiter, deletes, and the error answers along the way.
fn sequence() -> Vec<Step> {
    vec![
        step("create container", Method::PUT, "diff?restype=container"),
        step(
            "create container again",
            Method::PUT,
            "diff?restype=container",
        ),
        step(
            "account information",
            Method::GET,
            "?restype=account&comp=properties",
        ),
        step(
            "put block 1",
            Method::PUT,
            "diff/data/report.csv?comp=block&blockid=YmxvY2stMDAwMDAx",
        )
        .header("content-md5", md5_base64(b"hello "))
        .body(b"hello ".to_vec()),
        step(
            "put block 2 with a wrong MD5",
            Method::PUT,
            "diff/data/report.csv?comp=block&blockid=YmxvY2stMDAwMDAy",
        )
        .header("content-md5", md5_base64(b"other"))
        .body(b"world".to_vec()),
        step(
            "put block 2 with a wrong CRC64",
            Method::PUT,
            "diff/data/report.csv?comp=block&blockid=YmxvY2stMDAwMDAy",
        )
        .header("x-ms-content-crc64", "AAAAAAAAAAA=")
        .body(b"world".to_vec()),
        step(
            "put block 2",
            Method::PUT,
            "diff/data/report.csv?comp=block&blockid=YmxvY2stMDAwMDAy",
        )
        .body(b"world".to_vec()),
        step(
            "put block with an ID that is not base64",
            Method::PUT,
            "diff/data/report.csv?comp=block&blockid=not*base64",
        )
        .body(b"x".to_vec()),
        step(
            "put block without an ID",
            Method::PUT,
            "diff/data/report.csv?comp=block",
        )
        .body(b"x".to_vec()),
        step("get uncommitted blob", Method::GET, "diff/data/report.csv"),
        step(
            "list uncommitted blocks",
            Method::GET,
            "diff/data/report.csv?comp=blocklist&blocklisttype=uncommitted",
        ),
        step(
            "list blobs before commit",
            Method::GET,
            "diff?restype=container&comp=list",
        ),
        step(
            "put block list with an unknown block",
            Method::PUT,
            "diff/data/report.csv?comp=blocklist",
        )
        .body(block_list(&[("Latest", 1), ("Latest", 9)])),
        step(
            "put block list that is not XML",
            Method::PUT,
            "diff/data/report.csv?comp=blocklist",
        )
        .body(b"<BlockList><Latest>".to_vec()),
        step(
            "put block list",
            Method::PUT,
            "diff/data/report.csv?comp=blocklist",
        )
        .header("x-ms-blob-content-type", "text/csv")
        .header("x-ms-blob-content-md5", md5_base64(b"hello world"))
        .header("x-ms-meta-owner", "dana")
        .body(block_list(&[("Latest", 1), ("Latest", 2)])),
        step(
            "committed block list",
            Method::GET,
            "diff/data/report.csv?comp=blocklist&blocklisttype=committed",
        ),
        step(
            "uncommitted blocks after commit",
            Method::GET,
            "diff/data/report.csv?comp=blocklist&blocklisttype=uncommitted",
        ),
        step("get blob", Method::GET, "diff/data/report.csv"),
        step("blob properties", Method::HEAD, "diff/data/report.csv"),
        step("get range", Method::GET, "diff/data/report.csv").header("x-ms-range", "bytes=0-4"),
        step("get open range", Method::GET, "diff/data/report.csv").header("range", "bytes=6-"),
        step(
            "get range past the end",
            Method::GET,
            "diff/data/report.csv",
        )
        .header("x-ms-range", "bytes=100-200"),
        step("get if none match", Method::GET, "diff/data/report.csv")
            .header("if-none-match", "{etag:put block list}"),
        step("get if match stale", Method::GET, "diff/data/report.csv")
            .header("if-match", "\"0x8D000000000000A\""),
        step(
            "put block 3",
            Method::PUT,
            "diff/data/report.csv?comp=block&blockid=YmxvY2stMDAwMDAz",
        )
        .body(b" again".to_vec()),
        step(
            "append with a stale etag",
            Method::PUT,
            "diff/data/report.csv?comp=blocklist",
        )
        .header("if-match", "\"0x8D000000000000A\"")
        .body(block_list(&[
            ("Committed", 1),
            ("Committed", 2),
            ("Uncommitted", 3),
        ])),
        step(
            "blob after a failed append",
            Method::GET,
            "diff/data/report.csv",
        ),
        step("append", Method::PUT, "diff/data/report.csv?comp=blocklist")
            .header("if-match", "{etag:put block list}")
            .header("x-ms-blob-content-type", "text/csv")
            .body(block_list(&[
                ("Committed", 1),
                ("Committed", 2),
                ("Uncommitted", 3),
            ])),
        step("blob after append", Method::GET, "diff/data/report.csv"),
        step(
            "all blocks after append",
            Method::GET,
            "diff/data/report.csv?comp=blocklist&blocklisttype=all",
        ),
        put_blob(
            "put blob over it if none match",
            "diff/data/report.csv",
            "x",
        )
        .header("if-none-match", "*"),
        put_blob("put blob with a wrong MD5", "diff/data/other.csv", "a,b\n")
            .header("content-md5", md5_base64(b"nope")),
        put_blob("put blob", "diff/data/other.csv", "a,b\n1,2\n"),
        step(
            "put blob without a type",
            Method::PUT,
            "diff/data/untyped.csv",
        )
        .body(b"x".to_vec()),
        put_blob("put blob in a subfolder", "diff/data/2024/jan.csv", "j\n"),
        put_blob("put blob at the top", "diff/top.csv", "t\n"),
        put_blob("put blob in another folder", "diff/logs/run.log", "l\n"),
        step(
            "list with delimiter",
            Method::GET,
            "diff?restype=container&comp=list&delimiter=/",
        ),
        step(
            "list with prefix and delimiter",
            Method::GET,
            "diff?restype=container&comp=list&prefix=data/&delimiter=/",
        ),
        step(
            "list with prefix",
            Method::GET,
            "diff?restype=container&comp=list&prefix=data/",
        ),
        step(
            "set metadata",
            Method::PUT,
            "diff/data/other.csv?comp=metadata",
        )
        .header("x-ms-meta-team", "sales"),
        step(
            "get metadata",
            Method::HEAD,
            "diff/data/other.csv?comp=metadata",
        ),
        step(
            "set properties",
            Method::PUT,
            "diff/data/other.csv?comp=properties",
        )
        .header("x-ms-blob-content-type", "text/plain"),
        step("properties after set", Method::HEAD, "diff/data/other.csv"),
        step("delete blob", Method::DELETE, "diff/data/other.csv"),
        step("get deleted blob", Method::GET, "diff/data/other.csv"),
        step("delete deleted blob", Method::DELETE, "diff/data/other.csv"),
        step("get in a missing container", Method::GET, "nothere/a.csv"),
        step("delete container", Method::DELETE, "diff?restype=container"),
    ]
}

/// Known differences between Azurite and the service (and so the emulator):
/// `(step, what differs, why)`. `what` is `status`, `code` or a header name.
const DEVIATIONS: &[(&str, &str, &str)] = &[
    (
        "account information",
        "x-ms-sku-name",
        "Azurite always answers Standard_RAGRS; the emulator answers Standard_LRS (an SKU \
         is the account's choice, not behaviour)",
    ),
    (
        "put block 1",
        "content-md5",
        "Azurite does not echo the block's Content-MD5; the service answers it",
    ),
    (
        "put block without an ID",
        "code",
        "Azurite's request validation answers 400 without x-ms-error-code          (the service: MissingRequiredQueryParameter)",
    ),
    (
        "put block list that is not XML",
        "code",
        "Azurite answers 400 without x-ms-error-code (the service: InvalidXmlDocument)",
    ),
    (
        "put blob without a type",
        "code",
        "Azurite answers 400 without x-ms-error-code (the service: MissingRequiredHeader)",
    ),
    (
        "list uncommitted blocks",
        "has etag",
        "Azurite keeps a blob record for a blob with only uncommitted blocks; the service          returns ETag only when the blob has committed blocks",
    ),
    (
        "list uncommitted blocks",
        "has last-modified",
        "as for ETag: the service returns Last-Modified only for committed blobs",
    ),
    (
        "get blob",
        "x-ms-blob-content-md5",
        "Azurite sends the whole blob's MD5 on whole reads too; the service only on ranged reads",
    ),
    (
        "blob after a failed append",
        "x-ms-blob-content-md5",
        "as for \"get blob\"",
    ),
    (
        "get if none match",
        "has etag",
        "Azurite's 304 has no ETag; the emulator keeps it (RFC 9110 asks a 304 to carry it)",
    ),
    (
        "get if none match",
        "has last-modified",
        "Azurite's 304 has no Last-Modified; the emulator keeps it",
    ),
    (
        "blob after append",
        "content-md5",
        "Azurite computes an MD5 for a blob committed from blocks; the service keeps one only          when Put Block List gives x-ms-blob-content-md5",
    ),
    (
        "get metadata",
        "content-length",
        "Azurite answers HEAD ?comp=metadata with the blob's Get Properties headers",
    ),
];

/// Headers whose values must agree.
const SAME_VALUE: &[&str] = &[
    "content-length",
    "content-type",
    "content-range",
    "content-md5",
    "x-ms-blob-content-md5",
    "x-ms-blob-type",
    "x-ms-blob-content-length",
    "accept-ranges",
    "x-ms-meta-owner",
    "x-ms-meta-team",
    "x-ms-sku-name",
    "x-ms-account-kind",
    "x-ms-is-hns-enabled",
    "x-ms-request-server-encrypted",
    "x-ms-content-crc64",
];

/// Headers that must be present on both or on neither (their values differ by nature).
const SAME_PRESENCE: &[&str] = &[
    "etag",
    "last-modified",
    "x-ms-creation-time",
    // Hierarchical namespace only: neither side may send them for a flat account.
    "x-ms-resource-type",
    "x-ms-owner",
    "x-ms-group",
    "x-ms-permissions",
    "x-ms-acl",
];

/// What of an answer is compared.
fn observe(step: &Step, answer: &Answer) -> BTreeMap<String, String> {
    let mut seen = BTreeMap::new();
    seen.insert("status".to_string(), answer.status.as_u16().to_string());
    seen.insert(
        "code".to_string(),
        answer.error_code().unwrap_or("-").to_string(),
    );
    for name in SAME_VALUE {
        if let Some(value) = answer.header(name) {
            let value = match *name {
                // Bodies of error answers are the services' own wording.
                "content-length" | "content-type" if !answer.status.is_success() => continue,
                // XML bodies are compared by what they say; Azurite sends them chunked.
                "content-length"
                    if answer
                        .header("content-type")
                        .is_some_and(|t| t.contains("xml")) =>
                {
                    continue;
                }
                "content-type" => value
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                _ => value.to_string(),
            };
            seen.insert(name.to_string(), value);
        }
    }
    for name in SAME_PRESENCE {
        seen.insert(
            format!("has {name}"),
            answer.header(name).is_some().to_string(),
        );
    }
    if answer.status.is_success() {
        let text = answer.text();
        let body = if step.path.contains("comp=blocklist") && step.method == Method::GET {
            format!("{:?}", blocks_of(&text))
        } else if step.path.contains("comp=list") {
            assert!(!text.contains("<ResourceType>"), "{}: {text}", step.name);
            format!("{:?}", listed(&text))
        } else {
            text
        };
        seen.insert("body".to_string(), body);
    }
    seen
}

/// `(section, id, size)` of a Get Block List answer.
fn blocks_of(xml: &str) -> Vec<(String, String, String)> {
    let doc = roxmltree::Document::parse(xml).expect("a block list is XML");
    let mut out = Vec::new();
    for section in doc.root_element().children().filter(|n| n.is_element()) {
        for block in section.children().filter(|n| n.is_element()) {
            let text = |tag: &str| {
                block
                    .children()
                    .find(|n| n.has_tag_name(tag))
                    .and_then(|n| n.text())
                    .unwrap_or_default()
                    .to_string()
            };
            out.push((
                section.tag_name().name().to_string(),
                text("Name"),
                text("Size"),
            ));
        }
    }
    out
}

/// Blob names and prefixes of a List Blobs answer, in order.
fn listed(xml: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).expect("a listing is XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("Blob") || n.has_tag_name("BlobPrefix"))
        .map(|n| {
            let name = n
                .children()
                .find(|c| c.has_tag_name("Name"))
                .and_then(|c| c.text())
                .unwrap_or_default();
            format!("{}:{name}", n.tag_name().name())
        })
        .collect()
}

/// Runs the sequence against one endpoint; what was observed at each step.
async fn run(client: &BlobClient) -> Vec<BTreeMap<String, String>> {
    let mut etags: BTreeMap<&str, String> = BTreeMap::new();
    let mut observed = Vec::new();
    for step in sequence() {
        let headers: Vec<(&str, String)> = step
            .headers
            .iter()
            .map(|(name, value)| {
                let mut value = value.clone();
                for (from, etag) in &etags {
                    value = value.replace(&format!("{{etag:{from}}}"), etag);
                }
                (*name, value)
            })
            .collect();
        let borrowed: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let answer = client
            .send(step.method.clone(), step.path, &borrowed, step.body.clone())
            .await;
        if std::env::var_os("BLOB_DIFFERENTIAL_TRACE").is_some() {
            println!(
                "{}: {} {:?} {}",
                step.name,
                answer.status,
                answer.error_code(),
                answer.text()
            );
        }
        if let Some(etag) = answer.header("etag") {
            etags.insert(step.name, etag.to_string());
        }
        observed.push(observe(&step, &answer));
    }
    observed
}

/// An emulator whose well-known account has no hierarchical namespace.
async fn flat_emulator(dir: &std::path::Path) -> Emulator {
    let mut config = EmulatorConfig::well_known(dir.join("emulator-data"));
    for account in &mut config.accounts {
        account.hierarchical_namespace = false;
        account.file_systems.clear();
    }
    Emulator::start(config).await.unwrap()
}

#[tokio::test]
async fn emulator_blob_endpoint_agrees_with_azurite() {
    let azurite = Azurite::start();
    let dir = tempfile::tempdir().unwrap();
    let emulator = flat_emulator(dir.path()).await;
    assert_eq!(ACCOUNT, well_known::ACCOUNT_NAME);
    let theirs = run(&BlobClient::new(&azurite.account_url(), ACCOUNT, KEY)).await;
    let ours = run(&BlobClient::new(
        &emulator.account_endpoint(ACCOUNT),
        ACCOUNT,
        well_known::ACCOUNT_KEY,
    ))
    .await;
    let mut unexplained = Vec::new();
    let mut seen_deviations = BTreeSet::new();
    for ((step, theirs), ours) in sequence().iter().zip(&theirs).zip(&ours) {
        let keys: BTreeSet<&String> = theirs.keys().chain(ours.keys()).collect();
        for key in keys {
            let (a, b) = (theirs.get(key), ours.get(key));
            if a == b {
                continue;
            }
            let listed = DEVIATIONS
                .iter()
                .any(|(s, what, _)| *s == step.name && *what == key.as_str());
            if listed {
                seen_deviations.insert((step.name, key.clone()));
            } else {
                unexplained.push(format!(
                    "{}: {key}: azurite {a:?}, emulator {b:?}",
                    step.name
                ));
            }
        }
    }
    assert!(
        unexplained.is_empty(),
        "the emulator and Azurite disagree:\n{}",
        unexplained.join("\n")
    );
    for (step, what, why) in DEVIATIONS {
        assert!(
            seen_deviations.contains(&(*step, what.to_string())),
            "listed deviation no longer occurs: {step}: {what} ({why})"
        );
    }
    // The answers that matter, spelled out (so agreeing on a wrong answer fails too).
    let at = |name: &str| {
        let i = sequence().iter().position(|s| s.name == name).unwrap();
        ours[i].clone()
    };
    assert_eq!(at("get uncommitted blob")["status"], "404");
    assert_eq!(at("put block 2 with a wrong MD5")["code"], "Md5Mismatch");
    assert_eq!(
        at("put block 2 with a wrong CRC64")["code"],
        "Crc64Mismatch"
    );
    assert_eq!(
        at("put block with an ID that is not base64")["code"],
        "InvalidQueryParameterValue"
    );
    assert_eq!(at("get range past the end")["code"], "InvalidRange");
    assert_eq!(
        at("get in a missing container")["code"],
        "ContainerNotFound"
    );
    assert_eq!(
        at("put block list with an unknown block")["code"],
        "InvalidBlockList"
    );
    assert_eq!(at("get blob")["body"], "hello world");
    assert_eq!(at("append with a stale etag")["code"], "ConditionNotMet");
    assert_eq!(at("blob after a failed append")["body"], "hello world");
    assert_eq!(at("blob after append")["body"], "hello world again");
    assert_eq!(at("get range")["body"], "hello");
    assert_eq!(at("get if none match")["status"], "304");
    assert_eq!(
        at("put blob over it if none match")["code"],
        "BlobAlreadyExists"
    );
    assert_eq!(at("account information")["x-ms-is-hns-enabled"], "false");
    assert_eq!(
        at("list with delimiter")["body"],
        r#"["BlobPrefix:data/", "BlobPrefix:logs/", "Blob:top.csv"]"#
    );
}
