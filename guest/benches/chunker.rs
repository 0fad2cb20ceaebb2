//! Throughput of the CSV chunker against the cost floor of touching every byte once (a
//! copy into blocks of the same size), measured side by side in one run:
//! `cargo bench -p adls-writeback-guest --bench chunker`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use adls_writeback_guest::chunk::Chunker;

const SIZE: usize = 256 << 20;
const READ: usize = 1 << 20;
const BLOCK: usize = 4 << 20;

/// Every row with quoted fields (commas and a newline inside quotes).
fn all_quoted() -> Vec<u8> {
    let row = b"12345,\"Some, quoted text\",3.14159,2024-01-01T00:00:00Z,\"line\nbreak\"\r\n";
    row.repeat(SIZE / row.len())
}

/// Rows as exports usually are: one in ten with a quoted field.
fn mostly_plain() -> Vec<u8> {
    let plain = b"12345,Some plain text,3.14159,2024-01-01T00:00:00Z,North,Ann Example\n";
    let quoted =
        b"12346,\"Text, with a comma\",2.71828,2024-01-02T00:00:00Z,South,\"Bo \"\"B\"\" Ex\"\n";
    let mut ten = plain.repeat(9);
    ten.extend_from_slice(quoted);
    ten.repeat(SIZE / ten.len())
}

/// Feeds `data` in source-sized reads and drains the blocks; returns the bytes seen.
fn chunk(data: &[u8]) -> usize {
    let mut chunker = Chunker::new(BLOCK, false);
    let mut seen = 0;
    for read in data.chunks(READ) {
        chunker.feed(read);
        while let Some(block) = chunker.next_block() {
            seen += black_box(block.data).len();
        }
    }
    chunker.finish().expect("well-formed CSV");
    while let Some(block) = chunker.next_block() {
        seen += black_box(block.data).len();
    }
    seen
}

/// The floor: copy every read into blocks of the same size.
fn copy(data: &[u8]) -> usize {
    let mut seen = 0;
    let mut block = Vec::with_capacity(BLOCK);
    for read in data.chunks(READ) {
        block.extend_from_slice(read);
        if block.len() >= BLOCK {
            seen += black_box(std::mem::replace(&mut block, Vec::with_capacity(BLOCK))).len();
        }
    }
    seen + block.len()
}

/// The best of `rounds` timings.
fn best(rounds: usize, data: &[u8], f: fn(&[u8]) -> usize) -> Duration {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            assert_eq!(f(black_box(data)), data.len());
            start.elapsed()
        })
        .min()
        .expect("at least one round")
}

/// Short rows, each with one quoted field holding a comma.
fn short_quoted() -> Vec<u8> {
    let mut out = b"id,name,amount\n".to_vec();
    let mut i = 0u64;
    while out.len() < SIZE {
        out.extend_from_slice(format!("{i},\"name {i}, x\",{}.5\n", i * 3).as_bytes());
        i += 1;
    }
    out
}

fn main() {
    let datasets = [
        ("mostly plain", mostly_plain()),
        ("all quoted", all_quoted()),
        ("short quoted", short_quoted()),
    ];
    for (name, data) in datasets {
        let mib = data.len() as f64 / (1 << 20) as f64;
        let (chunked, copied) = (best(5, &data, chunk), best(5, &data, copy));
        println!("{name}:");
        println!("  chunker  {:>8.0} MiB/s", mib / chunked.as_secs_f64());
        println!("  copy     {:>8.0} MiB/s", mib / copied.as_secs_f64());
        println!(
            "  ratio    chunker takes {:.2}x the time of a plain copy",
            chunked.as_secs_f64() / copied.as_secs_f64()
        );
    }
}
