use bytes::Bytes;
use parquet::basic::{LogicalType, Type as Physical};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, RowAccessor as _};

use super::*;

fn columns(kinds: &[(&str, Kind)]) -> Vec<Column> {
    kinds
        .iter()
        .map(|&(name, kind)| Column {
            name: name.into(),
            kind,
        })
        .collect()
}

fn all_kinds() -> Vec<Column> {
    columns(&[
        ("name", Kind::String),
        ("count", Kind::Long),
        ("ratio", Kind::Double),
        ("amount", Kind::Decimal),
        ("day", Kind::Date),
        ("at", Kind::DateTime),
    ])
}

fn options(rows: u32) -> ParquetOptions {
    ParquetOptions {
        row_group_rows: rows,
        compression: ParquetCompression::Snappy,
    }
}

/// One file of `records` (fields separated by `|`), its bytes taken in blocks of 100.
fn file(columns: Vec<Column>, rows: u32, records: &[&str]) -> Vec<u8> {
    let mut e = ParquetEncoder::new(columns, options(rows)).unwrap();
    e.start().unwrap();
    let mut out = Vec::new();
    for r in records {
        e.push(r.split('|').map(str::as_bytes), r.len()).unwrap();
        while let Some(block) = e.take(100) {
            assert_eq!(block.len(), 100);
            out.extend(block);
        }
    }
    out.extend(e.finish().unwrap());
    assert_eq!(e.file_bytes(), out.len() as u64);
    out
}

fn reader(bytes: Vec<u8>) -> SerializedFileReader<Bytes> {
    SerializedFileReader::new(Bytes::from(bytes)).expect("a readable Parquet file")
}

#[test]
fn columns_get_their_types_and_values_read_back() {
    let bytes = file(
        all_kinds(),
        10,
        &[
            "Zoë, \"quoted\"\nline|-7|2.5|-1234.5|2024-02-29|2024-02-29T13:45:00.5+01:00",
            "second|||||",
        ],
    );
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    let r = reader(bytes);
    let schema = r.metadata().file_metadata().schema_descr();
    let types: Vec<(Physical, Option<LogicalType>)> = schema
        .columns()
        .iter()
        .map(|c| (c.physical_type(), c.logical_type_ref().cloned()))
        .collect();
    assert_eq!(
        types,
        [
            (Physical::BYTE_ARRAY, Some(LogicalType::String)),
            (Physical::INT64, None),
            (Physical::DOUBLE, None),
            (
                Physical::FIXED_LEN_BYTE_ARRAY,
                Some(LogicalType::decimal(9, 38))
            ),
            (Physical::INT32, Some(LogicalType::Date)),
            (
                Physical::INT64,
                Some(LogicalType::timestamp(true, TimeUnit::MICROS))
            ),
        ]
    );
    let rows: Vec<_> = r.get_row_iter(None).unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    let first: Vec<&Field> = rows[0].get_column_iter().map(|(_, f)| f).collect();
    assert_eq!(first[0], &Field::Str("Zoë, \"quoted\"\nline".into()));
    assert_eq!(first[1], &Field::Long(-7));
    assert_eq!(first[2], &Field::Double(2.5));
    match first[3] {
        Field::Decimal(d) => {
            assert_eq!(d.data(), (-1_234_500_000_000i128).to_be_bytes());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(first[4], &Field::Date(19_782));
    // 12:45:00.5 UTC on 2024-02-29.
    assert_eq!(
        first[5],
        &Field::TimestampMicros((19_782 * 86_400 + 12 * 3600 + 45 * 60) * 1_000_000 + 500_000)
    );
}

#[test]
fn empty_fields_are_nulls_in_every_type() {
    let bytes = file(
        all_kinds(),
        10,
        &["|||||", "x|1|1|1|2024-01-01|2024-01-01 00:00:00"],
    );
    let r = reader(bytes);
    let rows: Vec<_> = r.get_row_iter(None).unwrap().map(|r| r.unwrap()).collect();
    assert!(rows[0].get_column_iter().all(|(_, f)| *f == Field::Null));
    assert!(rows[1].get_column_iter().all(|(_, f)| *f != Field::Null));
}

#[test]
fn row_groups_hold_row_group_rows() {
    let records: Vec<String> = (0..25).map(|i| format!("{i}|row {i}")).collect();
    let records: Vec<&str> = records.iter().map(String::as_str).collect();
    let cols = columns(&[("n", Kind::Long), ("s", Kind::String)]);
    let r = reader(file(cols.clone(), 10, &records));
    let groups: Vec<i64> = r
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect();
    assert_eq!(groups, [10, 10, 5]);
    let r = reader(file(cols, 5, &records[..10]));
    let groups: Vec<i64> = r
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect();
    assert_eq!(groups, [5, 5], "a full last group leaves no empty one");
    let values: Vec<i64> = r
        .get_row_iter(None)
        .unwrap()
        .map(|row| row.unwrap().get_long(0).unwrap())
        .collect();
    assert_eq!(values, (0..10).collect::<Vec<_>>());
}

#[test]
fn a_file_with_no_rows_is_still_a_parquet_file() {
    let r = reader(file(all_kinds(), 10, &[]));
    assert_eq!(r.metadata().file_metadata().num_rows(), 0);
    assert_eq!(r.metadata().file_metadata().schema_descr().num_columns(), 6);
}

#[test]
fn files_one_after_another_are_each_complete() {
    let cols = columns(&[("n", Kind::Long)]);
    let mut e = ParquetEncoder::new(cols, options(2)).unwrap();
    for part in 0..3i64 {
        e.start().unwrap();
        for i in 0..3 {
            e.push([format!("{}", part * 10 + i).as_bytes()].into_iter(), 2)
                .unwrap();
        }
        let mut bytes = Vec::new();
        while let Some(b) = e.take(16) {
            bytes.extend(b);
        }
        bytes.extend(e.finish().unwrap());
        let values: Vec<i64> = reader(bytes)
            .get_row_iter(None)
            .unwrap()
            .map(|row| row.unwrap().get_long(0).unwrap())
            .collect();
        assert_eq!(values, [part * 10, part * 10 + 1, part * 10 + 2]);
    }
}

#[test]
fn a_value_not_of_its_type_names_the_column_and_the_value() {
    let mut e = ParquetEncoder::new(all_kinds(), options(10)).unwrap();
    e.start().unwrap();
    let cases = [
        (
            "a|x|1|1|2024-01-01|2024-01-01T00:00:00",
            "column `count` (LONG) is `x`",
        ),
        (
            "a|1|one|1|2024-01-01|2024-01-01T00:00:00",
            "column `ratio` (DOUBLE) is `one`",
        ),
        (
            "a|1|1|1.0000000001|2024-01-01|2024-01-01T00:00:00",
            "column `amount` (DECIMAL)",
        ),
        (
            "a|1|1|1|01/02/2024|2024-01-01T00:00:00",
            "column `day` (DATE) is `01/02/2024`",
        ),
        (
            "a|1|1|1|2024-01-01|yesterday",
            "column `at` (DATETIME) is `yesterday`",
        ),
    ];
    for (record, words) in cases {
        let RecordError(message) = e
            .push(record.split('|').map(str::as_bytes), record.len())
            .unwrap_err();
        assert!(message.contains(words), "{record}: {message}");
    }
}

#[test]
fn a_record_without_every_column_is_refused() {
    let mut e = ParquetEncoder::new(all_kinds(), options(10)).unwrap();
    e.start().unwrap();
    for record in ["a|1", "a|1|1|1|2024-01-01|2024-01-01T00:00:00|extra"] {
        let RecordError(message) = e
            .push(record.split('|').map(str::as_bytes), record.len())
            .unwrap_err();
        assert!(message.contains("6 columns"), "{message}");
    }
}

#[test]
fn compressed_files_are_smaller_and_say_their_codec() {
    let records: Vec<String> = (0..2000)
        .map(|i| format!("{}|repeated text", i % 7))
        .collect();
    let mut sizes = Vec::new();
    for compression in [
        ParquetCompression::Uncompressed,
        ParquetCompression::Snappy,
        ParquetCompression::Zstd,
    ] {
        let cols = columns(&[("n", Kind::Long), ("s", Kind::String)]);
        let options = ParquetOptions {
            row_group_rows: 1000,
            compression,
        };
        let mut e = ParquetEncoder::new(cols, options).unwrap();
        e.start().unwrap();
        for r in &records {
            e.push(r.split('|').map(str::as_bytes), r.len()).unwrap();
        }
        let bytes = e.finish().unwrap();
        let read_back: Vec<String> = reader(bytes.clone())
            .get_row_iter(None)
            .unwrap()
            .map(|row| {
                let row = row.unwrap();
                format!(
                    "{}|{}",
                    row.get_long(0).unwrap(),
                    row.get_string(1).unwrap()
                )
            })
            .collect();
        assert_eq!(read_back, records, "{compression:?}");
        let codecs: Vec<_> = reader(bytes.clone()).metadata().row_groups()[0]
            .columns()
            .iter()
            .map(|c| c.compression())
            .collect();
        assert!(codecs.iter().all(|c| *c == codecs[0]));
        sizes.push((codecs[0], bytes.len()));
    }
    assert_eq!(sizes[0].0, Compression::UNCOMPRESSED);
    assert_eq!(sizes[1].0, Compression::SNAPPY);
    assert_eq!(sizes[2].0, Compression::ZSTD(ZstdLevel::default()));
    assert!(sizes[0].1 > sizes[1].1, "{sizes:?}");
    assert!(sizes[0].1 > sizes[2].1, "{sizes:?}");
}
