//! Digests for the guest (`digest` interface), in native code: MD5 and SHA-256 of what a run
//! writes, and the per-append CRC-64 the storage service checks. A running digest hashes on
//! a blocking thread of its own, so the file's MD5 and SHA-256 are computed side by side
//! and beside the uploads; a queue of one body per digest (besides the one being hashed)
//! keeps a slow digest from holding more than that in memory (the guest waits instead).

use bytes::Bytes;
use md5::Md5;
use sha2::{Digest as _, Sha256};
use tokio::sync::{mpsc, oneshot};
use wasmtime::component::{HasData, Resource, ResourceTable};

use super::http::HttpCapability;
use super::http::body::HeldBody;
use crate::capabilities::bindings::digest::{self, Algorithm};

/// Bodies queued per running digest before `update` waits. One: the file's MD5 is the
/// slowest stage, so a longer queue only holds blocks the uploads are done with.
const QUEUE: usize = 1;

/// The digest capability of one run: its running digests.
#[derive(Default)]
pub struct DigestCapability {
    table: ResourceTable,
}

/// The guest's view for the `digest` interface: its running digests and the bodies the
/// HTTP capability holds.
pub struct DigestView<'a> {
    /// The running digests.
    pub digests: &'a mut DigestCapability,
    /// Where the bodies are.
    pub http: &'a mut HttpCapability,
}

/// [`HasData`] for linking the `digest` interface with a [`DigestView`].
pub struct DigestData;

impl HasData for DigestData {
    type Data<'a> = DigestView<'a>;
}

/// One algorithm's state.
enum State {
    Md5(Md5),
    Sha256(Sha256),
    Crc64(crc64fast_nvme::Digest),
}

impl State {
    fn new(algorithm: Algorithm) -> State {
        match algorithm {
            Algorithm::Md5 => State::Md5(Md5::new()),
            Algorithm::Sha256 => State::Sha256(Sha256::new()),
            Algorithm::Crc64 => State::Crc64(crc64fast_nvme::Digest::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            State::Md5(h) => h.update(data),
            State::Sha256(h) => h.update(data),
            State::Crc64(h) => h.write(data),
        }
    }

    /// The digest so far; the state goes on.
    fn value(&self) -> Vec<u8> {
        match self {
            State::Md5(h) => h.clone().finalize().to_vec(),
            State::Sha256(h) => h.clone().finalize().to_vec(),
            State::Crc64(h) => h.sum64().to_le_bytes().to_vec(),
        }
    }
}

/// The digest of `data` by `algorithm`.
pub fn of_bytes(algorithm: Algorithm, data: &[u8]) -> Vec<u8> {
    let mut state = State::new(algorithm);
    state.update(data);
    state.value()
}

enum Message {
    Data(Bytes),
    Value(oneshot::Sender<Vec<u8>>),
}

/// A running digest (the `digest.hasher` resource): a blocking thread owns the state.
pub struct Hasher {
    queue: mpsc::Sender<Message>,
}

impl Hasher {
    fn start(algorithm: Algorithm) -> Hasher {
        let (queue, mut messages) = mpsc::channel(QUEUE);
        // It ends when the hasher is dropped and the queue closes.
        tokio::task::spawn_blocking(move || {
            let mut state = State::new(algorithm);
            while let Some(message) = messages.blocking_recv() {
                match message {
                    Message::Data(bytes) => state.update(&bytes),
                    Message::Value(reply) => {
                        let _ = reply.send(state.value());
                    }
                }
            }
        });
        Hasher { queue }
    }

    async fn update(&self, data: Bytes) -> wasmtime::Result<()> {
        self.queue
            .send(Message::Data(data))
            .await
            .map_err(|_| wasmtime::format_err!("the digest thread stopped"))
    }

    async fn value(&self) -> wasmtime::Result<Vec<u8>> {
        let (reply, value) = oneshot::channel();
        self.queue
            .send(Message::Value(reply))
            .await
            .map_err(|_| wasmtime::format_err!("the digest thread stopped"))?;
        value
            .await
            .map_err(|_| wasmtime::format_err!("the digest thread stopped"))
    }
}

impl digest::Host for DigestView<'_> {
    async fn of_body(
        &mut self,
        algorithm: Algorithm,
        data: Resource<HeldBody>,
    ) -> wasmtime::Result<Vec<u8>> {
        Ok(of_bytes(algorithm, &self.http.body(&data)?.bytes))
    }
}

impl digest::HostHasher for DigestView<'_> {
    async fn new(&mut self, algorithm: Algorithm) -> wasmtime::Result<Resource<Hasher>> {
        Ok(self.digests.table.push(Hasher::start(algorithm))?)
    }

    async fn update(
        &mut self,
        hasher: Resource<Hasher>,
        data: Resource<HeldBody>,
    ) -> wasmtime::Result<()> {
        let bytes = self.http.body(&data)?.bytes.clone();
        self.digests.table.get(&hasher)?.update(bytes).await
    }

    async fn finish(&mut self, hasher: Resource<Hasher>) -> wasmtime::Result<Vec<u8>> {
        self.digests.table.get(&hasher)?.value().await
    }

    async fn drop(&mut self, hasher: Resource<Hasher>) -> wasmtime::Result<()> {
        self.digests.table.delete(hasher)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_is_azure_storages() {
        // CRC-64/NVME's check value (the CRC of "123456789"), little-endian as
        // `x-ms-content-crc64` carries it.
        assert_eq!(
            of_bytes(Algorithm::Crc64, b"123456789"),
            0xae8b_1486_0a79_9888_u64.to_le_bytes()
        );
        assert_eq!(of_bytes(Algorithm::Crc64, b""), [0; 8]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_digest_equals_the_digest_of_everything_in_order() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for algorithm in [Algorithm::Md5, Algorithm::Sha256, Algorithm::Crc64] {
            let hasher = Hasher::start(algorithm);
            for piece in data.chunks(30_000) {
                hasher.update(Bytes::copy_from_slice(piece)).await.unwrap();
            }
            let half = hasher.value().await.unwrap();
            assert_eq!(half, of_bytes(algorithm, &data));
            hasher.update(Bytes::from_static(b"more")).await.unwrap();
            let mut all = data.clone();
            all.extend_from_slice(b"more");
            assert_eq!(hasher.value().await.unwrap(), of_bytes(algorithm, &all));
        }
        assert_eq!(
            of_bytes(Algorithm::Md5, b""),
            [
                0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8,
                0x42, 0x7e
            ]
        );
    }
}
