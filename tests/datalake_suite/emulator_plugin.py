"""pytest plugin that runs Microsoft's own Data Lake SDK tests, unmodified, live against
`adls-writeback emulator`:

- starts the emulator (TLS, ephemeral ports, store in memory) before the tests are imported,
  and points the `devtools_testutils` stand-in in `harness/` at it through environment
  variables; turns soft delete on for its account, as the suite's soft-delete account has it;
- applies `exceptions.txt`: `skip` entries are not run (what the emulator does not offer by
  design), `fail` entries are expected to fail (strictly: one
  that passes fails the run, so the list stays honest), each with its reason. Any other
  failure fails the run. An entry that matches no collected test is an error too.

Options: `--emulator-bin PATH` (default `$ADLS_WRITEBACK_BIN`), `--exceptions FILE`.
"""

import fnmatch
import json
import os
import subprocess
import tempfile

import pytest

_EMULATOR = {}


def pytest_addoption(parser):
    group = parser.getgroup("emulator")
    group.addoption("--emulator-bin", default=os.environ.get("ADLS_WRITEBACK_BIN"),
                    help="the adls-writeback binary whose `emulator` command to run")
    group.addoption("--exceptions", default=None,
                    help="file of tests not run (skip) or expected to fail (fail), with reasons")


def parse_exceptions(path):
    """`[(kind, pattern, reason, line_number)]` from the exceptions file: `kind | pattern |
    reason` per line, `#` comments and blank lines ignored."""
    entries = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            parts = [p.strip() for p in text.split("|", 2)]
            if len(parts) != 3 or parts[0] not in ("skip", "fail") or not parts[1] or not parts[2]:
                raise pytest.UsageError(
                    f"{path}:{number}: expected `skip|fail | test pattern | reason`, got {text!r}")
            entries.append((parts[0], parts[1], parts[2], number))
    return entries


def pytest_configure(config):
    binary = config.getoption("--emulator-bin")
    if not binary:
        raise pytest.UsageError("--emulator-bin (or ADLS_WRITEBACK_BIN) names the adls-writeback binary")
    data_dir = tempfile.mkdtemp(prefix="adls-ms-suite-")
    process = subprocess.Popen(
        [binary, "emulator", "--in-memory", "--data-dir", data_dir, "--json",
         "--dfs-port", "0", "--login-port", "0", "--domo-port", "0", "--admin-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise pytest.UsageError("the emulator did not start")
    info = json.loads(line)
    _EMULATOR.update(process=process, info=info)
    os.environ.update({
        "EMULATOR_DFS_URL": info["dfs"],
        "EMULATOR_AUTHORITY": info["authority"],
        "EMULATOR_TENANT_ID": info["tenant_id"],
        "EMULATOR_CLIENT_ID": info["client_id"],
        "EMULATOR_CLIENT_SECRET": info["client_secret"],
        "EMULATOR_ACCOUNT_KEY": info["account_key"],
        "EMULATOR_CA_FILE": info["ca_file"],
        # requests (azure-core's sync transport) and aiohttp trust the emulator's CA.
        "REQUESTS_CA_BUNDLE": info["ca_file"],
        "SSL_CERT_FILE": info["ca_file"],
        "AZURE_TEST_RUN_LIVE": "true",
        "AZURE_SKIP_LIVE_RECORDING": "true",
        "DATALAKE_STORAGE_ACCOUNT_NAME": info["account_name"],
        "STORAGE_DATA_LAKE_SOFT_DELETE_ACCOUNT_NAME": info["account_name"],
    })
    _enable_soft_delete(info["account_name"])
    path = config.getoption("--exceptions")
    _EMULATOR["exceptions"] = parse_exceptions(path) if path else []


def _enable_soft_delete(account):
    """Turns on the account's delete retention policy: the suite's soft-delete tests run on
    the same account (`STORAGE_DATA_LAKE_SOFT_DELETE_ACCOUNT_NAME`), which on Azure is one
    set up with soft delete on."""
    from azure.storage.filedatalake import DataLakeServiceClient, RetentionPolicy
    from devtools_testutils.emulator import account_url, emulator_credential

    service = DataLakeServiceClient(account_url(account), credential=emulator_credential())
    service.set_service_properties(delete_retention_policy=RetentionPolicy(enabled=True, days=7))


def pytest_unconfigure(config):
    process = _EMULATOR.get("process")
    if process:
        process.terminate()
        process.wait(timeout=10)


def _matches(nodeid, pattern):
    return nodeid == pattern or fnmatch.fnmatchcase(nodeid, pattern)


def pytest_collection_modifyitems(session, config, items):
    entries = _EMULATOR["exceptions"]
    used = set()
    kept, deselected = [], []
    for item in items:
        entry = next((e for e in entries if _matches(item.nodeid, e[1])), None)
        if entry is None:
            kept.append(item)
            continue
        used.add(entry[3])
        kind, _, reason, _ = entry
        if kind == "skip":
            deselected.append(item)
        else:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
            kept.append(item)
    # Only entries for the files collected this run can be judged stale.
    files = {item.nodeid.split("::")[0] for item in items}
    stale = [e for e in entries if e[3] not in used
             and any(fnmatch.fnmatchcase(f, e[1].split("::")[0]) for f in files)]
    if stale:
        listed = "\n".join(f"  line {e[3]}: {e[0]} | {e[1]}" for e in stale)
        raise pytest.UsageError(f"exceptions that match no collected test (remove them):\n{listed}")
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = kept
