"""Domo's own Python SDK (pydomo, unmodified) against the emulator's Domo API: the calls a
write-back user makes, among them `data_export(..., include_csv_header=True)`, for which
pydomo sends Python's spelling `includeHeader=True`."""

import json
import os
import subprocess
import tempfile

import pytest
from pydomo import Domo

CSV = "region,amount\r\nnorth,1\r\nsouth,2\r\n"


@pytest.fixture(scope="module")
def domo():
    binary = os.environ["ADLS_WRITEBACK_BIN"]
    data_dir = tempfile.mkdtemp(prefix="adls-pydomo-")
    datasets = tempfile.mkdtemp(prefix="adls-pydomo-datasets-")
    with open(os.path.join(datasets, "sales-1.csv"), "w", newline="") as f:
        f.write(CSV)
    with open(os.path.join(datasets, "sales-1.json"), "w") as f:
        json.dump({"name": "Sales"}, f)
    process = subprocess.Popen(
        [binary, "emulator", "--in-memory", "--data-dir", data_dir, "--datasets-dir", datasets,
         "--json", "--dfs-port", "0", "--login-port", "0", "--domo-port", "0",
         "--admin-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise RuntimeError("the emulator did not start")
    info = json.loads(line)
    # pydomo uses requests, which trusts this bundle; verification stays on.
    os.environ["REQUESTS_CA_BUNDLE"] = info["ca_file"]
    host = info["domo"].removeprefix("https://")
    yield Domo(info["domo_client_id"], info["domo_client_secret"], api_host=host)
    process.terminate()
    process.wait(timeout=10)


def test_data_export_with_and_without_the_header(domo):
    assert domo.datasets.data_export("sales-1", include_csv_header=True) == CSV
    assert domo.datasets.data_export("sales-1", include_csv_header=False) == "north,1\r\nsouth,2\r\n"


def test_dataset_metadata(domo):
    dataset = domo.datasets.get("sales-1")
    assert dataset["name"] == "Sales"
    assert [c["name"] for c in dataset["schema"]["columns"]] == ["region", "amount"]
