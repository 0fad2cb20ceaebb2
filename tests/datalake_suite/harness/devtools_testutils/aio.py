"""`recorded_by_proxy_async`: async tests run as they are (live, no recording)."""

import functools


def recorded_by_proxy_async(test):
    """Live without recording: the test runs as it is, with no recorded variables."""

    @functools.wraps(test)
    async def run(*args, **kwargs):
        kwargs.setdefault("variables", {})
        return await test(*args, **kwargs)

    return run
