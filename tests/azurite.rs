//! Azurite runs in the tests: it starts on a free loopback port with telemetry off and
//! answers Blob requests signed with its well-known key.

use crate::support::azurite::{ACCOUNT, Azurite, KEY};
use crate::support::blob::BlobClient;

#[tokio::test]
async fn azurite_starts_and_answers_shared_key_blob_requests() {
    let azurite = Azurite::start();
    let client = BlobClient::new(&azurite.account_url(), ACCOUNT, KEY);
    let created = client.put("smoke?restype=container", &[], b"").await;
    assert_eq!(created.status, 201, "{}", created.text());
    let put = client
        .put(
            "smoke/dir/a.txt",
            &[
                ("x-ms-blob-type", "BlockBlob"),
                ("content-type", "text/plain"),
            ],
            b"hello azurite",
        )
        .await;
    assert_eq!(put.status, 201, "{}", put.text());
    let got = client.get("smoke/dir/a.txt", &[]).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, b"hello azurite");
    assert_eq!(got.header("content-type"), Some("text/plain"));
    assert_eq!(got.header("etag"), put.header("etag"));
    let missing = client.get("smoke/nothing", &[]).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error_code(), Some("BlobNotFound"));
}
