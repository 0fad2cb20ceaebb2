"""What adls-writeback sets on the files it writes, as Microsoft's Python SDK reads it back:
the content type by format, the stored MD5, the user-defined metadata (dataset id, run id,
rows, SHA-256), and the POSIX permissions and ACL a job asks for."""

import base64
import gzip
import hashlib
import json
import os
import subprocess
import tempfile

BINARY = os.environ.get("ADLS_WRITEBACK_BIN", "target/debug/adls-writeback")
CSV = b'region,amount,note\nnorth,1,plain\n"south, far",2,"two\nlines"\nM\xc3\xbcnchen,3,\n'
READER = "11111111-2222-3333-4444-555555555555"


def run_export(emulator, file_system, output):
    """Runs the tool on CSV into `file_system` with `output` (TOML lines of [output]); its
    JSON report."""
    folder = tempfile.mkdtemp(prefix="tool-output-")
    with open(os.path.join(folder, "orders.csv"), "wb") as f:
        f.write(CSV)
    job = f"""
ca_file = {json.dumps(emulator["ca_file"])}
[account]
client_id = "{emulator["client_id"]}"
tenant_id = "{emulator["tenant_id"]}"
client_secret = {{ env = "TOOL_OUTPUT_SECRET" }}
account_name = "{emulator["account_name"]}"
container = "{file_system.file_system_name}"
dfs_endpoint = "{emulator["account_url"]}"
authority_host = "{emulator["authority"]}"
[source]
kind = "file"
path = "orders.csv"
[output]
{output}
"""
    path = os.path.join(folder, "job.toml")
    with open(path, "w") as f:
        f.write(job)
    env = dict(os.environ, TOOL_OUTPUT_SECRET=emulator["client_secret"])
    done = subprocess.run([BINARY, "run", path, "--json"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert emulator["client_secret"] not in done.stdout + done.stderr
    return json.loads(done.stdout)


def b64(data):
    return base64.b64encode(data).decode()


def test_a_csv_file_carries_its_type_md5_and_metadata(emulator, file_system):
    report = run_export(emulator, file_system,
                        'directory = "plain"\npermissions = "0640"\n'
                        f'acl = "user::rw-,group::r--,other::---,user:{READER}:r--"')
    client = file_system.get_file_client("plain/orders.csv")
    assert client.download_file().readall() == CSV
    props = client.get_file_properties()
    assert props.content_settings.content_type == "text/csv"
    assert bytes(props.content_settings.content_md5) == hashlib.md5(CSV).digest()
    assert props.metadata["dataset_id"] == "orders"
    assert props.metadata["run_id"] == report["run_id"]
    assert props.metadata["rows"] == "3"
    assert props.metadata["sha256"] == b64(hashlib.sha256(CSV).digest())
    access = client.get_access_control()
    assert access["permissions"].startswith("rw-r--"), access
    assert f"user:{READER}:r--" in access["acl"], access


def test_a_gzip_part_and_its_manifest_read_back_through_the_sdk(emulator, file_system):
    report = run_export(emulator, file_system,
                        'directory = "zipped"\nformat = "csv.gz"\nmanifest = true\n')
    part = report["files"][0]["path"]
    client = file_system.get_file_client(part)
    data = client.download_file().readall()
    assert gzip.decompress(data) == CSV
    props = client.get_file_properties()
    assert props.content_settings.content_type == "application/gzip"
    assert bytes(props.content_settings.content_md5) == hashlib.md5(data).digest()
    assert props.metadata["sha256"] == b64(hashlib.sha256(data).digest())
    manifest = file_system.get_file_client("zipped/_manifest.json")
    listed = json.loads(manifest.download_file().readall())
    assert listed["run_id"] == report["run_id"]
    assert [f["path"] for f in listed["files"]] == [part]
    assert listed["files"][0]["md5"] == b64(hashlib.md5(data).digest())
    assert manifest.get_file_properties().content_settings.content_type == "application/json"
