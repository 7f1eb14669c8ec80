"""`python -m infra.devnet --profile aws`: the devnet in the shape operators deploy.

The L1 and L2 sides are the local devnet's (anvil with the test core contract, the recorded Madara
node); the orchestrator runs on the aws profile instead: the devnet starts LocalStack (S3, SQS, SNS,
EventBridge, IAM) and the MongoDB-compatible server through the test launchers (infra/launch), runs
`orchestrator setup` (queues with dead-letter redrive, the bucket, the topic, one EventBridge rule per
trigger delivering its name into the trigger queue) and then TWO `orchestrator run` processes that
share the database and queues. Every periodic trigger reaches them through EventBridge: nothing in
the processes fires one (EventBridge rules fire at most once a minute).

The aws profile refuses in-process stand-ins, so the OS and the aggregator run as the command
runners run programs: `python -m infra.devnet.os_command` and `python -m infra.devnet.aggregator_command`,
the devnet stand-ins behind the runners' contracts.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
import uuid
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from infra.devnet.env import PREFIX
from infra.devnet.processes import LoggedProcess, orchestrator_setup, start_orchestrator
from infra.launch.base import free_port
from infra.launch.localstack import start_localstack
from infra.launch.mongo import start_mongo
from orchestrator.clients.database.mongodb import MongoDatabaseClient
from orchestrator.core.clients.database import SnosBatchQuery

REGION = "us-east-1"
#: LocalStack takes any credentials; these never reach AWS.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "devnet", "AWS_SECRET_ACCESS_KEY": "devnet"}
AWS_PREFIX = "devnet"
#: The shortest period an EventBridge rate rule has.
TRIGGER_INTERVAL_SECONDS = 60
PROCESSES = 2
_PYTHON = shlex.quote(sys.executable)
OS_COMMAND = (
    f"{_PYTHON} -m infra.devnet.os_command --rpc-url {{rpc_url}} --blocks {{start_block}} {{end_block}} "
    "--full-output {full_output} --output {output_dir}"
)
#: {rpc_url} is not a runner field: the devnet fills in its node's URL (see `aggregator_command`).
AGGREGATOR_COMMAND = (
    f"{_PYTHON} -m infra.devnet.aggregator_command --rpc-url {{rpc_url}} --batch {{{{batch_index}}}} "
    "--blocks {{start_block}} {{end_block}} --input {{input_dir}} --output {{output_dir}}"
)
#: Written into the data directory when the run ends (the database goes with the devnet).
JOBS_SUMMARY = "jobs.json"


@dataclass
class AwsServices:
    endpoint: str
    mongo_url: str
    #: fresh per run: with MONGODB_URL the server outlives the run (LocalStack never does)
    database_name: str


async def start_aws_services(stack: AsyncExitStack, say: Callable[[str], None]) -> AwsServices:
    """LocalStack and the MongoDB-compatible server, each stopped by `stack` (by PID)."""
    localstack = await asyncio.to_thread(start_localstack, name="devnet-localstack")
    stack.callback(localstack.stop)
    say(f"LocalStack on {localstack.endpoint} (pid {localstack.process.pid})")
    mongo = await asyncio.to_thread(start_mongo, name="devnet-mongo")
    stack.callback(mongo.stop)
    pid = mongo.process.pid if mongo.process is not None else "external, MONGODB_URL"
    say(f"MongoDB-compatible server on {mongo.url} (pid {pid})")
    return AwsServices(localstack.endpoint, mongo.url, f"devnet_{uuid.uuid4().hex[:12]}")


def aws_env(local_env: Mapping[str, str], services: AwsServices) -> dict[str, str]:
    """The devnet's local-profile environment moved onto the aws profile (its wiring wins)."""
    env = dict(local_env)
    env.update(
        {"AWS_ENDPOINT_URL": services.endpoint, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, **CREDENTIALS}
    )
    wired = {
        "PROFILE": "aws",
        "AWS_PREFIX": AWS_PREFIX,
        "MONGODB_CONNECTION_URL": services.mongo_url,
        "DATABASE_NAME": services.database_name,
        "EVENT_BRIDGE_TYPE": "rule",
        "EVENT_BRIDGE_INTERVAL_SECONDS": str(TRIGGER_INTERVAL_SECONDS),
        "SNOS_RUNNER": "command",
        "SNOS_COMMAND": OS_COMMAND,
        "AGGREGATOR_RUNNER": "command",
        "AGGREGATOR_COMMAND": AGGREGATOR_COMMAND.format(rpc_url=local_env[PREFIX + "MADARA_RPC_URL"]),
    }
    env.update({PREFIX + name: value for name, value in wired.items()})
    for name in wired:
        if PREFIX + name + "_FILE" in env:
            env[PREFIX + name + "_FILE"] = ""
    return env


def aws_setup(env: Mapping[str, str], log_file: Path) -> None:
    """`orchestrator setup --profile aws` (rule mode; the profile is in `env`): the resources both processes share."""
    orchestrator_setup(env, log_file, ("--event-bridge-type", "rule"), timeout=300)


async def start_aws_orchestrators(
    stack: AsyncExitStack, env: Mapping[str, str], first_port: int, data_dir: Path, say: Callable[[str], None]
) -> list[LoggedProcess]:
    """setup, then PROCESSES `orchestrator run` processes; the first serves on `first_port`."""
    await asyncio.to_thread(aws_setup, env, data_dir / "setup.log")
    say(f"orchestrator setup --profile aws: EventBridge rules every {TRIGGER_INTERVAL_SECONDS}s into the trigger queue")
    processes = []
    for n in range(PROCESSES):
        port = first_port if n == 0 else free_port()
        api = f"http://127.0.0.1:{port}"
        log_file = data_dir / f"orchestrator-{n + 1}.log"
        process = await asyncio.to_thread(start_orchestrator, {**env, PREFIX + "PORT": str(port)}, api, log_file)
        stack.callback(process.stop)
        say(f"orchestrator {n + 1} (aws profile) on {api} (pid {process.pid}); log {log_file}")
        processes.append(process)
    return processes


def aws_database(services: AwsServices) -> MongoDatabaseClient:
    """The orchestrators' database, for the devnet's view (connect and close it)."""
    return MongoDatabaseClient(services.mongo_url, services.database_name)


async def write_jobs_summary(data_dir: Path, services: AwsServices) -> None:
    """Every job (type, internal id, status) and SNOS batch count, read before the database stops."""
    database = aws_database(services)
    try:
        await database.connect()
        jobs = await database.get_jobs_by_types_and_statuses([], [])
        batches = await database.get_snos_batches(SnosBatchQuery())
    except Exception as exc:  # noqa: BLE001 - the run's outcome was reported already; this is a record of it
        (data_dir / JOBS_SUMMARY).write_text(json.dumps({"error": str(exc)}) + "\n")
        return
    finally:
        await database.close()
    summary = {
        "jobs": sorted([j.job_type.value, j.internal_id, j.status.value] for j in jobs),
        "snos_batches": len(batches),
    }
    (data_dir / JOBS_SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
