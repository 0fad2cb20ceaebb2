//! Blob request building and response interpretation.

use super::*;

fn blob() -> Blob {
    Blob::new("http://127.0.0.1:10000/acct/", "exports", "run-7")
}

fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    Response {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn block_ids_have_one_length_sort_by_position_and_differ_per_position() {
    let b = blob();
    let ids: Vec<String> = [0u64, 7, 4 << 20, u64::MAX]
        .iter()
        .map(|p| b.block_id(*p))
        .collect();
    assert!(ids.iter().all(|id| id.len() == ids[0].len()));
    assert!(ids[0].len() <= 64, "the service takes at most 64 bytes");
    let raw: Vec<Vec<u8>> = ids.iter().map(|id| BASE64.decode(id).unwrap()).collect();
    assert!(raw.windows(2).all(|w| w[0] < w[1]));
    let long = Blob::new("http://h/a", "c", &"r".repeat(60));
    assert_eq!(long.block_id(0).len(), ids[0].len());
    assert_ne!(long.block_id(0), b.block_id(0));
}

#[test]
fn put_block_names_the_block_and_carries_its_md5() {
    let mut b = blob();
    let id = b.block_id(0);
    let r = b.put_block("dir/a b.csv", &id, &[1, 2, 3]);
    assert_eq!(r.method, Method::Put);
    assert!(
        r.url
            .starts_with("http://127.0.0.1:10000/acct/exports/dir/a%20b.csv?comp=block&blockid=")
    );
    assert!(!r.url.contains("==") && r.url.ends_with("%3D"), "{}", r.url);
    assert_eq!(r.header("Content-MD5"), Some("AQID"));
    assert_eq!(r.header("x-ms-version"), Some(VERSION));
    assert_eq!(r.header("x-ms-client-request-id"), Some("run-7-blob-1"));
    assert_eq!(r.header("Authorization"), None);
}

#[test]
fn put_block_list_lists_committed_then_latest_with_conditions() {
    let mut b = blob();
    let committed = ["b2xk".to_string()];
    let latest = ["bmV3".to_string()];
    let list = BlockList {
        committed: &committed,
        latest: &latest,
        md5: Some(&[1, 2, 3]),
        content_type: "text/csv",
        metadata: &[("dataset_id", &metadata_value("ventes-été")), ("rows", "2")],
        if_match: Some("\"0x1\""),
    };
    let r = b.put_block_list("a.csv", &list);
    assert_eq!(r.method, Method::Put);
    assert!(r.url.ends_with("/exports/a.csv?comp=blocklist"));
    let body = String::from_utf8(r.body.clone()).unwrap();
    assert!(
        body.contains("<BlockList><Committed>b2xk</Committed><Latest>bmV3</Latest></BlockList>")
    );
    assert_eq!(r.header("x-ms-blob-content-md5"), Some("AQID"));
    assert_eq!(r.header("x-ms-blob-content-type"), Some("text/csv"));
    assert_eq!(r.header("If-Match"), Some("\"0x1\""));
    assert_eq!(
        r.header("x-ms-meta-dataset_id"),
        Some("ventes-%C3%A9t%C3%A9")
    );
    assert_eq!(r.header("x-ms-meta-rows"), Some("2"));
    let r = b.put_block_list("a.csv", &BlockList::default());
    assert_eq!(r.header("x-ms-blob-content-md5"), None);
    assert_eq!(r.header("If-Match"), None);
}

#[test]
fn account_information_reads_the_namespace_flag() {
    let mut b = blob();
    let r = b.account_information();
    assert_eq!(
        r.url,
        "http://127.0.0.1:10000/acct/?restype=account&comp=properties"
    );
    assert_eq!(
        hierarchical(&response(200, &[("x-ms-is-hns-enabled", "true")], "")),
        Some(true)
    );
    assert_eq!(
        hierarchical(&response(200, &[("x-ms-is-hns-enabled", "false")], "")),
        Some(false)
    );
    assert_eq!(hierarchical(&response(200, &[], "")), None);
    assert_eq!(
        hierarchical(&response(403, &[("x-ms-is-hns-enabled", "false")], "")),
        None
    );
}

#[test]
fn block_lists_are_read_in_order() {
    let xml = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><CommittedBlocks>\
               <Block><Name>QQ==</Name><Size>3</Size></Block>\
               <Block><Name>Qg==</Name><Size>5</Size></Block>\
               </CommittedBlocks><UncommittedBlocks/></BlockList>";
    let blocks = committed_blocks(&response(200, &[], xml)).unwrap();
    assert_eq!(
        blocks,
        vec![
            CommittedBlock {
                id: "QQ==".into(),
                size: 3
            },
            CommittedBlock {
                id: "Qg==".into(),
                size: 5
            }
        ]
    );
    let empty = "<BlockList><CommittedBlocks /></BlockList>";
    assert!(
        committed_blocks(&response(200, &[], empty))
            .unwrap()
            .is_empty()
    );
    let e = committed_blocks(&response(
        200,
        &[],
        "<BlockList><CommittedBlocks><Block><Name>x</Name></Block></CommittedBlocks></BlockList>",
    ))
    .unwrap_err();
    assert!(e.message.contains("no valid Size"), "{}", e.message);
    assert!(committed_blocks(&response(200, &[], "not xml")).is_err());
}

#[test]
fn xml_error_messages_are_read() {
    let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code>\
                <Message>The specified blob does not exist.\nRequestId:abc</Message></Error>";
    assert_eq!(
        error_message(body.as_bytes()).as_deref(),
        Some("The specified blob does not exist.\nRequestId:abc")
    );
    assert_eq!(error_message(b"{}"), None);
}

#[test]
fn list_blobs_asks_for_one_directory_and_reads_names_and_marker() {
    let mut b = blob();
    let r = b.list_blobs("sales/2026", Some("m 1"));
    assert!(
        r.url.ends_with(
            "/exports?restype=container&comp=list&delimiter=%2F&prefix=sales%2F2026%2F&marker=m%201"
        ),
        "{}",
        r.url
    );
    let page = response(
        200,
        &[],
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults><Prefix>sales/</Prefix>\
         <Blobs><Blob><Name>sales/a-00001.csv</Name><Properties/></Blob>\
         <BlobPrefix><Name>sales/sub/</Name></BlobPrefix>\
         <Blob><Name>sales/_manifest.json</Name></Blob></Blobs>\
         <NextMarker>next</NextMarker></EnumerationResults>",
    );
    let (names, next) = blob_names(&page).unwrap();
    assert_eq!(names, ["sales/a-00001.csv", "sales/_manifest.json"]);
    assert_eq!(next.as_deref(), Some("next"));
    let last = response(
        200,
        &[],
        "<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>",
    );
    assert_eq!(blob_names(&last).unwrap(), (vec![], None));
    assert!(blob_names(&response(200, &[], "not xml")).is_err());
}
