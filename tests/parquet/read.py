"""Prints, as JSON, what pyarrow reads from each Parquet file named on the command line:
its schema (name and Arrow type), row groups, codec and rows (every value as text)."""

import json
import sys

import pyarrow.parquet as pq


def describe(path):
    table = pq.read_table(path)
    meta = pq.ParquetFile(path).metadata
    groups = [meta.row_group(i) for i in range(meta.num_row_groups)]
    return {
        "schema": [[field.name, str(field.type)] for field in table.schema],
        "row_groups": [g.num_rows for g in groups],
        "compression": groups[0].column(0).compression if groups else None,
        "rows": [
            [None if value is None else str(value) for value in row.values()]
            for row in table.to_pylist()
        ],
    }


print(json.dumps([describe(path) for path in sys.argv[1:]]))
