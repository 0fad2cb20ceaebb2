"""Placeholder values the tests' settings refer to. They are never sent anywhere: the
emulator's token credential is used instead."""

import base64

STORAGE_ACCOUNT_FAKE_KEY = base64.b64encode(b"not-a-key-the-emulator-uses-tokens").decode()
