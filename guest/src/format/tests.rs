//! The encoder: dialects, splitting bytes into blocks, gzip that decompresses to the CSV.

use super::records::Records;
use super::*;

const SOURCE: &[u8] = b"1,\"a, b\",x\r\n2,\"say \"\"hi\"\"\",\"two\nlines\"\r\n3,caf\xC3\xA9,\r\n";

fn head(bom: bool) -> SourceHead {
    SourceHead {
        header: b"id,name,note".to_vec(),
        crlf: true,
        bom,
    }
}

/// The whole file `encoder` makes of SOURCE, taken in blocks of `block` bytes.
fn file(encoder: &mut FileEncoder, block: usize) -> Vec<u8> {
    encoder.start();
    let mut out = Vec::new();
    Records::default()
        .each::<()>(SOURCE, true, |r| {
            encoder.encode(&r);
            encoder.push_encoded();
            while let Some(b) = encoder.take(block) {
                assert_eq!(b.len(), block);
                out.extend(b);
            }
            Ok(())
        })
        .unwrap();
    out.extend(encoder.finish());
    out
}

#[test]
fn the_source_dialect_copies_records() {
    let mut e = FileEncoder::new(OutputFormat::Csv, CsvDialect::default(), head(true));
    let mut want = b"\xEF\xBB\xBFid,name,note\r\n".to_vec();
    want.extend_from_slice(SOURCE);
    assert_eq!(file(&mut e, 7), want);
    assert_eq!(e.file_bytes(), want.len() as u64);
}

#[test]
fn dialects_reencode() {
    let dialect = CsvDialect {
        delimiter: b';',
        header: true,
        quote_all: false,
        bom: Some(false),
    };
    let mut e = FileEncoder::new(OutputFormat::Csv, dialect, head(true));
    assert_eq!(
        String::from_utf8(file(&mut e, 5)).unwrap(),
        "id;name;note\r\n1;a, b;x\r\n2;\"say \"\"hi\"\"\";\"two\nlines\"\r\n3;café;\r\n"
    );
    let dialect = CsvDialect {
        delimiter: b'\t',
        header: false,
        quote_all: true,
        bom: None,
    };
    let mut e = FileEncoder::new(OutputFormat::Csv, dialect, head(false));
    assert_eq!(
        String::from_utf8(file(&mut e, 100)).unwrap(),
        "\"1\"\t\"a, b\"\t\"x\"\r\n\"2\"\t\"say \"\"hi\"\"\"\t\"two\nlines\"\r\n\"3\"\t\"café\"\t\"\"\r\n"
    );
}

#[test]
fn gzip_decompresses_to_the_csv() {
    use std::io::Read as _;
    let mut csv = FileEncoder::new(OutputFormat::Csv, CsvDialect::default(), head(false));
    let plain = file(&mut csv, 3);
    let mut gz = FileEncoder::new(OutputFormat::CsvGz, CsvDialect::default(), head(false));
    let compressed = file(&mut gz, 3);
    assert_eq!(&compressed[..2], b"\x1f\x8b", "a gzip member");
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, plain);
    // A second file is a gzip member of its own.
    let again = file(&mut gz, 1 << 20);
    assert_eq!(again, compressed);
}
