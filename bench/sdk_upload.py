"""One upload with Microsoft's Python SDK, timed as one child process by throughput.py.

    python sdk_upload.py FILE PATH [--chunk-size BYTES --max-concurrency N]

Without the two options, `upload_data` runs at its own defaults (100 MiB chunks, one at a
time). Integrity is on as for every contender: `validate_content=True` sends a Content-MD5
with each append, and the file's MD5, computed here inside the timed child, is stored at
flush through `content_settings.content_md5`. The emulator's endpoints, CA file and
credentials come as JSON in $BENCH_EMULATOR (never on the command line). The credential is
built exactly as README's "Using the emulator from other tools" shows.
"""

import argparse
import hashlib
import json
import os
import sys
import time

from azure.identity import ClientSecretCredential
from azure.storage.filedatalake import ContentSettings, DataLakeServiceClient


def file_md5(path: str) -> bytes:
    """The MD5 digest of a file, read in 8 MiB pieces."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while piece := f.read(8 << 20):
            digest.update(piece)
    return digest.digest()


def file_client(emulator: dict, path: str):
    """A DataLakeFileClient for `path` in the emulator's container, trusting its CA."""
    ca = emulator["ca_file"]
    credential = ClientSecretCredential(
        emulator["tenant_id"], emulator["client_id"], emulator["client_secret"],
        authority=emulator["authority"],
        disable_instance_discovery=True,  # a private authority: MSAL must not ask Microsoft
        connection_verify=ca,
    )
    service = DataLakeServiceClient(emulator["account_url"], credential=credential,
                                    connection_verify=ca)
    return service.get_file_system_client(emulator["container"]).get_file_client(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("path")
    parser.add_argument("--chunk-size", type=int)
    parser.add_argument("--max-concurrency", type=int)
    args = parser.parse_args()
    emulator = json.loads(os.environ["BENCH_EMULATOR"])
    tuning = {}
    if args.chunk_size:
        tuning["chunk_size"] = args.chunk_size
    if args.max_concurrency:
        tuning["max_concurrency"] = args.max_concurrency

    started = time.monotonic()
    md5 = file_md5(args.file)
    client = file_client(emulator, args.path)
    with open(args.file, "rb") as data:
        client.upload_data(data, length=os.path.getsize(args.file), overwrite=True,
                           validate_content=True,
                           content_settings=ContentSettings(content_md5=bytearray(md5)),
                           **tuning)
    # What the SDK's own work took, without interpreter start and imports (information only).
    json.dump({"upload_s": time.monotonic() - started}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
