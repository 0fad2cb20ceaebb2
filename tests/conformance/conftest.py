"""Starts `adls-writeback emulator` (TLS, ephemeral ports, a fresh data folder) for the
session and hands the tests SDK clients wired to it the way a user would wire them."""

import json
import os
import subprocess
import tempfile
import uuid

import pytest
from azure.identity import ClientSecretCredential
from azure.storage.filedatalake import DataLakeServiceClient


@pytest.fixture(scope="session")
def emulator():
    binary = os.environ.get("ADLS_WRITEBACK_BIN", "target/debug/adls-writeback")
    data_dir = tempfile.mkdtemp(prefix="adls-conformance-")
    process = subprocess.Popen(
        [binary, "emulator", "--data-dir", data_dir, "--json",
         "--dfs-port", "0", "--login-port", "0", "--domo-port", "0", "--admin-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # The first line of stdout describes the running emulator.
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise RuntimeError("the emulator did not start: " + process.stderr.read())
    info = json.loads(line)
    # requests (under azure-core and MSAL) trusts this bundle; verification stays on.
    os.environ["REQUESTS_CA_BUNDLE"] = info["ca_file"]
    yield info
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def credential(emulator):
    return ClientSecretCredential(
        emulator["tenant_id"], emulator["client_id"], emulator["client_secret"],
        authority=emulator["authority"],
        # MSAL would ask login.microsoftonline.com about any other authority; a private
        # authority like the emulator's is used as it is.
        disable_instance_discovery=True,
        connection_verify=emulator["ca_file"],
    )


@pytest.fixture(scope="session")
def service(emulator, credential):
    return DataLakeServiceClient(
        emulator["account_url"], credential=credential, connection_verify=emulator["ca_file"],
    )


@pytest.fixture
def file_system(service):
    """A fresh file system per test, deleted afterwards."""
    fs = service.create_file_system("conf-" + uuid.uuid4().hex[:12])
    yield fs
    try:
        fs.delete_file_system()
    except Exception:
        pass
