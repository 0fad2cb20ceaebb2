"""A stand-in for the few parts of `devtools_testutils` (the test harness in Microsoft's Azure
SDK repository, not on PyPI) that the Data Lake SDK's tests import, for one mode only: live
against the local emulator, without recording.

- `EnvironmentVariableLoader` passes the test the account name from the environment and, for
  each "secret" (the account keys), an object whose `.secret` is the emulator's account key:
  the tests build their clients with `credential=account_key.secret` (SharedKey signatures)
  and make SAS tokens with it (`generate_file_system_sas` and the like), as they do live
  against Azure; `get_credential` gives the tests that want a token credential the
  emulator's Entra ID app.
- `recorded_by_proxy` runs the test as it is (there is no test proxy in live mode).
"""

import functools
import os

from .emulator import account_key, emulator_credential

__all__ = [
    "AzureRecordedTestCase",
    "EnvironmentVariableLoader",
    "EnvironmentVariableOptions",
    "is_live",
    "is_live_and_not_recording",
    "recorded_by_proxy",
]


def is_live():
    """Always true: the suite runs live against the emulator."""
    return True


def is_live_and_not_recording():
    """Always true: nothing is recorded."""
    return True


class EnvironmentVariableOptions:
    """Which of the loader's values are secrets (`hide_secrets`): those are passed as objects
    with a `.secret`, as the real harness does."""

    def __init__(self, hide_secrets=None):
        self.hide_secrets = list(hide_secrets or [])


class EmulatorSecret:
    """A secret value as the tests receive it: `.secret` is what they hand the SDK as the
    credential or sign SAS tokens with, here the emulator's account key (every emulated
    account has the same published key)."""

    def __init__(self, name):
        self.name = name

    @property
    def secret(self):
        return account_key()

    def __repr__(self):
        return f"EmulatorSecret({self.name})"


class EnvironmentVariableLoader:
    """`EnvironmentVariableLoader(directory, name=default, ..., options=...)()` decorates a test:
    each keyword becomes a keyword argument of the test, read from the environment variable of
    the same name in capitals (falling back to the default), secrets wrapped in
    `EmulatorSecret`."""

    def __init__(self, directory, options=None, **defaults):
        self.directory = directory
        self.defaults = defaults
        self.secrets = set(options.hide_secrets if options else [])

    def values(self):
        values = {}
        for name, default in self.defaults.items():
            if name in self.secrets:
                values[name] = EmulatorSecret(name)
            else:
                values[name] = os.environ.get(name.upper(), default)
        return values

    def values_for(self, test):
        """The values `test` takes: all of them when it takes `**kwargs`, else those it names."""
        import inspect

        parameters = inspect.signature(inspect.unwrap(test)).parameters.values()
        if any(p.kind is p.VAR_KEYWORD for p in parameters):
            return self.values()
        named = {p.name for p in parameters}
        return {k: v for k, v in self.values().items() if k in named}

    def __call__(self, test):
        if _is_coroutine(test):

            @functools.wraps(test)
            async def run_async(*args, **kwargs):
                return await test(*args, **{**self.values_for(test), **kwargs})

            return run_async

        @functools.wraps(test)
        def run(*args, **kwargs):
            return test(*args, **{**self.values_for(test), **kwargs})

        return run


def recorded_by_proxy(test):
    """Live without recording: the test runs as it is, with no recorded variables."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        kwargs.setdefault("variables", {})
        return test(*args, **kwargs)

    return run


def _is_coroutine(function):
    import inspect

    return inspect.iscoroutinefunction(inspect.unwrap(function))


class AzureRecordedTestCase:
    """Base of the recorded test classes: the helpers the tests call on `self`."""

    @property
    def is_live(self):
        return True

    def is_playback(self):
        return False

    def get_credential(self, client_class=None, is_async=False, **kwargs):
        """The emulator's Entra ID token credential (an `aio` one when `is_async`)."""
        return emulator_credential(is_async=is_async)

    def get_resource_name(self, name):
        """A name unique to this test (and stable within it): `name` and a hash of the test."""
        return _resource_name(name)

    def create_random_name(self, name):
        return _resource_name(name)

    def get_settings_value(self, key):
        return os.environ.get(key.upper())


def _resource_name(prefix):
    import hashlib

    test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    digest = hashlib.sha256(f"{test}|{prefix}".encode()).hexdigest()
    # File system names are at most 63 characters.
    return prefix[:40] + digest[:12]
