"""`python -m infra.devnet`: settle recorded Starknet blocks on a local L1 through the real pipeline.

It starts anvil, deploys MockFactRegistry and TestStarknetCore (program hash: the devnet program
hash; initial state: the recorded chain right before the first settled block), serves the recorded
blocks with the recorded Madara node, and runs `orchestrator run` on the local profile (SQLite,
local storage, APScheduler cron; layer l2; SNOS runner devnet; mock prover registering facts in the
registry; Ethereum settlement on anvil). A sequencer reveals the recorded blocks one every
`--block-time` seconds (0: all at once), so blocks appear, batch, prove, aggregate and settle
continuously; each block's reveal is its produced-on-L2 time. On a terminal a live table shows each
aggregator batch's stage (produced, batched, SNOS, proven, aggregated, on L1) and each settled block's
block→L1 latency; otherwise plain lines say what changed. SIGINT/SIGTERM stop everything it started,
by PID.

`--profile aws` runs the same on the deployed shape (aws.py): LocalStack and the MongoDB-compatible
server started by the devnet, `orchestrator setup` with EventBridge rules delivering the triggers,
two `orchestrator run` processes, the OS and aggregator stand-ins as command-runner programs.
`--layer l3` settles through the L3 pipeline on the Starknet settlement test server, with the
self-proving Atlantic double (l3.py).

The recorded chain ends at the last block to settle; the last batches close on their time limit
(MAX_BATCH_TIME_SECONDS) without a later block, so no admin call is needed. Orchestrator settings
(MADARA_ORCHESTRATOR_*) in the caller's environment override the devnet's batch sizes and intervals,
never its wiring (see env.py).

`--until-settled` exits 0 once the contract has settled the last block and every job is Completed,
its last line then `latency block→L1: p50 X.Xs, p95 Y.Ys, max Z.Zs over N blocks`; and 1 on a Failed
(or VerificationTimeout) job, an orchestrator exit, or `--timeout`.
Logs: the orchestrator's in the data directory, anvil's in infra/.services/logs; the run's addresses,
URLs and block range in <data dir>/devnet.json; each block's produced and settled times in
<data dir>/latency.json at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from pathlib import Path

from infra.devnet.aws import aws_database, aws_env, start_aws_orchestrators, start_aws_services, write_jobs_summary
from infra.devnet.env import Wiring, orchestrator_env
from infra.devnet.l1 import CoreContract, compile_and_deploy
from infra.devnet.l2 import RECORDING, DevnetBlocks, devnet_blocks
from infra.devnet.l3 import SettledOnStarknet, start_l3
from infra.devnet.latency import SettlementTracker
from infra.devnet.processes import LoggedProcess, orchestrator_setup, start_orchestrator, tail
from infra.devnet.progress import OrchestratorApi, Progress
from infra.devnet.recorded_node import RecordedMadaraNode
from infra.devnet.sequencer import Sequencer
from infra.devnet.stages import batch_stages
from infra.devnet.view import Snapshot, View, make_view
from infra.launch.anvil import DEV_PRIVATE_KEYS, start_anvil
from infra.launch.base import REPO, ServiceStartError, free_port
from infra.launch.solc import SolcError
from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.clients.snos.devnet import DEVNET_PROGRAM_HASH
from orchestrator.core.clients.database import DatabaseClient

#: anvil dev account 1 (unlocked) deploys, so the operator's (account 0) nonces are the pipeline's alone.
DEPLOYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OPERATOR_KEY = DEV_PRIVATE_KEYS[0]
VERIFIER_KEY = DEV_PRIVATE_KEYS[1]
#: Interval mining, so that confirmations (blocks on top of a receipt's) keep coming without traffic.
L1_BLOCK_TIME = 1
#: The run's description in its data directory (addresses, URLs, block range).
DESCRIPTION = "devnet.json"
#: Each block's produced-on-L2 and settled-on-L1 times, written in the data directory at the end.
LATENCIES = "latency.json"
#: Seconds between polls of L1 and the orchestrator: also the resolution of the block→L1 latency.
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Options:
    blocks: int
    port: int
    data_dir: Path
    fixtures: Path
    until_settled: bool
    timeout: float | None
    interval: float
    l1_url: str | None
    block_time: float
    profile: str = "local"
    layer: str = "l2"


@dataclass
class Started:
    """What `start` brought up: the orchestrator processes (the first serves the API the devnet
    reads), where the settled block is read, and the orchestrators' database (for the view)."""

    orchestrators: list[LoggedProcess]
    settled: CoreContract | SettledOnStarknet
    database: DatabaseClient


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m infra.devnet",
        description="Settle recorded Starknet blocks on a local L1 (anvil) through the orchestrator's real pipeline.",
    )
    parser.add_argument("--blocks", type=int, default=12, help="how many recorded blocks to settle (default 12)")
    parser.add_argument("--port", type=int, default=3000, help="the orchestrator's API port (default 3000; 0: any)")
    parser.add_argument("--data-dir", type=Path, default=None, help="an empty or new directory for the run's data")
    parser.add_argument(
        "--fixtures", type=Path, default=REPO / "tests" / "fixtures", help=f"holds the recording {RECORDING}"
    )
    parser.add_argument("--until-settled", action="store_true", help="exit once every block is settled and done")
    parser.add_argument("--timeout", type=float, default=None, help="stop after this many seconds (exit 1 if settling)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between progress lines")
    parser.add_argument(
        "--block-time",
        type=float,
        default=2.0,
        help="reveal one recorded block every SECONDS, as a sequencer (default 2; 0: all at once)",
    )
    parser.add_argument(
        "--profile",
        choices=("local", "aws"),
        default="local",
        help="local: one orchestrator on SQLite; aws: LocalStack + MongoDB server, EventBridge triggers, two processes",
    )
    parser.add_argument(
        "--layer",
        choices=("l2", "l3"),
        default="l2",
        help="l2: settle on L1 (anvil); l3: settle on the Starknet settlement test server, proofs by Atlantic",
    )
    parser.add_argument(
        "--l1-url",
        default=None,
        help="use this running anvil (dev accounts, interval mining) instead of starting one; it is left running",
    )
    args = parser.parse_args(argv)
    data_dir = args.data_dir or REPO / ".orchestrator" / "devnet" / time.strftime("%Y%m%d-%H%M%S")
    if data_dir.exists() and any(data_dir.iterdir()):
        parser.error(f"--data-dir {data_dir} is not empty: the devnet needs a fresh database for its fresh L1")
    if args.timeout is not None and args.timeout <= 0:
        parser.error("--timeout must be positive")
    if args.block_time < 0:
        parser.error("--block-time must not be negative")
    if args.layer == "l3" and (args.profile == "aws" or args.l1_url):
        parser.error("--layer l3 runs on the local profile and has no L1 (--profile aws and --l1-url are for l2)")
    return Options(
        blocks=args.blocks,
        port=args.port or free_port(),
        data_dir=data_dir.resolve(),
        fixtures=args.fixtures,
        until_settled=args.until_settled,
        timeout=args.timeout,
        interval=max(args.interval, 0.5),
        l1_url=args.l1_url,
        block_time=args.block_time,
        profile=args.profile,
        layer=args.layer,
    )


def say(text: str) -> None:
    print(f"[devnet {time.strftime('%H:%M:%S')}] {text}", flush=True)


async def start(stack: AsyncExitStack, options: Options, blocks: DevnetBlocks) -> Started:
    """Everything the orchestrator needs, then the orchestrator; each part is stopped by `stack`."""
    local_database = SqliteDatabaseClient(options.data_dir / "orchestrator.sqlite3")
    if options.layer == "l3":
        orchestrator, settled = await start_l3(stack, blocks, options.data_dir, options.port, say)
        return Started([orchestrator], settled, local_database)
    if options.l1_url:
        l1_url = options.l1_url
        say(f"L1: {l1_url}")
    else:
        anvil = await asyncio.to_thread(start_anvil, block_time=L1_BLOCK_TIME, name="devnet-anvil")
        stack.callback(anvil.stop)
        l1_url = anvil.url
        say(f"anvil on {l1_url} (pid {anvil.pid})")
    node = RecordedMadaraNode(blocks.chain)
    await node.start()
    stack.push_async_callback(node.stop)
    say(f"recorded Madara node on {node.url}: blocks up to {blocks.last}")
    deployment, core = await compile_and_deploy(l1_url, DEPLOYER, DEVNET_PROGRAM_HASH, blocks.genesis)
    stack.push_async_callback(core.close)
    say(
        f"MockFactRegistry {deployment.registry}, TestStarknetCore {deployment.core} "
        f"at block {blocks.genesis.block_number} (root {hex(blocks.genesis.root)})"
    )
    wiring = Wiring(
        data_dir=options.data_dir,
        node_url=node.url,
        l1_url=l1_url,
        operator_key=OPERATOR_KEY,
        verifier_key=VERIFIER_KEY,
        core_address=deployment.core,
        registry_address=deployment.registry,
        first_block=blocks.first,
        last_block=blocks.last,
        port=options.port,
    )
    write_description(options.data_dir / DESCRIPTION, wiring, api_url(options))
    env = orchestrator_env(wiring, os.environ)
    if options.profile == "aws":
        services = await start_aws_services(stack, say)
        stack.push_async_callback(write_jobs_summary, options.data_dir, services)
        processes = await start_aws_orchestrators(stack, aws_env(env, services), options.port, options.data_dir, say)
        return Started(processes, core, aws_database(services))
    log_file = options.data_dir / "orchestrator.log"
    await asyncio.to_thread(orchestrator_setup, env, log_file)
    orchestrator = await asyncio.to_thread(start_orchestrator, env, api_url(options), log_file)
    stack.callback(orchestrator.stop)
    say(f"orchestrator on {api_url(options)} (pid {orchestrator.pid}); data {options.data_dir}; log {log_file}")
    return Started([orchestrator], core, local_database)


def write_description(path: Path, wiring: Wiring, api: str) -> None:
    """What this run is made of, for tools and tests that look at it while or after it runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    description = {
        "l1_url": wiring.l1_url,
        "core_contract": wiring.core_address,
        "fact_registry": wiring.registry_address,
        "node_url": wiring.node_url,
        "orchestrator_url": api,
        "first_block": wiring.first_block,
        "last_block": wiring.last_block,
    }
    path.write_text(json.dumps(description, indent=2) + "\n")


def api_url(options: Options) -> str:
    return f"http://127.0.0.1:{options.port}"


def outcome(progress: Progress) -> int | None:
    """1 once a job is stuck (it halts the pipeline), 0 once every block is settled and every job done."""
    if progress.stuck:
        return 1
    if progress.reached and progress.all_completed:
        return 0
    return None


def final_line(result: int, progress: Progress, blocks: DevnetBlocks, log: Path) -> str:
    if result == 0:
        return f"settled {blocks.count} blocks up to {blocks.last}; every job Completed: {dict(progress.by_type)}"
    return f"a job failed, which halts the pipeline: {dict(progress.by_type)}; log {log}:\n{tail(log)}"


async def poll(api: OrchestratorApi, core: CoreContract | SettledOnStarknet, target: int) -> Progress | None:
    try:
        jobs, by_type = await api.counts()
        return Progress(await core.state_block_number(), target, jobs, by_type)
    except Exception as exc:  # noqa: BLE001 - a missed poll (any cause) is reported; the next one may work
        say(f"progress unavailable: {exc}")
        return None


@dataclass
class Watch:
    """What the watch loop sees: the sequencer's blocks, the settle times, and the person's view."""

    blocks: DevnetBlocks
    sequencer: Sequencer
    tracker: SettlementTracker
    view: View
    database: DatabaseClient
    #: every block settled and every job done (not a signal, a failure or the timeout)
    settled: bool = False

    async def show(self, progress: Progress) -> None:
        newly = self.tracker.observe(progress.settled, time.time())
        try:
            stages = await batch_stages(self.database, progress.settled, self.sequencer.head)
        except Exception as exc:  # noqa: BLE001 - the view misses one poll (any cause); the next one may work
            say(f"batch stages unavailable: {exc}")
            return
        jobs = ", ".join(f"{s.value} {n}" for s, n in sorted(progress.jobs.items()) if n) or "none yet"
        first, last = self.blocks.first, self.blocks.last
        snapshot = Snapshot(self.sequencer.head, progress.settled, first, last, stages, jobs, newly)
        self.view.update(snapshot, self.tracker)


async def watch(options: Options, blocks: DevnetBlocks, started: Started, stop: asyncio.Event) -> int:
    """Progress until a signal, or with --until-settled until done (0) or failed / timed out (1).

    The blocks are revealed by the sequencer meanwhile; with --until-settled the last line is the
    block→L1 latency of every settled block."""
    sequencer = Sequencer(blocks.chain, blocks.first, blocks.last, options.block_time)
    database = started.database
    await database.connect()
    api = OrchestratorApi(api_url(options))
    view = make_view(say, options.interval)
    state = Watch(blocks, sequencer, SettlementTracker(blocks.first, sequencer.produced), view, database)
    producing = asyncio.create_task(sequencer.run())
    try:
        result = await _watch_loop(options, state, api, started, stop)
    finally:
        producing.cancel()
        view.close()
        await api.close()
        await database.close()
        # each block's produced-on-L2 and settled-on-L1 times, for tools and benchmarks
        (options.data_dir / LATENCIES).write_text(json.dumps(state.tracker.record(), indent=1) + "\n")
    if options.until_settled and state.settled:
        print(state.tracker.line(), flush=True)
    return result


async def _watch_loop(
    options: Options,
    state: Watch,
    api: OrchestratorApi,
    started: Started,
    stop: asyncio.Event,
) -> int:
    blocks, core, orchestrator = state.blocks, started.settled, started.orchestrators[0]
    deadline = None if options.timeout is None else time.monotonic() + options.timeout
    announced = False
    while not stop.is_set():
        for process in started.orchestrators:
            if process.process is not None and process.process.poll() is not None:
                say(f"an orchestrator exited with {process.process.returncode}:\n{tail(process.log_path)}")
                return 1
        progress = await poll(api, core, blocks.last)
        if progress is not None:
            await state.show(progress)
            result = outcome(progress)
            if result is not None and not announced:
                say(final_line(result, progress, blocks, orchestrator.log_path))
                announced = True
            if options.until_settled and result is not None:
                state.settled = result == 0
                return result
        if deadline is not None and time.monotonic() > deadline:
            say(f"timed out after {options.timeout:.0f}s")
            return 1 if options.until_settled else 0
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=POLL_SECONDS)
    say("stopping")
    return 0


async def run(options: Options) -> int:
    try:
        blocks = devnet_blocks(options.fixtures, options.blocks)
    except (OSError, ValueError) as exc:
        say(f"error: {exc}")
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    say(f"settling blocks {blocks.first}..{blocks.last} ({blocks.count}) from {options.fixtures / RECORDING}")
    async with AsyncExitStack() as stack:
        try:
            started = await start(stack, options, blocks)
        except (ServiceStartError, SolcError, OSError, RuntimeError) as exc:
            say(f"could not start the devnet: {exc}")
            return 1
        return await watch(options, blocks, started, stop)


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
