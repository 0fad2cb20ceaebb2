"""Placeholder values the tests' settings refer to. They are never sent anywhere: the loader
hands the tests the emulator's account key instead."""

import base64

STORAGE_ACCOUNT_FAKE_KEY = base64.b64encode(b"placeholder-the-loader-passes-the-emulator-key").decode()
