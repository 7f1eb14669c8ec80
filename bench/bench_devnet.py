"""The devnet, measured end to end: block→L1 latency, throughput, CPU and resident memory.

Parts (`--only idle,latency,reference,throughput`; all by default):
- idle: `orchestrator run` with the devnet's local L2 wiring and nothing to do (the recorded node's head is
  the block before the first one to process), its resident memory sampled for `--idle-seconds`;
- latency: `python -m infra.devnet --block-time 2 --blocks 12 --until-settled` with the devnet's defaults;
- reference: the same run with the reference's default intervals (a 60 s cron for every trigger and
  verification first checked after the job type's full polling delay, then at that delay);
- throughput: the recorded blocks available at once (`--block-time 0 --blocks 900`) with the
  reference's default batch limits (MAX_BATCH_SIZE 100, MAX_BLOCKS_PER_SNOS_BATCH 10, MAX_BATCH_TIME
  1800 s): blocks settled per minute and the orchestrator's CPU seconds per block. 900 = nine full
  aggregator batches: of the recording's 999 settleable blocks the last 99 make a batch that, as on any
  chain whose blocks stop, closes only at its 1800 s time limit (`--throughput-blocks 999` shows it).
Resident memory: the orchestrator process sampled every 0.5 s: its first sample (just started), the peak,
and the last one (every block settled, nothing left to do: idle after the work).
Each run starts its own anvil; the reference run takes several minutes, the throughput run longer.

Run: `.venv/bin/python bench/bench_devnet.py [--only idle,latency,reference] [--blocks 12]`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LATENCY = re.compile(r"^latency block→L1: p50 (\d+\.\d)s, p95 (\d+\.\d)s, max (\d+\.\d)s over (\d+) blocks$")
#: the aggregator batching's save line for a batch it closed (the first one per batch is its close time)
CLOSED = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO +orchestrator\.block\.aggregator_batching: "
    r"saved aggregator batch (\d+) \(blocks \d+\.\.(\d+), Closed"
)
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
#: the recording's first block (infra.devnet.recorded_node.SEPOLIA_BATCH_FIRST_BLOCK; this script runs
#: without the project root on its path)
FIRST_RECORDED_BLOCK = 2935726

#: The reference's default intervals: a 60 s cron for each trigger, verification at the full polling
#: delay (no early first check). The devnet's batch sizes are kept, so both runs batch alike.
REFERENCE_TIMING = {
    "EVENT_BRIDGE_INTERVAL_SECONDS": "60",
    "FIRST_VERIFICATION_DELAY_SECONDS": "3600",  # min(first, polling delay): the polling delay
}
#: The reference's default batch limits (its CLI defaults; also this project's config defaults).
REFERENCE_BATCHING = {
    "MAX_BATCH_SIZE": "100",
    "MAX_BLOCKS_PER_SNOS_BATCH": "10",
    "MAX_BATCH_TIME_SECONDS": "1800",
}


@dataclass
class Sample:
    rss_kb: list[int] = field(default_factory=list)
    cpu_seconds: float = 0.0


@dataclass
class Run:
    returncode: int
    seconds: float
    lines: list[str]
    orchestrator: Sample
    #: the devnet's latency.json: block -> produced / settled times (None when the run wrote none)
    record: dict[str, dict[str, float | None]] | None = None
    #: aggregator batch index -> (its end block, when it was closed: seconds since the epoch)
    closed: dict[int, tuple[int, float]] = field(default_factory=dict)

    def closed_to_settled(self) -> list[float]:
        """Per closed aggregator batch: its close (orchestrator log) -> its end block settled on L1."""
        settled = {int(block): times["settled"] for block, times in (self.record or {}).items()}
        return [
            end_settled - closed_at
            for _, (end, closed_at) in sorted(self.closed.items())
            if (end_settled := settled.get(end)) is not None
        ]

    def latency(self) -> tuple[float, float, float, int] | None:
        match = LATENCY.match(self.lines[-1]) if self.lines else None
        if match is None:
            return None
        return float(match[1]), float(match[2]), float(match[3]), int(match[4])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _orchestrator_pid(devnet_pid: int) -> int | None:
    for child in _children(devnet_pid):
        try:
            cmdline = (Path("/proc") / str(child) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"orchestrator" in cmdline and b"run" in cmdline:
            return child
    return None


def _watch(devnet: subprocess.Popen[str], sample: Sample, stop: threading.Event) -> None:
    """RSS and CPU time of the devnet's `orchestrator run` process, every half second."""
    while not stop.is_set():
        pid = _orchestrator_pid(devnet.pid)
        if pid is not None:
            try:
                stat = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
                statm = (Path("/proc") / str(pid) / "statm").read_text().split()
            except OSError:
                pass
            else:
                sample.cpu_seconds = (int(stat[11]) + int(stat[12]) + int(stat[13]) + int(stat[14])) / TICK
                sample.rss_kb.append(int(statm[1]) * PAGE_KB)
        stop.wait(0.5)


def run_devnet(args: list[str], overrides: dict[str, str], timeout: float) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADARA_ORCHESTRATOR_")}
    env.update({f"MADARA_ORCHESTRATOR_{k}": v for k, v in overrides.items()})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as data:
        argv = [sys.executable, "-m", "infra.devnet", *args, "--until-settled", "--port", "0"]
        argv += ["--data-dir", str(Path(data) / "devnet"), "--timeout", str(timeout), "--interval", "30"]
        started = time.monotonic()
        devnet = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        sample, stop = Sample(), threading.Event()
        watcher = threading.Thread(target=_watch, args=(devnet, sample, stop), daemon=True)
        watcher.start()
        out, _ = devnet.communicate(timeout=timeout + 120)
        stop.set()
        watcher.join()
        latencies = Path(data) / "devnet" / "latency.json"
        record = json.loads(latencies.read_text()) if latencies.is_file() else None
        closed = _batch_closes(Path(data) / "devnet" / "orchestrator.log")
    lines = out.strip().splitlines()
    return Run(devnet.returncode, time.monotonic() - started, lines, sample, record, closed)


def _batch_closes(log: Path) -> dict[int, tuple[int, float]]:
    """Aggregator batch -> (end block, close time) from the orchestrator's log (UTC timestamps)."""
    closes: dict[int, tuple[int, float]] = {}
    for line in log.read_text().splitlines() if log.is_file() else []:
        if (match := CLOSED.match(line)) is not None and int(match[2]) not in closes:
            at = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC)
            closes[int(match[2])] = (int(match[3]), at.timestamp())
    return closes


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank, as the devnet's latency line (infra/devnet/latency.py)."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def _mb(kb: int) -> str:
    return f"{kb / 1024:.0f} MB"


def latency_table(blocks: int, parts: list[str]) -> None:
    args = ["--block-time", "2", "--blocks", str(blocks)]
    runs: dict[str, Run] = {}
    if "latency" in parts:
        runs["devnet defaults"] = run_devnet(args, {}, 900)
    if "reference" in parts:
        runs["reference intervals"] = run_devnet(args, REFERENCE_TIMING, 3600)
    print(f"\nblock→L1 latency, --block-time 2 --blocks {blocks}")
    print(f"{'timing':<22} | {'p50 s':>7} | {'p95 s':>7} | {'max s':>7} | blocks | wall s | RSS start / peak / settled")
    found = {}
    for name, run in runs.items():
        figures = run.latency()
        rss = run.orchestrator.rss_kb
        memory = f"{_mb(rss[0])} / {_mb(max(rss))} / {_mb(rss[-1])}" if rss else "n/a"
        if run.returncode != 0 or figures is None:
            print(f"{name:<22} | failed (exit {run.returncode}): {' / '.join(run.lines[-3:])}")
            continue
        found[name] = figures
        p50, p95, top, n = figures
        print(f"{name:<22} | {p50:>7.1f} | {p95:>7.1f} | {top:>7.1f} | {n:>6} | {run.seconds:>6.0f} | {memory}")
        if closes := run.closed_to_settled():
            spans = " ".join(f"{c:.1f}" for c in closes)
            p50 = percentile(closes, 0.5)
            print(f"{'':<22}   aggregator batch closed→settled: p50 {p50:.1f}s over {len(closes)} batches ({spans})")
    if len(found) == 2:
        ours, ref = found["devnet defaults"], found["reference intervals"]
        ratios = " | ".join(f"{r / o:>6.1f}x" for r, o in zip(ref[:3], ours[:3], strict=True))
        print(f"{'ratio reference/ours':<22} | {ratios}")


def throughput_table(blocks: int, timeout: float) -> None:
    """Blocks settled per minute with every block available at once; a run that does not settle them
    all within `timeout` is reported for the blocks it did settle (from the devnet's latency.json)."""
    run = run_devnet(["--block-time", "0", "--blocks", str(blocks)], REFERENCE_BATCHING, timeout)
    print(f"\nthroughput: {blocks} blocks available at once, reference batch limits (timeout {timeout:.0f}s)")
    times = list((run.record or {}).values())
    settled = [t["settled"] for t in times if t["settled"] is not None]
    if not settled:
        print(f"no block settled (exit {run.returncode}) after {run.seconds:.0f}s: {' / '.join(run.lines[-3:])}")
        return
    produced = min(t["produced"] for t in times if t["produced"] is not None)
    settled_in = max(settled) - produced
    rss = run.orchestrator.rss_kb
    cpu = run.orchestrator.cpu_seconds
    outcome = "all settled" if len(settled) == blocks else f"stopped (exit {run.returncode}): {run.lines[-1][:100]}"
    print("settled/blocks | settled in s | blocks/min | orchestrator CPU s | CPU s/block | RSS start / peak / end")
    print(
        f"{len(settled):>6}/{blocks:<7} | {settled_in:>12.1f} | {len(settled) / settled_in * 60:>10.1f} | "
        f"{cpu:>18.1f} | {cpu / len(settled):>11.3f} | "
        f"{_mb(rss[0]) if rss else 'n/a'} / {_mb(max(rss)) if rss else 'n/a'} / {_mb(rss[-1]) if rss else 'n/a'}"
    )
    print(outcome)


def _rss_kb(pid: int) -> int | None:
    try:
        return int((Path("/proc") / str(pid) / "statm").read_text().split()[1]) * PAGE_KB
    except OSError:
        return None


def _idle_wiring(node_url: str, data_dir: Path, first_block: int) -> dict[str, str]:
    """The devnet's local L2 wiring; L1 at a closed port (nothing to settle, so it is never called)."""
    return {
        "PROFILE": "local", "LAYER": "l2", "DATA_DIR": str(data_dir), "PORT": "0",
        "MADARA_RPC_URL": node_url, "MADARA_FEEDER_GATEWAY_URL": node_url, "SNOS_RUNNER": "devnet",
        "AGGREGATOR_RUNNER": "devnet", "PROVER": "mock", "SETTLEMENT_LAYER": "ethereum",
        "MOCK_VERIFIER_ADDRESS": "0x" + "33" * 20, "MOCK_VERIFIER_PRIVATE_KEY": "0x" + "44" * 32,
        "ETHEREUM_SETTLEMENT_RPC_URL": "http://127.0.0.1:9", "ETHEREUM_PRIVATE_KEY": "0x" + "11" * 32,
        "L1_CORE_CONTRACT_ADDRESS": "0x" + "22" * 20, "ETHEREUM_DISABLE_PEERDAS": "true",
        "MIN_BLOCK_NO_TO_PROCESS": str(first_block), "EVENT_BRIDGE_INTERVAL_SECONDS": "3",
    }  # fmt: skip


def _sample_idle(argv: list[str], env: dict[str, str], log: Path, seconds: float) -> list[int] | None:
    """RSS samples (kB) of a process from its 'orchestrator running' line on; None if it stopped."""
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        samples: list[int] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and process.poll() is None:
            rss = _rss_kb(process.pid)
            if rss is not None and "orchestrator running" in log.read_text():
                samples.append(rss)
            time.sleep(0.5)
        alive = process.poll() is None
        process.terminate()
        process.wait(30)
    return samples if alive else None


def idle_table(seconds: float) -> None:
    """RSS of an `orchestrator run` started with no work: the recorded node's head is the block before the
    first one to process, so every trigger pass finds nothing to do."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADARA_ORCHESTRATOR_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    node_argv = [sys.executable, "-m", "infra.devnet.recorded_node", "--port", "0"]
    node_argv += ["--data", str(ROOT / "tests" / "fixtures"), "--latest", str(FIRST_RECORDED_BLOCK - 1)]
    with tempfile.TemporaryDirectory() as data:
        node = subprocess.Popen(node_argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        try:
            url = (node.stdout.readline() if node.stdout else "").strip().removeprefix("listening on ")
            wiring = _idle_wiring(url, Path(data) / "orchestrator", FIRST_RECORDED_BLOCK)
            run_env = {**env, **{f"MADARA_ORCHESTRATOR_{k}": v for k, v in wiring.items()}}
            log = Path(data) / "orchestrator.log"
            argv = [sys.executable, "-m", "orchestrator", "run", "--env-file", "/dev/null"]
            samples = _sample_idle(argv, run_env, log, seconds)
            tail = log.read_text().strip().splitlines()[-1:]
        finally:
            node.terminate()
            node.wait(30)
    print(f"\nidle: orchestrator run with nothing to do, sampled for {seconds:.0f}s")
    if not samples:
        print(f"the process stopped or never reported running: {' / '.join(tail)}")
        return
    print(f"RSS first running / max / last: {_mb(samples[0])} / {_mb(max(samples))} / {_mb(samples[-1])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="idle,latency,reference,throughput", help="comma-separated parts")
    parser.add_argument("--idle-seconds", type=float, default=60, help="how long the idle run is sampled")
    parser.add_argument("--blocks", type=int, default=12, help="blocks of the latency runs")
    parser.add_argument("--throughput-blocks", type=int, default=900, help="blocks of the throughput run")
    parser.add_argument("--throughput-timeout", type=float, default=600, help="seconds (the target is 10 minutes)")
    args = parser.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - {"idle", "latency", "reference", "throughput"}
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    if "idle" in parts:
        idle_table(args.idle_seconds)
    if {"latency", "reference"} & set(parts):
        latency_table(args.blocks, parts)
    if "throughput" in parts:
        throughput_table(args.throughput_blocks, args.throughput_timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
