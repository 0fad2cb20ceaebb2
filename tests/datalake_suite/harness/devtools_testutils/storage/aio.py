"""`AsyncStorageRecordedTestCase`: the async tests' base, pointed at the emulator."""

from . import GenericTestProxyParametrize1, GenericTestProxyParametrize2, LogCaptured
from . import StorageRecordedTestCase as AsyncStorageRecordedTestCase

__all__ = [
    "AsyncStorageRecordedTestCase",
    "GenericTestProxyParametrize1",
    "GenericTestProxyParametrize2",
    "LogCaptured",
]
