"""Conformance of the emulator with Microsoft's Data Lake SDK for Python, unmodified:
every call here is one a real application makes, with assertions on content and
properties as the real service returns them."""

import hashlib
import json
import ssl
import urllib.request
import urllib.error
import uuid

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.identity import ClientSecretCredential
from azure.storage.filedatalake import ContentSettings


def payload(size, seed=1):
    """Deterministic bytes that are not all alike."""
    block = hashlib.sha256(str(seed).encode()).digest() * 1024
    return (block * (size // len(block) + 1))[:size]


def test_file_systems_are_created_listed_and_deleted(service):
    name = "fs-" + uuid.uuid4().hex[:10]
    fs = service.create_file_system(name, metadata={"team": "data"})
    assert fs.exists()
    assert name in [f.name for f in service.list_file_systems()]
    props = fs.get_file_system_properties()
    assert props.name == name and props.metadata == {"team": "data"}
    with pytest.raises(ResourceExistsError):
        service.create_file_system(name)
    fs.delete_file_system()
    assert not fs.exists()
    assert name not in [f.name for f in service.list_file_systems()]


def test_directories_and_files_are_created(file_system):
    d = file_system.create_directory("a/b")
    assert d.exists()
    assert d.get_directory_properties().metadata.get("hdi_isfolder") in (None, "true")
    f = file_system.create_file("a/b/c.csv")
    assert f.exists()
    assert f.get_file_properties().size == 0
    # Parents of a file are directories.
    assert file_system.get_directory_client("a").exists()


def test_upload_data_of_20_mb_with_concurrency(file_system):
    data = payload(20 * 1024 * 1024)
    f = file_system.get_file_client("big/upload.bin")
    f.upload_data(data, overwrite=True, max_concurrency=4, chunk_size=1024 * 1024)
    assert f.get_file_properties().size == len(data)
    assert f.download_file(max_concurrency=4).readall() == data


def test_append_and_flush_by_hand_and_a_wrong_flush_position(file_system):
    f = file_system.create_file("manual.csv")
    f.append_data(b"a,b\n", offset=0, length=4)
    f.append_data(b"1,2\n", offset=4, length=4)
    # Appended data is invisible until flushed.
    assert f.get_file_properties().size == 0
    with pytest.raises(HttpResponseError) as wrong:
        f.flush_data(5)
    assert wrong.value.error_code == "InvalidFlushPosition"
    assert wrong.value.status_code == 400
    f.flush_data(8)
    assert f.download_file().readall() == b"a,b\n1,2\n"


def test_download_whole_and_by_range(file_system):
    data = payload(300_000, seed=2)
    f = file_system.get_file_client("ranges.bin")
    f.upload_data(data, overwrite=True)
    assert f.download_file().readall() == data
    assert f.download_file(offset=1000, length=5000).readall() == data[1000:6000]
    assert f.download_file(offset=299_990).readall() == data[299_990:]


def test_file_properties_as_set_at_flush(file_system):
    data = b"id,name\n1,x\n"
    md5 = hashlib.md5(data).digest()
    f = file_system.create_file("props.csv")
    f.append_data(data, offset=0, length=len(data))
    f.flush_data(len(data), content_settings=ContentSettings(content_type="text/csv", content_md5=md5))
    props = f.get_file_properties()
    assert props.size == len(data)
    assert props.etag and props.last_modified
    assert props.content_settings.content_type == "text/csv"
    assert bytes(props.content_settings.content_md5) == md5


def test_rename_file_and_directory_with_children(file_system):
    f = file_system.get_file_client("src/one.csv")
    f.upload_data(b"1\n", overwrite=True)
    file_system.create_directory("dst")
    renamed = f.rename_file(f"{file_system.file_system_name}/dst/one-renamed.csv")
    assert renamed.download_file().readall() == b"1\n"
    assert not file_system.get_file_client("src/one.csv").exists()

    for name in ("tree/x.csv", "tree/sub/y.csv"):
        file_system.get_file_client(name).upload_data(name.encode(), overwrite=True)
    moved = file_system.get_directory_client("tree").rename_directory(
        f"{file_system.file_system_name}/moved")
    assert moved.exists()
    assert file_system.get_file_client("moved/sub/y.csv").download_file().readall() == b"tree/sub/y.csv"
    assert not file_system.get_directory_client("tree").exists()


def test_get_paths_recursive_and_not_with_paging(file_system):
    for i in range(7):
        file_system.get_file_client(f"list/f{i}.csv").upload_data(b"x", overwrite=True)
    file_system.get_file_client("list/deep/g.csv").upload_data(b"x", overwrite=True)
    flat = [p.name for p in file_system.get_paths(path="list", recursive=False)]
    assert sorted(flat) == sorted([f"list/f{i}.csv" for i in range(7)] + ["list/deep"])
    pages = list(file_system.get_paths(path="list", recursive=True, max_results=3).by_page())
    assert len(pages) >= 3
    names = [p.name for page in pages for p in page]
    assert "list/deep/g.csv" in names and len(names) == 9
    dirs = [p.name for page in file_system.get_paths(recursive=True).by_page() for p in page if p.is_directory]
    assert "list/deep" in dirs


def test_create_if_missing_on_an_existing_path_raises(file_system):
    f = file_system.create_file("exists.csv")
    with pytest.raises(ResourceExistsError):
        f.create_file(match_condition=MatchConditions.IfMissing)


def test_flush_with_a_stale_etag_fails_412(file_system):
    f = file_system.create_file("etag.csv")
    f.append_data(b"a\n", offset=0, length=2)
    f.flush_data(2)
    stale = f.get_file_properties().etag
    f.append_data(b"b\n", offset=2, length=2)
    f.flush_data(4)
    f.append_data(b"c\n", offset=4, length=2)
    with pytest.raises(HttpResponseError) as failed:
        f.flush_data(6, etag=stale, match_condition=MatchConditions.IfNotModified)
    assert failed.value.status_code == 412
    assert failed.value.error_code == "ConditionNotMet"
    assert f.download_file().readall() == b"a\nb\n"


def test_delete_files_and_directories(file_system):
    file_system.get_file_client("del/a.csv").upload_data(b"a", overwrite=True)
    file_system.get_file_client("del/sub/b.csv").upload_data(b"b", overwrite=True)
    file_system.get_file_client("del/a.csv").delete_file()
    assert not file_system.get_file_client("del/a.csv").exists()
    file_system.get_directory_client("del").delete_directory()
    assert not file_system.get_directory_client("del").exists()
    assert not file_system.get_file_client("del/sub/b.csv").exists()
    with pytest.raises(ResourceNotFoundError):
        file_system.get_file_client("never.csv").delete_file()


def test_properties_and_metadata(file_system):
    f = file_system.create_file("meta.csv", metadata={"source": "domo", "rows": "2"})
    assert f.get_file_properties().metadata == {"source": "domo", "rows": "2"}
    f.set_metadata({"source": "file"})
    assert f.get_file_properties().metadata == {"source": "file"}


def raw_request(emulator, token, path=""):
    url = emulator["account_url"] + "/" + path
    request = urllib.request.Request(url + "?resource=account" if not path else url, method="GET")
    request.add_header("Authorization", "Bearer " + token)
    request.add_header("x-ms-version", "2023-11-03")
    context = ssl.create_default_context(cafile=emulator["ca_file"])
    try:
        with urllib.request.urlopen(request, context=context) as response:
            return response.status, lower_keys(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, lower_keys(error.headers), error.read()


def lower_keys(headers):
    """HTTP header names are case-insensitive."""
    return {name.lower(): value for name, value in headers.items()}


def test_token_for_another_audience_gets_401(emulator):
    other = ClientSecretCredential(
        emulator["tenant_id"], emulator["client_id"], emulator["client_secret"],
        authority=emulator["authority"], connection_verify=emulator["ca_file"],
        disable_instance_discovery=True,
    ).get_token("https://management.azure.com/.default").token
    status, headers, body = raw_request(emulator, other)
    assert status == 401
    assert headers["x-ms-error-code"] == "InvalidAuthenticationInfo"
    assert "Bearer authorization_uri=" in headers["www-authenticate"]
    assert "resource_id=https://storage.azure.com" in headers["www-authenticate"]
    assert json.loads(body)["error"]["code"] == "InvalidAuthenticationInfo"


def test_expired_token_gets_401(emulator, credential):
    admin = emulator["admin"]
    put = urllib.request.Request(admin + "/token-lifetime", data=b'{"seconds":0}', method="PUT",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(put).read()
    try:
        expired = ClientSecretCredential(
            emulator["tenant_id"], emulator["client_id"], emulator["client_secret"],
            authority=emulator["authority"], connection_verify=emulator["ca_file"],
        disable_instance_discovery=True,
        ).get_token("https://storage.azure.com/.default").token
    finally:
        put = urllib.request.Request(admin + "/token-lifetime", data=b'{"seconds":3600}', method="PUT",
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(put).read()
    status, headers, body = raw_request(emulator, expired)
    assert status == 401
    assert headers["x-ms-error-code"] == "InvalidAuthenticationInfo"
    assert "expired" in json.loads(body)["error"]["message"].lower()
    assert "www-authenticate" in headers


def test_wrong_secret_is_refused_with_aadsts7000215(emulator):
    wrong = ClientSecretCredential(
        emulator["tenant_id"], emulator["client_id"], "not-the-secret",
        authority=emulator["authority"], connection_verify=emulator["ca_file"],
        disable_instance_discovery=True,
    )
    with pytest.raises(ClientAuthenticationError) as refused:
        wrong.get_token("https://storage.azure.com/.default")
    assert "AADSTS7000215" in str(refused.value)
