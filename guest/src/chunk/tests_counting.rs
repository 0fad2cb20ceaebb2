//! A counting chunker (which keeps no bytes) against one that keeps them: the same cuts,
//! rows, header and errors, for generated CSVs fed in slices of every size.

use super::tests::{Rng, generate};
use super::*;

/// What a chunker reports for `input` fed in `slice`-byte pieces: where its blocks lie, its
/// header and its first error. With `counting` it says where the blocks lie itself (and
/// hands out no bytes); else the blocks' offsets come from their lengths.
fn cuts_of(
    input: &[u8],
    slice: usize,
    block_size: usize,
    skip_header: bool,
    counting: bool,
) -> (Vec<Cut>, Option<Vec<u8>>, Option<DataError>) {
    let mut chunker = Chunker::new(block_size, skip_header)
        .reject_long_records(true)
        .strict(true)
        .counting(counting);
    let mut cuts = Vec::new();
    let mut blocks = Vec::new();
    let mut collect = |chunker: &mut Chunker| {
        cuts.extend(std::iter::from_fn(|| chunker.next_cut()));
        blocks.extend(std::iter::from_fn(|| chunker.next_block()));
    };
    for piece in input.chunks(slice.max(1)) {
        chunker.feed(piece);
        collect(&mut chunker);
    }
    let error = chunker.finish().err();
    collect(&mut chunker);
    if counting {
        assert!(blocks.is_empty(), "a counting chunker keeps no bytes");
    } else {
        assert!(cuts.is_empty(), "a keeping chunker hands out blocks");
        // Blocks follow one another; with the header skipped, the first starts after it.
        let mut start = if skip_header {
            chunker.data_start().0
        } else {
            0
        };
        for block in &blocks {
            let len = block.data.len() as u64;
            cuts.push(Cut {
                start,
                len,
                rows: block.rows,
            });
            start += len;
        }
    }
    (cuts, chunker.header().map(<[u8]>::to_vec), error)
}

#[test]
fn a_counting_chunker_cuts_where_a_keeping_one_does() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for case in 0..80 {
        let csv = generate(&mut rng);
        for slice in [1, 2, 3, 7, 16, 1000] {
            for block_size in [4, 16, 64, 1000] {
                for skip_header in [false, true] {
                    let counting = cuts_of(&csv.bytes, slice, block_size, skip_header, true);
                    let keeping = cuts_of(&csv.bytes, slice, block_size, skip_header, false);
                    if keeping.2.is_none()
                        && let Some(last) = keeping.0.last()
                    {
                        // Without an error the blocks cover the input, the skipped header aside.
                        assert_eq!(last.start + last.len, csv.bytes.len() as u64, "case {case}");
                    }
                    assert_eq!(
                        counting,
                        keeping,
                        "case {case} slice {slice} block {block_size} skip {skip_header}: {:?}",
                        String::from_utf8_lossy(&csv.bytes)
                    );
                }
            }
        }
    }
}

#[test]
fn a_counting_chunker_reports_the_errors_a_keeping_one_does() {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let faults: [&[u8]; 6] = [b"\0", b"\xFF", b"\xE2\x82", b"\"", b",extra", b"\r"];
    for case in 0..200 {
        let mut bytes = generate(&mut rng).bytes;
        let at = rng.below(bytes.len() as u64 + 1) as usize;
        let fault = faults[rng.below(faults.len() as u64) as usize];
        bytes.splice(at..at, fault.iter().copied());
        for slice in [1, 5, 64] {
            for block_size in [8, 64, 1000] {
                let counting = cuts_of(&bytes, slice, block_size, false, true);
                let keeping = cuts_of(&bytes, slice, block_size, false, false);
                assert_eq!(
                    counting,
                    keeping,
                    "case {case} slice {slice} block {block_size}: {:?}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
    }
}
