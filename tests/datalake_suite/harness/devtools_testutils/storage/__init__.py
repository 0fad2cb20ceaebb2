"""`StorageRecordedTestCase` and the parametrize helper of the storage tests, for live runs
against the emulator."""

import functools
import inspect
import logging
from datetime import datetime
from io import StringIO

import pytest

from .. import AzureRecordedTestCase
from ..emulator import account_url as _emulator_account_url

__all__ = [
    "GenericTestProxyParametrize1",
    "GenericTestProxyParametrize2",
    "LogCaptured",
    "StorageRecordedTestCase",
]

LOGGING_FORMAT = "%(asctime)s %(name)-20s %(levelname)-5s %(message)s"


class StorageRecordedTestCase(AzureRecordedTestCase):
    """Helpers the storage tests call on `self`, pointed at the emulator."""

    logger = logging.getLogger("azure.storage")

    def account_url(self, storage_account, storage_type):
        """The emulator's path-style account URL. The emulator answers DFS and Blob requests
        on the same address, so `storage_type` ("dfs", "blob") changes nothing."""
        return _emulator_account_url(storage_account)

    def generate_sas(self, generator, *args, **kwargs):
        """A SAS from the SDK's own `generator` (`generate_account_sas`, …): live, the token
        is used as it is (the real harness fakes it only in playback)."""
        return generator(*args, **kwargs)

    def get_random_bytes(self, size):
        return b"a" * size

    def get_random_text_data(self, size):
        """Text of at least `size` characters. Like the real harness's (whose word choice never
        reaches its last, non-ASCII word), it is ASCII, so characters and bytes count alike:
        tests pass `len(text)` as a byte length."""
        words = ["hello", "world", "python"]
        text = ""
        index = 0
        while len(text) < size:
            text += " " + words[index % len(words)]
            index += 1
        return text

    def get_datetime_variable(self, variables, name, dt):
        value = variables.setdefault(name, dt.isoformat())
        return datetime.fromisoformat(value)

    def assertNamedItemInContainer(self, container, item_name, msg=None):
        for item in container:
            name = item if isinstance(item, str) else getattr(item, "name", None)
            if isinstance(item, dict):
                name = item.get("name")
            if name == item_name:
                return
        pytest.fail(f"{item_name!r} not found in {[str(c) for c in container]}")

    def assertNamedItemNotInContainer(self, container, item_name, msg=None):
        for item in container:
            if getattr(item, "name", None) == item_name:
                pytest.fail(f"{item_name!r} unexpectedly found in {container!r}")

    def enable_logging(self):
        self.logger.setLevel(logging.DEBUG)
        self.logger.disabled = False

    def configure_logging(self):
        self.enable_logging()


class LogCaptured:
    """`with LogCaptured(self) as log:` collects what `azure.storage` logs meanwhile."""

    def __init__(self, test_case=None):
        self.test_case = test_case

    def __enter__(self):
        self.stream = StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(logging.Formatter(LOGGING_FORMAT))
        self.logger = logging.getLogger("azure.storage")
        self.level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self.handler)
        return self.stream

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)
        self.stream.close()


def _pass_through():
    """A decorator that changes nothing: parameters reach the test from `pytest.mark.parametrize`
    directly, since nothing is recorded."""

    def decorate(test):
        if inspect.iscoroutinefunction(inspect.unwrap(test)):

            @functools.wraps(test)
            async def run_async(*args, **kwargs):
                return await test(*args, **kwargs)

            return run_async

        @functools.wraps(test)
        def run(*args, **kwargs):
            return test(*args, **kwargs)

        return run

    return decorate


def GenericTestProxyParametrize1():  # noqa: N802 (the harness's name)
    """For tests parametrized by one argument `a`."""
    return _pass_through()


def GenericTestProxyParametrize2():  # noqa: N802 (the harness's name)
    """For tests parametrized by two arguments `a` and `b`."""
    return _pass_through()
