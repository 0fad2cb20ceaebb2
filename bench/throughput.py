"""Throughput benchmark: adls-writeback against Microsoft's Python SDK and a curl floor.

    bash bench/run.sh [--size 1GiB] [--rounds 3] [--binary PATH] [--json OUT]
                      [--memory | --formats]

One emulator (TLS, loopback, ephemeral ports, in-memory store when the binary has it) serves
the whole run. Every contender uploads the same generated CSV as a child process, in
round-robin, with integrity on; each child's wall time, CPU (user+sys, from wait4's rusage,
its own children included) and peak RSS are measured, with the emulator's CPU during it.
Each upload's length and stored Content-MD5 are checked with a HEAD afterwards.
See bench/README.md.
"""

import argparse
import base64
import dataclasses
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import csvgen  # noqa: E402  (beside this file)

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
MIB, GIB = 1 << 20, 1 << 30
SEED = 20261202
# The memory goal of issue 9: peak RSS about the bytes in flight plus this much.
RSS_ALLOWANCE = 64 * MIB


@dataclasses.dataclass(frozen=True)
class Contender:
    """One way of uploading the file: who does it, and with which block size x concurrency."""
    name: str
    kind: str                    # "ours", "sdk", "curl" or "curl-bare" (no integrity)
    block: int | None = None     # bytes per append (None: the SDK's own default)
    concurrency: int | None = None
    tool_defaults: bool = False  # ours: leave block_size and concurrency out of the job
    output_format: str = "csv"   # ours: `[output] format` ("csv.gz", "parquet": in the guest)
    output_options: str = ""     # ours: more `[output]` lines (say `parquet_compression`)

    @property
    def slug(self) -> str:
        """A path-safe name, for the contender's output folder."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


OURS_DEFAULTS = Contender("adls-writeback 4 MiB x 4 (defaults)", "ours", 4 * MIB, 4,
                          tool_defaults=True)
OURS_TUNED = [Contender("adls-writeback 8 MiB x 8", "ours", 8 * MIB, 8),
              Contender("adls-writeback 16 MiB x 8", "ours", 16 * MIB, 8)]
SDK_SAME = [Contender("SDK upload_data 4 MiB x 4", "sdk", 4 * MIB, 4),
            Contender("SDK upload_data 8 MiB x 8", "sdk", 8 * MIB, 8)]
SDK_DEFAULTS = Contender("SDK upload_data defaults (100 MiB x 1)", "sdk")
# Information, no ratio (`--formats`): the same export encoded in the guest, in MiB/s of
# source bytes, beside the plain CSV export.
OURS_GZIP = Contender("adls-writeback 8 MiB x 8, csv.gz", "ours", 8 * MIB, 8,
                      output_format="csv.gz")
OURS_PARQUET = Contender("adls-writeback 8 MiB x 8, parquet", "ours", 8 * MIB, 8,
                         output_format="parquet")
OURS_PARQUET_ZSTD = Contender("adls-writeback 8 MiB x 8, parquet zstd", "ours", 8 * MIB, 8,
                              output_format="parquet",
                              output_options='parquet_compression = "zstd"\n')
FORMAT_CONTENDERS = [OURS_TUNED[0], OURS_GZIP, OURS_PARQUET, OURS_PARQUET_ZSTD]
CURL = Contender("curl floor (create, 1 append, flush)", "curl")
CURL_BARE = Contender("curl, no integrity", "curl-bare")  # information: no ratio uses it
CONTENDERS = [OURS_DEFAULTS, *OURS_TUNED, *SDK_SAME, SDK_DEFAULTS, CURL, CURL_BARE]


class BenchError(Exception):
    """A failure the benchmark reports and stops on (or, for one contender, skips it)."""


# --- the emulator --------------------------------------------------------------------------

class Emulator:
    """One `adls-writeback emulator` child for the whole run, and what it tells us."""

    def __init__(self, binary: Path, workdir: Path):
        in_memory = "--in-memory" in run_text([binary, "emulator", "--help"])
        if in_memory:
            self.data_dir = workdir / "emulator-data"
            self.store = "in-memory store (--in-memory)"
        else:
            self.data_dir = Path(tempfile.mkdtemp(prefix="adls-bench-", dir="/dev/shm"))
            self.store = f"no --in-memory in this binary: data dir on tmpfs ({self.data_dir})"
        ports = ["--dfs-port", "0", "--login-port", "0", "--domo-port", "0", "--admin-port", "0"]
        command = [str(binary), "emulator", "--json", "--data-dir", str(self.data_dir), *ports]
        if in_memory:
            command.insert(2, "--in-memory")
        self.log = open(workdir / "emulator.log", "w+")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log,
                                        text=True)
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self.remove_tmpfs_dir()
            raise BenchError(f"the emulator did not start (exit code "
                             f"{self.process.returncode}): {self.log_tail()}")
        self.info = json.loads(line)
        if in_memory and self.info.get("in_memory") is False:
            self.stop()
            raise BenchError("the emulator was asked for --in-memory but says it is not")
        self.ssl = ssl.create_default_context(cafile=self.info["ca_file"])

    def cpu_seconds(self) -> float:
        """The emulator's user+sys CPU so far, from /proc/PID/stat."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self) -> float:
        """The emulator's peak RSS so far (VmHWM), in MiB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the emulator's stderr."""
        self.log.flush()
        self.log.seek(0)
        return "".join(self.log.readlines()[-lines:])

    def file_url(self, path: str) -> str:
        """The DFS URL of `path` in the well-known container."""
        return f"{self.info['account_url']}/{self.info['container']}/{urllib.parse.quote(path)}"

    def token(self) -> str:
        """A storage bearer token from the emulator's Entra ID endpoint."""
        form = urllib.parse.urlencode({
            "grant_type": "client_credentials", "client_id": self.info["client_id"],
            "client_secret": self.info["client_secret"],
            "scope": "https://storage.azure.com/.default"}).encode()
        url = f"{self.info['authority']}/{self.info['tenant_id']}/oauth2/v2.0/token"
        with urllib.request.urlopen(url, data=form, context=self.ssl) as answer:
            return json.load(answer)["access_token"]

    def request(self, method: str, path: str, query: str = ""):
        """Sends an authorised DFS request for `path`; returns the answer's headers."""
        url = self.file_url(path) + (f"?{query}" if query else "")
        request = urllib.request.Request(url, method=method, headers={
            "Authorization": f"Bearer {self.token()}", "x-ms-version": "2023-11-03"})
        try:
            with urllib.request.urlopen(request, context=self.ssl) as answer:
                return answer.headers
        except urllib.error.HTTPError as error:
            code = error.headers.get("x-ms-error-code", "")
            raise BenchError(f"{method} {path} answered {error.code} {code}") from None

    def stored_file(self, path: str) -> tuple[int, str | None]:
        """A file's committed length and stored Content-MD5 (base64), from a HEAD."""
        headers = self.request("HEAD", path)
        return int(headers["Content-Length"]), headers.get("Content-MD5")

    def delete(self, path: str) -> None:
        """Deletes a path (recursively), so the store does not grow with every run."""
        self.request("DELETE", path, "recursive=true")

    def stop(self) -> None:
        """SIGTERM, then wait; removes a tmpfs data dir."""
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.remove_tmpfs_dir()

    def remove_tmpfs_dir(self) -> None:
        """Removes the data dir when it is the tmpfs fallback (the workdir goes by itself)."""
        if str(self.data_dir).startswith("/dev/shm/"):
            shutil.rmtree(self.data_dir, ignore_errors=True)


# --- measuring one child -------------------------------------------------------------------

def run_text(command: list) -> str:
    """A short command's stdout and stderr (for --help and --version)."""
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    return done.stdout + done.stderr


def measure(command: list, env: dict, emulator: Emulator, workdir: Path) -> dict:
    """Runs `command` as a child; wall time, its rusage (wait4) and the emulator's CPU."""
    out, err = workdir / "child.out", workdir / "child.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        emulator_before = emulator.cpu_seconds()
        started = time.monotonic()
        child = subprocess.Popen([str(c) for c in command], env={**os.environ, **env},
                                 stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - started
        emulator_cpu = emulator.cpu_seconds() - emulator_before
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "user_s": usage.ru_utime, "sys_s": usage.ru_stime,
            "peak_rss_mib": usage.ru_maxrss / 1024, "emulator_cpu_s": emulator_cpu,
            "exit_code": child.returncode, "stdout": out.read_text(errors="replace"),
            "stderr": err.read_text(errors="replace")}


# --- the contenders' commands --------------------------------------------------------------

def job_file(emulator: Emulator, contender: Contender, csv: Path, path: str,
             workdir: Path) -> Path:
    """A job exporting `csv` to `path` through the running emulator (explicit endpoints)."""
    info = emulator.info
    directory, name = path.rsplit("/", 1)
    tuning = "" if contender.tool_defaults else (
        f"block_size = {contender.block}\nconcurrency = {contender.concurrency}\n")
    if contender.output_format != "csv":
        tuning += f'format = "{contender.output_format}"\n'
    tuning += contender.output_options
    text = f"""name = "bench-{contender.slug}"
ca_file = "{info['ca_file']}"
[account]
client_id = "{info['client_id']}"
tenant_id = "{info['tenant_id']}"
client_secret = {{ env = "BENCH_CLIENT_SECRET" }}
account_name = "{info['account_name']}"
container = "{info['container']}"
dfs_endpoint = "{info['account_url']}"
authority_host = "{info['authority']}"
[source]
kind = "file"
path = "{csv}"
[output]
directory = "{directory}"
select_filename = "file-name"
file_name = "{name}"
update = "replace"
{tuning}"""
    job = workdir / f"{contender.slug}.toml"
    job.write_text(text)
    return job


def command_for(contender: Contender, emulator: Emulator, csv: Path, path: str,
                binary: Path, workdir: Path) -> tuple[list, dict]:
    """The child's command line and extra environment, for one upload of `csv` to `path`."""
    if contender.kind == "ours":
        job = job_file(emulator, contender, csv, path, workdir)
        return [binary, "run", job, "--json"], {
            "BENCH_CLIENT_SECRET": emulator.info["client_secret"],
            "ADLS_WRITEBACK_HISTORY": "off",  # the benchmark is not the user's history
            "ADLS_WRITEBACK_CACHE_DIR": str(REPO / "target" / "bench-cache")}
    if contender.kind == "sdk":
        tuning = [] if contender.block is None else [
            "--chunk-size", contender.block, "--max-concurrency", contender.concurrency]
        return [sys.executable, BENCH / "sdk_upload.py", csv, path, *tuning], {
            "BENCH_EMULATOR": json.dumps(emulator.info)}
    auth = workdir / "auth.header"  # fetched before the timed interval, not timed
    auth.touch(mode=0o600)
    auth.write_text(f"Authorization: Bearer {emulator.token()}\n")
    mode = "integrity" if contender.kind == "curl" else "none"
    return ["bash", BENCH / "curl_upload.sh", csv, emulator.file_url(path),
            emulator.info["ca_file"], auth, mode], {}


def failure_text(contender: Contender, sample: dict) -> str:
    """What a failed child said: our JSON report's kind and message, or its stderr's tail."""
    if contender.kind == "ours":
        try:
            report = json.loads(sample["stdout"])
            return f"{report.get('kind', report.get('status'))}: {report.get('message', report)}"
        except ValueError:
            pass
    return (sample["stderr"] or sample["stdout"]).strip()[-2000:]


def upload_once(contender: Contender, emulator: Emulator, csv: Path, path: str,
                binary: Path, workdir: Path) -> dict:
    """One measured upload, its length checked by HEAD, then deleted. Raises BenchError."""
    command, env = command_for(contender, emulator, csv, path, binary, workdir)
    sample = measure(command, env, emulator, workdir)
    if sample["exit_code"] != 0:
        raise BenchError(f"{contender.name}: exit code {sample['exit_code']}: "
                         f"{failure_text(contender, sample)}")
    expected = csv.stat().st_size
    if contender.output_format != "csv":
        return compressed_sample(contender, emulator, sample, path, expected)
    try:
        length, stored_md5 = emulator.stored_file(path)
    except BenchError as error:
        raise BenchError(f"{contender.name}: {error}") from None
    if length != expected:
        raise BenchError(f"{contender.name}: {path} is {length} bytes, the source "
                         f"{expected}: the upload is wrong")
    if contender.kind != "curl-bare" and stored_md5 != source_md5(csv):
        raise BenchError(f"{contender.name}: {path} has Content-MD5 {stored_md5}, the "
                         f"source's is {source_md5(csv)}: the file's MD5 was not stored")
    emulator.delete(path)
    sample.update(bytes=expected, mib_s=expected / MIB / sample["wall_s"],
                  contender=contender.name, path=path)
    if contender.kind == "sdk":  # the SDK's own time, without interpreter start and imports
        sample["upload_s"] = json.loads(sample["stdout"])["upload_s"]
    if contender.kind == "ours":
        sample["guest_s"] = guest_seconds(json.loads(sample["stdout"]))
    for noisy in ("stdout", "stderr"):
        sample.pop(noisy)
    return sample


def compressed_sample(contender: Contender, emulator: Emulator, sample: dict, path: str,
                      source_bytes: int) -> dict:
    """A compressed export's sample: the stored file is the one our report names, with its
    length and MD5; the rate is of the source's bytes."""
    report = json.loads(sample["stdout"])
    written = f"{path.rsplit('/', 1)[0]}/{report['path'].rsplit('/', 1)[-1]}"
    try:
        length, stored_md5 = emulator.stored_file(written)
    except BenchError as error:
        raise BenchError(f"{contender.name}: {error}") from None
    if (length, stored_md5) != (report["bytes"], report["md5"]):
        raise BenchError(f"{contender.name}: {written} is {length} bytes with Content-MD5 "
                         f"{stored_md5}, the report says {report['bytes']} and {report['md5']}")
    emulator.delete(written)
    sample.update(bytes=source_bytes, mib_s=source_bytes / MIB / sample["wall_s"],
                  contender=contender.name, path=written, stored_bytes=length,
                  guest_s=guest_seconds(report))
    for noisy in ("stdout", "stderr"):
        sample.pop(noisy)
    return sample


def guest_seconds(report: dict) -> float:
    """The time our component's own code ran, host calls (so the network) left out: the
    report's `guest_ms`, from a wasmtime call hook."""
    return report["guest_ms"] / 1000


@functools.cache
def source_md5(csv: Path) -> str:
    """The base64 MD5 of a source file, as the service stores it (computed once, untimed)."""
    digest = hashlib.md5()
    with open(csv, "rb") as f:
        while piece := f.read(8 * MIB):
            digest.update(piece)
    return base64.b64encode(digest.digest()).decode()


# --- the rounds ----------------------------------------------------------------------------

def run_rounds(contenders: list, rounds: int, emulator: Emulator, csv: Path,
               warmup_csv: Path, binary: Path, workdir: Path) -> tuple[list, dict]:
    """Warms each contender up once, then runs them round-robin; a failing one is dropped."""
    failed: dict[str, str] = {}
    for contender in contenders:  # compiles our component into its cache, warms the SDK
        try:
            upload_once(contender, emulator, warmup_csv, f"bench/warmup/{contender.slug}.csv",
                        binary, workdir)
        except BenchError as error:
            failed[contender.name] = str(error)
            print(f"FAILED (warm-up) {error}", file=sys.stderr)
    samples = []
    for round_number in range(1, rounds + 1):
        for contender in contenders:
            if contender.name in failed:
                continue
            path = f"bench/{contender.slug}/round-{round_number}.csv"
            try:
                sample = upload_once(contender, emulator, csv, path, binary, workdir)
            except BenchError as error:
                failed[contender.name] = str(error)
                print(f"FAILED {error}", file=sys.stderr)
                continue
            sample["round"] = round_number
            samples.append(sample)
            print(f"  round {round_number}  {contender.name:<40} {sample['mib_s']:7.1f} MiB/s "
                  f"{sample['cpu_s']:6.2f} s CPU  {sample['peak_rss_mib']:7.1f} MiB RSS",
                  flush=True)
    return samples, failed


# --- the report ----------------------------------------------------------------------------

def summarize(contender: Contender, samples: list) -> dict | None:
    """Medians over a contender's samples (peak RSS: the largest), per GiB where it says so."""
    mine = [s for s in samples if s["contender"] == contender.name]
    if not mine:
        return None
    gib = mine[0]["bytes"] / GIB
    cpu = statistics.median(s["cpu_s"] for s in mine)
    return {"contender": contender.name, "kind": contender.kind, "runs": len(mine),
            "mib_s": statistics.median(s["mib_s"] for s in mine),
            "mib_s_min": min(s["mib_s"] for s in mine), "mib_s_max": max(s["mib_s"] for s in mine),
            "cpu_s_per_gib": cpu / gib, "cpu_ns_per_byte": cpu * 1e9 / mine[0]["bytes"],
            "peak_rss_mib": max(s["peak_rss_mib"] for s in mine),
            "emulator_cpu_s_per_gib": statistics.median(s["emulator_cpu_s"] for s in mine) / gib,
            # The guest's own work per byte, in GB/s of source on the one core it runs on.
            "guest_gb_s": (mine[0]["bytes"] / statistics.median(s["guest_s"] for s in mine) / 1e9
                           if "guest_s" in mine[0] else None),
            # An encoded export's stored size against the source's (the same every round).
            "stored_ratio": (mine[0]["stored_bytes"] / mine[0]["bytes"]
                             if "stored_bytes" in mine[0] else None)}


def print_table(summaries: list, failed: dict) -> None:
    """One line per contender: the medians, or why it has none."""
    print(f"\n{'contender':<42} {'runs':>4} {'MiB/s':>7} {'(min-max)':>13} {'CPU s/GiB':>9} "
          f"{'ns/B':>5} {'peak RSS MiB':>12} {'emu CPU s/GiB':>13} {'guest GB/s':>10}")
    for s in summaries:
        ns = f"{s['cpu_ns_per_byte']:5.1f}" if s["kind"] == "ours" else ""
        guest = f"{s['guest_gb_s']:10.2f}" if s["guest_gb_s"] is not None else ""
        spread = f"({s['mib_s_min']:.0f}-{s['mib_s_max']:.0f})"
        print(f"{s['contender']:<42} {s['runs']:>4} {s['mib_s']:7.1f} {spread:>13} "
              f"{s['cpu_s_per_gib']:9.2f} {ns:>5} {s['peak_rss_mib']:12.1f} "
              f"{s['emulator_cpu_s_per_gib']:13.2f} {guest:>10}")
    for name, reason in failed.items():
        print(f"{name:<42} FAILED: {reason.removeprefix(name + ': ').splitlines()[0][:200]}")
    stored = [s for s in summaries if s["stored_ratio"] is not None]
    if stored:
        print(f"\n{'encoded output':<42} {'stored / source':>15}")
        for s in stored:
            print(f"{s['contender']:<42} {s['stored_ratio']:15.3f}")


def print_ratios(summaries: dict) -> None:
    """Ours (defaults and tuned) over each peer's median MiB/s, with issue 9's goals."""
    ours_ran = [c for c in [OURS_DEFAULTS, *OURS_TUNED] if c.name in summaries]
    pairs = []
    for ours in ours_ran:
        same = [c for c in SDK_SAME if (c.block, c.concurrency) == (ours.block, ours.concurrency)]
        pairs += [(ours, peer, goal)
                  for peer, goal in [*((c, 2.0) for c in same), (SDK_DEFAULTS, 2.0), (CURL, 0.8)]
                  if peer.name in summaries]
    if pairs:  # none with --formats: the peers write only CSV
        print(f"\n{'MiB/s of':<38} {'over':<40} {'ratio':>6} {'goal':>6}")
    for ours, peer, goal in pairs:
        ratio = summaries[ours.name]["mib_s"] / summaries[peer.name]["mib_s"]
        verdict = "met" if ratio >= goal else "NOT met"
        print(f"{ours.name:<38} {peer.name:<40} {ratio:6.3f} {'>=' + str(goal):>6}  {verdict}")
    # Issue 9's per-byte goals: CPU in our process, and the guest's own work on its core.
    if ours_ran:
        print(f"\n{'per byte of':<38} {'what':<40} {'value':>6} {'goal':>6}")
    for ours in ours_ran:
        ns, guest = summaries[ours.name]["cpu_ns_per_byte"], summaries[ours.name]["guest_gb_s"]
        for what, value, goal, met in [("CPU ns per byte", ns, "<=2.0", ns <= 2.0),
                                       ("guest GB/s per core", guest, ">=1.0", guest >= 1.0)]:
            print(f"{ours.name:<38} {what:<40} {value:6.2f} {goal:>6}  "
                  f"{'met' if met else 'NOT met'}")


def machine() -> dict:
    """What the numbers were measured on."""
    model = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    return {"cpu": model.group(1) if model else platform.processor(), "cores": os.cpu_count(),
            "kernel": platform.release(), "python": platform.python_version(),
            "loadavg": Path("/proc/loadavg").read_text().split()[:3]}


def versions(binary: Path) -> dict:
    """The versions of every contender's software."""
    from importlib.metadata import version
    return {"adls-writeback": run_text([binary, "--version"]).strip(),
            "curl": run_text(["curl", "--version"]).splitlines()[0],
            **{p: version(p) for p in ("azure-storage-file-datalake", "azure-storage-blob",
                                       "azure-identity", "azure-core")}}


# --- the memory check ----------------------------------------------------------------------

def memory_check(size: int, emulator: Emulator, binary: Path, workdir: Path) -> list:
    """Ours, tuned, at `size` and 4x `size`: peak RSS should not grow with the data."""
    results = []
    data = {n: csvgen.cached_csv(REPO / "target" / "bench-data", n, SEED)
            for n in (size, 4 * size)}
    warmup = csvgen.cached_csv(REPO / "target" / "bench-data", 4 * MIB, SEED)
    upload_once(OURS_TUNED[0], emulator, warmup, "bench/warmup/memory.csv", binary, workdir)
    print(f"\n{'memory check':<28} {'data MiB':>9} {'MiB/s':>7} {'peak RSS MiB':>12} "
          f"{'goal: in flight + 64':>20}")
    for contender in OURS_TUNED:
        budget = (contender.block * contender.concurrency + RSS_ALLOWANCE) / MIB
        peaks = []
        for n, csv in data.items():
            path = f"bench/memory/{contender.slug}-{n}.csv"
            try:
                sample = upload_once(contender, emulator, csv, path, binary, workdir)
            except BenchError as error:
                print(f"FAILED {error}", file=sys.stderr)
                results.append({"contender": contender.name, "bytes": n, "error": str(error)})
                continue
            peaks.append(sample["peak_rss_mib"])
            print(f"{contender.name:<28} {n / MIB:9.0f} {sample['mib_s']:7.1f} "
                  f"{sample['peak_rss_mib']:12.1f} {budget:20.0f}", flush=True)
            results.append(sample)
        if len(peaks) == 2:
            print(f"{'':<28} {memory_verdict(peaks[0], peaks[1], budget)}")
    return results


def memory_verdict(small: float, large: float, budget: float) -> str:
    """Whether peak RSS stayed flat (grew by at most 10% or 16 MiB) and within the goal."""
    growth = large - small
    flat = "flat" if growth <= max(16, 0.1 * small) else "NOT flat"
    within = "within the goal" if max(small, large) <= budget else "OVER the goal"
    return f"4x the data: {growth:+.1f} MiB ({flat}), {within}"


# --- main ----------------------------------------------------------------------------------

def parse_size(text: str) -> int:
    """'1GiB', '64MiB', '512KiB', '1G', '3000000' -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"--size: `{text}` is not a size like 1GiB or 64MiB")
    scale = {"": 1, "K": 1 << 10, "M": MIB, "G": GIB}[match.group(2).upper()]
    return int(float(match.group(1)) * scale)


def parse_args() -> argparse.Namespace:
    """The command line (see the module's docstring)."""
    parser = argparse.ArgumentParser(description="adls-writeback throughput benchmark")
    parser.add_argument("--size", type=parse_size, default=GIB, help="CSV size (default 1GiB)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each contender (3)")
    parser.add_argument("--binary", type=Path, default=REPO / "target/release/adls-writeback")
    parser.add_argument("--json", type=Path, help="write every sample to this file")
    parser.add_argument("--memory", action="store_true",
                        help="memory check instead: ours tuned at SIZE and 4 x SIZE")
    parser.add_argument("--formats", action="store_true",
                        help="output formats instead: ours as csv, csv.gz and parquet")
    args = parser.parse_args()
    if args.memory and args.formats:
        parser.error("--memory and --formats are two different runs: give one")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    args.binary = args.binary.resolve()
    if not os.access(args.binary, os.X_OK):
        parser.error(f"--binary {args.binary} is not an executable (build it with "
                     "`cargo build --release`, or pass another)")
    return args


def main() -> int:
    """Generates the data, starts the emulator, runs the contenders, prints the report."""
    args = parse_args()
    data_dir = REPO / "target" / "bench-data"
    print(f"binary   {args.binary}")
    started = time.monotonic()
    csv = csvgen.cached_csv(data_dir, args.size, SEED)
    print(f"data     {csv} ({args.size / MIB:.0f} MiB, ready in {time.monotonic() - started:.1f} s)")
    with tempfile.TemporaryDirectory(prefix="adls-bench-") as tmp:
        workdir = Path(tmp)
        try:
            emulator = Emulator(args.binary, workdir)
        except BenchError as error:
            print(f"FAILED {error}", file=sys.stderr)
            return 1
        try:
            print(f"emulator {emulator.info['account_url']}, TLS, {emulator.store}")
            print(f"machine  {json.dumps(machine())}", flush=True)
            result = {"machine": machine(), "versions": versions(args.binary),
                      "binary": str(args.binary),
                      "emulator_store": emulator.store, "bytes": args.size, "seed": SEED,
                      "rounds": args.rounds}
            if args.memory:
                result["memory"] = memory_check(args.size, emulator, args.binary, workdir)
                failed = {r["contender"]: r["error"] for r in result["memory"] if "error" in r}
            else:
                warmup = csvgen.cached_csv(data_dir, 4 * MIB, SEED)
                contenders = FORMAT_CONTENDERS if args.formats else CONTENDERS
                samples, failed = run_rounds(contenders, args.rounds, emulator, csv, warmup,
                                             args.binary, workdir)
                summaries = [s for c in contenders if (s := summarize(c, samples))]
                print_table(summaries, failed)
                print_ratios({s["contender"]: s for s in summaries})
                result.update(samples=samples, summary=summaries, failed=failed)
            result["loadavg_end"] = machine()["loadavg"]
            result["emulator_peak_rss_mib"] = emulator.peak_rss_mib()
            print(f"\nemulator peak RSS {result['emulator_peak_rss_mib']:.0f} MiB; load average "
                  f"now {' '.join(result['loadavg_end'])} (on shared cores other work skews all)")
        except BenchError as error:
            print(f"FAILED {error}\nemulator log:\n{emulator.log_tail()}", file=sys.stderr)
            return 1
        finally:
            emulator.stop()
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"samples written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
