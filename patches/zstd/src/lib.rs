//! The part of the `zstd` crate's API that the `parquet` crate's zstd codec uses, built on
//! the pure-Rust [`ruzstd`] instead of the C library.
//!
//! The real `zstd` crate binds libzstd through `zstd-sys`, which needs a C compiler for the
//! target; none targets `wasm32-wasip2` on a plain Rust install. The workspace's
//! `[patch.crates-io]` puts this crate in its place, so `parquet`'s `zstd` feature compiles
//! into the guest unchanged. Only what `parquet` calls is here: [`bulk::Compressor`],
//! [`bulk::Decompressor`] and two helpers of [`zstd_safe`].
//!
//! `ruzstd` compresses at one level, about libzstd's level 1 (its `Fastest`); every level
//! asked for gets that. Frames it writes are standard zstd frames that libzstd, pyarrow and
//! Spark read; it also decodes frames libzstd wrote, at any level.

use std::io::{self, Cursor, Read as _};

/// Whole-buffer compression and decompression, as in `zstd::bulk`.
pub mod bulk {
    use super::*;
    use ruzstd::encoding::{CompressionLevel, FrameCompressor};
    use std::marker::PhantomData;

    /// Compresses whole buffers into zstd frames.
    ///
    /// The lifetime parameter mirrors `zstd::bulk::Compressor<'a>` (which may borrow a
    /// dictionary); this one borrows nothing.
    pub struct Compressor<'a> {
        _dictionary: PhantomData<&'a ()>,
    }

    impl Compressor<'_> {
        /// A compressor. `level` is accepted for the API's sake: `ruzstd` has one level (about
        /// libzstd's 1), used for every request.
        pub fn new(level: i32) -> io::Result<Self> {
            let _ = level;
            Ok(Self {
                _dictionary: PhantomData,
            })
        }

        /// Compresses `source` into one frame written at `destination`'s position, which
        /// moves past it; the vector is cut at the frame's end. Returns the frame's length.
        pub fn compress_to_buffer(
            &mut self,
            source: &[u8],
            destination: &mut Cursor<&mut Vec<u8>>,
        ) -> io::Result<usize> {
            write_at_cursor(destination, |output| {
                let mut compressor = FrameCompressor::new(CompressionLevel::Fastest);
                compressor.set_source(source);
                compressor.set_drain(output);
                compressor.compress();
                Ok(())
            })
        }
    }

    /// Decompresses whole zstd frames.
    pub struct Decompressor<'a> {
        _dictionary: PhantomData<&'a ()>,
    }

    impl Decompressor<'_> {
        /// A decompressor.
        pub fn new() -> io::Result<Self> {
            Ok(Self {
                _dictionary: PhantomData,
            })
        }

        /// Decompresses the frames in `source` to `destination`'s position, which moves past
        /// the output; the vector is cut at its end. Returns the output's length.
        pub fn decompress_to_buffer(
            &mut self,
            source: &[u8],
            destination: &mut Cursor<&mut Vec<u8>>,
        ) -> io::Result<usize> {
            write_at_cursor(destination, |output| {
                let mut remaining = source;
                // A zstd stream may hold several frames one after another; each is read in turn.
                while !remaining.is_empty() {
                    let mut decoder = ruzstd::decoding::StreamingDecoder::new(&mut remaining)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                    decoder.read_to_end(output)?;
                }
                Ok(())
            })
        }
    }

    /// Cuts the cursor's vector at its position, lets `write` append to it, and moves the
    /// position past what was written; returns its length. The position must not lie past
    /// the vector's end.
    fn write_at_cursor(
        destination: &mut Cursor<&mut Vec<u8>>,
        write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>,
    ) -> io::Result<usize> {
        let start = usize::try_from(destination.position())
            .ok()
            .filter(|&start| start <= destination.get_ref().len())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the output position lies past the end of the buffer",
                )
            })?;
        let output: &mut Vec<u8> = destination.get_mut();
        output.truncate(start);
        write(output)?;
        let end = output.len();
        destination.set_position(end as u64);
        Ok(end - start)
    }
}

/// The two helpers of `zstd::zstd_safe` that `parquet` calls.
pub mod zstd_safe {
    /// The most a compressed frame of `source_len` bytes can take, as libzstd's
    /// `ZSTD_COMPRESSBOUND`: input that does not compress is stored in raw blocks, with
    /// small headers.
    pub const fn compress_bound(source_len: usize) -> usize {
        let small_input_margin = if source_len < (128 << 10) {
            ((128 << 10) - source_len) >> 11
        } else {
            0
        };
        source_len + (source_len >> 8) + small_input_margin
    }

    /// The decompressed size a frame's header declares. `ruzstd` does not expose frame
    /// headers, so this answers "not declared", which callers handle by growing their
    /// buffer while decoding.
    pub fn get_frame_content_size(_frame: &[u8]) -> Result<Option<u64>, ContentSizeError> {
        Ok(None)
    }

    /// The error of [`get_frame_content_size`] (never returned here).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ContentSizeError;
}

#[cfg(test)]
mod tests {
    use super::bulk::{Compressor, Decompressor};
    use super::zstd_safe::compress_bound;
    use std::io::Cursor;

    fn sample() -> Vec<u8> {
        (0..50_000u32)
            .flat_map(|i| format!("{i},name {},{}.{:02}\n", i % 97, i * 7, i % 100).into_bytes())
            .collect()
    }

    #[test]
    fn a_frame_decodes_to_its_input_and_is_smaller() {
        let input = sample();
        let mut frame = Vec::new();
        let written = Compressor::new(1)
            .unwrap()
            .compress_to_buffer(&input, &mut Cursor::new(&mut frame))
            .unwrap();
        assert_eq!(written, frame.len());
        assert!(
            frame.len() < input.len() / 2,
            "{} of {}",
            frame.len(),
            input.len()
        );
        assert!(frame.len() <= compress_bound(input.len()));

        let mut output = Vec::new();
        let read = Decompressor::new()
            .unwrap()
            .decompress_to_buffer(&frame, &mut Cursor::new(&mut output))
            .unwrap();
        assert_eq!(read, input.len());
        assert_eq!(output, input);
    }

    #[test]
    fn output_goes_at_the_cursor_and_keeps_what_is_before_it() {
        let input = sample();
        let mut frame = b"prefix".to_vec();
        let mut cursor = Cursor::new(&mut frame);
        cursor.set_position(6);
        let written = Compressor::new(3)
            .unwrap()
            .compress_to_buffer(&input, &mut cursor)
            .unwrap();
        assert_eq!(cursor.position(), 6 + written as u64);
        assert_eq!(&frame[..6], b"prefix");

        let mut output = b"kept".to_vec();
        let mut cursor = Cursor::new(&mut output);
        cursor.set_position(4);
        Decompressor::new()
            .unwrap()
            .decompress_to_buffer(&frame[6..], &mut cursor)
            .unwrap();
        assert_eq!(&output[..4], b"kept");
        assert_eq!(&output[4..], &input[..]);
    }

    #[test]
    fn incompressible_and_empty_inputs_round_trip() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..200_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        for input in [noise, Vec::new()] {
            let mut frame = Vec::new();
            Compressor::new(1)
                .unwrap()
                .compress_to_buffer(&input, &mut Cursor::new(&mut frame))
                .unwrap();
            assert!(frame.len() <= compress_bound(input.len()) + 32);
            let mut output = Vec::new();
            Decompressor::new()
                .unwrap()
                .decompress_to_buffer(&frame, &mut Cursor::new(&mut output))
                .unwrap();
            assert_eq!(output, input);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut output = Vec::new();
        let outcome = Decompressor::new()
            .unwrap()
            .decompress_to_buffer(b"not a zstd frame", &mut Cursor::new(&mut output));
        assert!(outcome.is_err());
    }
}
