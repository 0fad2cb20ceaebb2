//! Azure Storage's CRC64 (`x-ms-content-crc64`): CRC-64/NVME (reflected polynomial
//! `0x9A6C9329AC4BC9B5`, initial value and final XOR all ones), sent as the base64 of its 8
//! bytes in little-endian order.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A running CRC64 over data that arrives in pieces.
#[derive(Clone)]
pub(crate) struct Crc64(crc64fast_nvme::Digest);

impl std::fmt::Debug for Crc64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Crc64({:016x})", self.0.sum64())
    }
}

impl Default for Crc64 {
    fn default() -> Self {
        Self(crc64fast_nvme::Digest::new())
    }
}

impl Crc64 {
    /// Adds the next piece.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }

    /// The CRC of everything added so far.
    pub(crate) fn value(&self) -> u64 {
        self.0.sum64()
    }
}

/// The CRC64 of `bytes`.
#[cfg(test)]
pub(crate) fn of(bytes: &[u8]) -> u64 {
    let mut crc = Crc64::default();
    crc.update(bytes);
    crc.value()
}

/// The header form of a CRC64: base64 of its little-endian bytes.
pub(crate) fn to_header(crc: u64) -> String {
    STANDARD.encode(crc.to_le_bytes())
}

/// Parses an `x-ms-content-crc64` value; `None` unless it is base64 of exactly 8 bytes.
pub(crate) fn from_header(value: &str) -> Option<u64> {
    let bytes: [u8; 8] = STANDARD.decode(value.trim()).ok()?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values computed with Microsoft's own implementation, the `crc64` module of the PyPI
    /// package `azure-storage-extensions` 0.1.0 (`crc64.compute(data, 0)`), printed as the
    /// header value the SDK sends (`base64(struct.pack("<Q", crc))`).
    #[test]
    fn matches_microsofts_implementation() {
        // `bytes(range(256)) * 40` in Python.
        let ramp: Vec<u8> = (0..10_240u32).map(|i| (i % 256) as u8).collect();
        let cases: [(&[u8], u64, &str); 4] = [
            (b"", 0, "AAAAAAAAAAA="),
            (b"123456789", 0xae8b14860a799888, "iJh5CoYUi64="),
            (b"Hello, Azure Storage!", 0xfb289c444670ab2e, "LqtwRkScKPs="),
            (&ramp, 0xe1763e85e8eb4599, "mUXr6IU+duE="),
        ];
        for (data, crc, header) in cases {
            assert_eq!(of(data), crc, "{data:?}");
            assert_eq!(to_header(crc), header);
            assert_eq!(from_header(header), Some(crc));
        }
    }

    #[test]
    fn pieces_add_up_and_bad_headers_are_refused() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut crc = Crc64::default();
        for piece in data.chunks(7_001) {
            crc.update(piece);
        }
        assert_eq!(crc.value(), of(&data));
        assert_eq!(from_header("AAAA"), None, "3 bytes");
        assert_eq!(from_header("not base64!"), None);
    }
}
