//! Structured-message bodies (`x-ms-structured-body: XSM/1.0; properties=crc64`), version 1:
//! content cut into segments, each with its CRC64, and the whole content's CRC64 at the end,
//! so that a body is checked as it streams. Uploads send it (with
//! `x-ms-structured-content-length`, the content's length) and downloads ask for it.
//!
//! Layout, all integers little-endian: a 13-byte message header (version `1`, the message's
//! total length in 8 bytes, flags in 2 bytes where `1` is CRC64, the number of segments in 2
//! bytes); per segment a 10-byte header (its number from 1 in 2 bytes, its content length in
//! 8 bytes), the content and, with CRC64, its 8-byte CRC; then, with CRC64, the 8-byte CRC of
//! all the content.

use axum::http::{HeaderMap, StatusCode};

use crate::crc64::Crc64;
use crate::dfs::header_str;
use crate::errors::ServiceError;

/// The one structured-body format this emulator (and the service) speaks.
pub(crate) const V1_CRC64: &str = "XSM/1.0; properties=crc64";

const HEADER_LEN: usize = 13;
const SEGMENT_HEADER_LEN: usize = 10;
const CRC_LEN: usize = 8;
const FLAG_CRC64: u16 = 1;

/// Segment length of the bodies the emulator writes (the service uses 4 MiB).
pub(crate) const SEGMENT_LEN: usize = 4 * 1024 * 1024;

/// Whether a request asks for (or sends) a structured body; `InvalidHeaderValue` for a
/// format other than [`V1_CRC64`].
pub(crate) fn requested(headers: &HeaderMap) -> Result<bool, ServiceError> {
    match header_str(headers, "x-ms-structured-body") {
        None => Ok(false),
        Some(v) if v.trim().eq_ignore_ascii_case(V1_CRC64) => Ok(true),
        Some(_) => Err(ServiceError::invalid_header_value()),
    }
}

fn invalid() -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "InvalidStructuredMessage",
        "The structured message in the request body is invalid.",
    )
}

fn crc_of(bytes: &[u8]) -> u64 {
    let mut crc = Crc64::default();
    crc.update(bytes);
    crc.value()
}

/// Encodes `content` as a structured message of `segment_len`-byte segments with CRC64.
pub(crate) fn encode(content: &[u8], segment_len: usize) -> Vec<u8> {
    let segments: Vec<&[u8]> = if content.is_empty() {
        vec![&[][..]]
    } else {
        content.chunks(segment_len).collect()
    };
    let total =
        HEADER_LEN + segments.len() * (SEGMENT_HEADER_LEN + CRC_LEN) + content.len() + CRC_LEN;
    let mut out = Vec::with_capacity(total);
    out.push(1);
    out.extend_from_slice(&(total as u64).to_le_bytes());
    out.extend_from_slice(&FLAG_CRC64.to_le_bytes());
    out.extend_from_slice(&(segments.len() as u16).to_le_bytes());
    for (number, segment) in segments.iter().enumerate() {
        out.extend_from_slice(&(number as u16 + 1).to_le_bytes());
        out.extend_from_slice(&(segment.len() as u64).to_le_bytes());
        out.extend_from_slice(segment);
        out.extend_from_slice(&crc_of(segment).to_le_bytes());
    }
    out.extend_from_slice(&crc_of(content).to_le_bytes());
    out
}

/// Reads `n` bytes at `*at`, advancing it; `InvalidStructuredMessage` past the end.
fn take<'a>(body: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8], ServiceError> {
    let end = at
        .checked_add(n)
        .filter(|&e| e <= body.len())
        .ok_or_else(invalid)?;
    let bytes = &body[*at..end];
    *at = end;
    Ok(bytes)
}

fn u64_at(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
}

fn u16_at(bytes: &[u8]) -> u16 {
    u16::from_le_bytes(bytes.try_into().expect("2 bytes"))
}

/// Decodes a structured message whose content is `content_len` bytes
/// (`x-ms-structured-content-length`), checking its layout (`InvalidStructuredMessage`) and
/// every CRC64 (`Crc64Mismatch`). Returns the content.
pub(crate) fn decode(body: &[u8], content_len: u64) -> Result<Vec<u8>, ServiceError> {
    let mut at = 0;
    let header = take(body, &mut at, HEADER_LEN)?;
    let flags = u16_at(&header[9..11]);
    if header[0] != 1 || u64_at(&header[1..9]) != body.len() as u64 || flags & !FLAG_CRC64 != 0 {
        return Err(invalid());
    }
    let with_crc = flags & FLAG_CRC64 != 0;
    let segments = u16_at(&header[11..13]);
    let mut content = Vec::with_capacity(content_len.min(body.len() as u64) as usize);
    for number in 1..=segments {
        let segment_header = take(body, &mut at, SEGMENT_HEADER_LEN)?;
        if u16_at(&segment_header[..2]) != number {
            return Err(invalid());
        }
        let len = usize::try_from(u64_at(&segment_header[2..])).map_err(|_| invalid())?;
        let segment = take(body, &mut at, len)?;
        if with_crc && u64_at(take(body, &mut at, CRC_LEN)?) != crc_of(segment) {
            return Err(ServiceError::crc64_mismatch());
        }
        content.extend_from_slice(segment);
    }
    if with_crc && u64_at(take(body, &mut at, CRC_LEN)?) != crc_of(&content) {
        return Err(ServiceError::crc64_mismatch());
    }
    if at != body.len() || content.len() as u64 != content_len {
        return Err(invalid());
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_segments() {
        let content: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let body = encode(&content, 300);
        // Header, four segments of header + CRC, the content, the message CRC.
        assert_eq!(body.len(), 13 + 4 * 18 + 1000 + 8);
        assert_eq!(&body[..1], &[1]);
        assert_eq!(u64_at(&body[1..9]), body.len() as u64);
        assert_eq!(u16_at(&body[11..13]), 4);
        assert_eq!(decode(&body, 1000).unwrap(), content);
        let empty = encode(&[], SEGMENT_LEN);
        assert!(decode(&empty, 0).unwrap().is_empty());
    }

    #[test]
    fn damage_is_found() {
        let content = b"region,total\nnorth,10\n".to_vec();
        let body = encode(&content, 8);
        let mut flipped = body.clone();
        flipped[13 + 10] ^= 1;
        assert_eq!(decode(&flipped, 22).unwrap_err().code, "Crc64Mismatch");
        assert_eq!(
            decode(&body[..body.len() - 1], 22).unwrap_err().code,
            "InvalidStructuredMessage"
        );
        assert_eq!(
            decode(&body, 21).unwrap_err().code,
            "InvalidStructuredMessage"
        );
        let mut renumbered = body.clone();
        renumbered[13] = 2;
        assert_eq!(
            decode(&renumbered, 22).unwrap_err().code,
            "InvalidStructuredMessage"
        );
    }
}
