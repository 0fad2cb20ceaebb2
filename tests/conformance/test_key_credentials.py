"""The emulator with Microsoft's SDKs for Python authorizing without a client secret: an
`AzureNamedKeyCredential` (SharedKey signatures), a SAS made by the SDK's own
`generate_file_system_sas`, and azure-identity's `CertificateCredential` (a client assertion
signed with the app's certificate), each uploading a file that reads back byte for byte, and
each refused as the service refuses it when the key, the SAS or the certificate is not the
one that allows the request."""

import base64
import hashlib
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import CertificateCredential
from azure.storage.filedatalake import (
    DataLakeServiceClient,
    FileSystemClient,
    FileSystemSasPermissions,
    generate_file_system_sas,
)


def payload(size):
    """Deterministic bytes that are not all alike."""
    block = hashlib.sha256(b"key-credentials").digest() * 1024
    return (block * (size // len(block) + 1))[:size]


def key_service(emulator, key):
    credential = AzureNamedKeyCredential(emulator["account_name"], key)
    return DataLakeServiceClient(
        emulator["account_url"], credential=credential, connection_verify=emulator["ca_file"],
    )


@pytest.fixture
def key_file_system(emulator):
    """A fresh file system made with the account key, deleted afterwards."""
    fs = key_service(emulator, emulator["account_key"]).create_file_system(
        "key-" + uuid.uuid4().hex[:12])
    yield fs
    fs.delete_file_system()


def test_upload_with_an_account_key_credential(key_file_system):
    data = payload(3 * 1024 * 1024 + 17)
    file = key_file_system.get_file_client("keyed/data.csv")
    file.upload_data(data, overwrite=True, chunk_size=1024 * 1024, max_concurrency=3)
    assert file.download_file().readall() == data
    assert file.get_file_properties().size == len(data)


def test_a_wrong_account_key_is_refused_with_authentication_failed(emulator, key_file_system):
    wrong = base64.b64encode(b"not the account key of this account").decode()
    fs = key_service(emulator, wrong).get_file_system_client(key_file_system.file_system_name)
    with pytest.raises(ClientAuthenticationError) as refused:
        fs.create_file("never.csv")
    assert refused.value.error_code == "AuthenticationFailed"
    assert not key_file_system.get_file_client("never.csv").exists()


def sas_for(emulator, file_system, permission, expiry):
    return generate_file_system_sas(
        emulator["account_name"], file_system, emulator["account_key"],
        permission=permission, expiry=expiry,
    )


def test_upload_with_a_file_system_sas_made_by_the_sdk(emulator, key_file_system):
    name = key_file_system.file_system_name
    sas = sas_for(emulator, name,
                  FileSystemSasPermissions(read=True, write=True, create=True, list=True),
                  datetime.now(timezone.utc) + timedelta(hours=1))
    fs = FileSystemClient(emulator["account_url"], name, credential=sas,
                          connection_verify=emulator["ca_file"])
    data = payload(2 * 1024 * 1024 + 5)
    file = fs.get_file_client("sas/data.csv")
    file.upload_data(data, overwrite=True, chunk_size=512 * 1024, max_concurrency=2)
    assert file.download_file().readall() == data
    assert [p.name for p in fs.get_paths(recursive=True)] == ["sas", "sas/data.csv"]


def test_a_sas_is_held_to_its_permissions_and_expiry(emulator, key_file_system):
    name = key_file_system.file_system_name
    key_file_system.get_file_client("kept.csv").upload_data(b"a,b\n1,2\n", overwrite=True)
    read_only = FileSystemClient(
        emulator["account_url"], name, connection_verify=emulator["ca_file"],
        credential=sas_for(emulator, name, FileSystemSasPermissions(read=True),
                           datetime.now(timezone.utc) + timedelta(hours=1)))
    assert read_only.get_file_client("kept.csv").download_file().readall() == b"a,b\n1,2\n"
    with pytest.raises(HttpResponseError) as refused:
        read_only.get_file_client("kept.csv").delete_file()
    assert refused.value.error_code == "AuthorizationPermissionMismatch"
    expired = FileSystemClient(
        emulator["account_url"], name, connection_verify=emulator["ca_file"],
        credential=sas_for(emulator, name, FileSystemSasPermissions(read=True, write=True),
                           datetime.now(timezone.utc) - timedelta(minutes=5)))
    with pytest.raises(ClientAuthenticationError) as refused:
        expired.get_file_client("kept.csv").download_file()
    assert refused.value.error_code == "AuthenticationFailed"
    assert key_file_system.get_file_client("kept.csv").download_file().readall() == b"a,b\n1,2\n"


def certificate_credential(emulator, path):
    return CertificateCredential(
        emulator["tenant_id"], emulator["client_id"], certificate_path=path,
        authority=emulator["authority"], disable_instance_discovery=True,
        connection_verify=emulator["ca_file"],
    )


def test_upload_with_the_apps_certificate(emulator):
    """azure-identity's CertificateCredential signs a client assertion with the certificate
    the emulator registers for its app; the token it gets writes a file."""
    credential = certificate_credential(emulator, emulator["client_certificate_file"])
    service = DataLakeServiceClient(
        emulator["account_url"], credential=credential, connection_verify=emulator["ca_file"],
    )
    fs = service.create_file_system("cert-" + uuid.uuid4().hex[:12])
    try:
        data = payload(1024 * 1024 + 3)
        file = fs.get_file_client("certificate/data.csv")
        file.upload_data(data, overwrite=True)
        assert file.download_file().readall() == data
    finally:
        fs.delete_file_system()


def test_a_certificate_not_registered_for_the_app_is_refused_with_aadsts700027(emulator):
    credential = certificate_credential(emulator, "tests/support/unregistered-client-certificate.pem")
    with pytest.raises(ClientAuthenticationError) as refused:
        credential.get_token("https://storage.azure.com/.default")
    assert "AADSTS700027" in str(refused.value)
