//! Parquet output against the fake host: the file read back, and a value not of its
//! column's type failing the run before anything is published.

use bytes::Bytes;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, RowAccessor as _};

use super::fake::FakeHost;
use super::tests::job;
use super::*;
use crate::model::{Column, FileNaming, OutputFormat};

const TARGET: &str = "out/sales.parquet";
const TEMP: &str = "out/_sales.parquet.run-1.tmp";

fn typed(host: &mut FakeHost) {
    let info = host.info.as_mut().unwrap();
    info.columns = [("id", "LONG"), ("name", "STRING"), ("day", "DATE")]
        .iter()
        .map(|&(name, kind)| Column {
            name: name.into(),
            kind: kind.into(),
        })
        .collect();
}

/// An older output at the target.
fn existing(host: &mut FakeHost, content: &[u8]) {
    let file = super::fake::File {
        committed: content.to_vec(),
        etag: 5,
        ..Default::default()
    };
    host.files.insert(TARGET.into(), file);
}

fn parquet_job(rows: u32) -> Job {
    let mut job = job(UpdateMode::Replace);
    job.output.format = OutputFormat::Parquet;
    job.output.parquet.row_group_rows = rows;
    job.output.naming = FileNaming::FileName("sales.csv".into());
    job
}

#[test]
fn a_parquet_file_replaces_the_target_with_every_row_typed() {
    let mut data = b"\xEF\xBB\xBFid,name,day\r\n".to_vec();
    for i in 0..2500 {
        data.extend(
            format!(
                "{i},\"Customer, #{i}\nline two\",2024-01-{:02}\r\n",
                i % 28 + 1
            )
            .bytes(),
        );
    }
    data.extend(b",,\r\n");
    let mut host = FakeHost::new(&data);
    typed(&mut host);
    existing(&mut host, b"old");
    let report = run(&mut host, &parquet_job(1000)).unwrap();
    assert_eq!(report.path, TARGET);
    assert_eq!(report.rows, 2501);
    let bytes = host.content(TARGET).expect("published").to_vec();
    assert!(!host.files.contains_key(TEMP));
    assert_eq!(report.bytes, bytes.len() as u64);
    assert_eq!(report.md5, super::tests::md5_of(&bytes));
    let reader = SerializedFileReader::new(Bytes::from(bytes)).unwrap();
    let groups: Vec<i64> = reader
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect();
    assert_eq!(groups, [1000, 1000, 501]);
    let rows: Vec<_> = reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rows[7].get_long(0).unwrap(), 7);
    assert_eq!(rows[7].get_string(1).unwrap(), "Customer, #7\nline two");
    assert_eq!(
        rows[7].get_column_iter().nth(2).unwrap().1,
        &Field::Date(19_730)
    );
    assert!(rows[2500].get_column_iter().all(|(_, f)| *f == Field::Null));
}

#[test]
fn a_value_not_of_its_type_fails_naming_line_column_and_value() {
    let data = b"id,name,day\n1,\"two\nlines\",2024-01-01\n2,b,2024-01-02\n3,c,2024-13-01\n";
    let mut host = FakeHost::new(data);
    typed(&mut host);
    existing(&mut host, b"old");
    let e = run(&mut host, &parquet_job(10)).unwrap_err();
    let JobError::Data(e) = e else {
        panic!("{e:?}")
    };
    assert_eq!((e.line, e.byte_offset), (5, 52), "{e:?}");
    assert!(
        e.message.contains("`day` (DATE) is `2024-13-01`"),
        "{}",
        e.message
    );
    assert_eq!(host.content(TARGET), Some(&b"old"[..]));
    assert!(!host.files.contains_key(TEMP));
}

#[test]
fn a_header_that_does_not_match_the_schema_fails_before_any_row() {
    let mut host = FakeHost::new(b"id,name\n1,a\n");
    typed(&mut host);
    let e = run(&mut host, &parquet_job(10)).unwrap_err();
    let JobError::Data(e) = e else {
        panic!("{e:?}")
    };
    assert!(
        e.message
            .contains("2 fields and the dataset's schema 3 columns"),
        "{e:?}"
    );
    assert!(host.files.is_empty() || !host.files.contains_key(TARGET));
}

#[test]
fn without_columns_every_field_is_a_string() {
    let mut host = FakeHost::new(b"id,when\n1,yesterday\n");
    run(&mut host, &parquet_job(10)).unwrap();
    let bytes = host.content(TARGET).unwrap().to_vec();
    let reader = SerializedFileReader::new(Bytes::from(bytes)).unwrap();
    let row = reader.get_row_iter(None).unwrap().next().unwrap().unwrap();
    assert_eq!(row.get_string(0).unwrap(), "1");
    assert_eq!(row.get_string(1).unwrap(), "yesterday");
}
