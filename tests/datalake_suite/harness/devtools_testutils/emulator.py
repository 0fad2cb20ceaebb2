"""The emulator the suite runs against, as the pytest plugin started it: its endpoints come
from environment variables the plugin sets before the tests are imported."""

import functools
import os


def account_url(account):
    """Path-style URL of an account on the emulator: `https://127.0.0.1:PORT/ACCOUNT`."""
    return f"{os.environ['EMULATOR_DFS_URL']}/{account}"


def account_key():
    """The account key of the emulator's accounts, as `emulator --json` printed it."""
    return os.environ["EMULATOR_ACCOUNT_KEY"]


def emulator_credential(is_async=False):
    """A client-secret credential of the emulator's well-known app, against the emulator's
    Entra ID endpoint. The sync one is shared (its token cache too); an async one is new each
    time, since it belongs to the event loop of the test that uses it."""
    if is_async:
        from azure.identity.aio import ClientSecretCredential

        return _credential(ClientSecretCredential)
    return _shared_credential()


@functools.lru_cache(maxsize=None)
def _shared_credential():
    from azure.identity import ClientSecretCredential

    return _credential(ClientSecretCredential)


def _credential(kind):
    return kind(
        os.environ["EMULATOR_TENANT_ID"],
        os.environ["EMULATOR_CLIENT_ID"],
        os.environ["EMULATOR_CLIENT_SECRET"],
        authority=os.environ["EMULATOR_AUTHORITY"],
        disable_instance_discovery=True,
        connection_verify=os.environ["EMULATOR_CA_FILE"],
    )
