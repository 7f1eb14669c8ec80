"""The chaos devnet on the aws profile (scenario 7): LocalStack and the MongoDB-compatible server.

Built from the aws devnet's modules (infra/devnet/aws.py): the same environment, `orchestrator setup`
in rule mode (EventBridge rules deliver the triggers, at most once a minute) and the command runners
for the OS and the aggregator. Differences: the MongoDB server keeps its data in a file (so a restart
loses nothing, as a real MongoDB's would), and both can be faulted: LocalStack frozen with SIGSTOP
(its endpoints hang instead of refusing), the MongoDB server stopped and started again on its port.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from infra.devnet.aws import AwsServices, aws_env, aws_setup
from infra.launch.base import ServiceProcess
from infra.launch.localstack import LocalStack, start_localstack
from infra.launch.mongo import VENV, _ping, ensure_installed
from orchestrator.clients.database.mongodb import MongoDatabaseClient
from orchestrator.core.models.job import JobItem
from tests.chaos.devnet import ChaosDevnet

DATABASE_NAME = "chaos"


def file_mongo(port: int, db_file: Path, name: str) -> ServiceProcess:
    """nx-27017 on a file database: the data survives a restart on the same file and port."""
    ensure_installed()
    url = f"mongodb://127.0.0.1:{port}"
    argv = [str(VENV / "bin" / "nx-27017"), "--db", str(db_file), "--host", "127.0.0.1", "-p", str(port)]
    return ServiceProcess(name=name, argv=argv, ready=lambda: _ping(url), start_timeout=60.0)


class AwsChaosDevnet(ChaosDevnet):
    localstack: LocalStack | None = None
    mongo: ServiceProcess | None = None
    mongo_port = 0

    @property
    def mongo_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}"

    async def _setup_orchestrator(self) -> None:
        """Instead of the local profile's setup: the AWS services, the aws environment, setup in rule mode."""
        from infra.launch.base import free_port

        self.localstack = await asyncio.to_thread(start_localstack, name="chaos-localstack")
        self.mongo_port = free_port()
        self.mongo = await asyncio.to_thread(self._start_mongo)
        self.env = aws_env(self.env, AwsServices(self.localstack.endpoint, self.mongo_url, DATABASE_NAME))
        await asyncio.to_thread(aws_setup, self.env, self.data_dir / "setup.log")

    def _start_mongo(self) -> ServiceProcess:
        name = f"chaos-mongo-{self.mongo_port}"
        return file_mongo(self.mongo_port, self.data_dir / "mongo.sqlite3", name).start()

    async def restart_mongo(self) -> None:
        assert self.mongo is not None
        await asyncio.to_thread(self.mongo.stop)
        self.mongo = await asyncio.to_thread(self._start_mongo)

    async def freeze_localstack(self, seconds: float) -> None:
        """SIGSTOP the whole LocalStack process group for `seconds`, then SIGCONT: requests hang meanwhile."""
        assert self.localstack is not None and self.localstack.process.process is not None
        group = self.localstack.process.process.pid
        os.killpg(group, signal.SIGSTOP)
        try:
            await asyncio.sleep(seconds)  # the fault's duration
        finally:
            os.killpg(group, signal.SIGCONT)

    async def jobs(self) -> list[JobItem]:
        db = MongoDatabaseClient(self.mongo_url, DATABASE_NAME)
        await db.connect()
        try:
            return await db.get_jobs_by_types_and_statuses([], [])
        finally:
            await db.close()

    async def close(self) -> None:
        await super().close()
        if self.localstack is not None:
            if self.localstack.process.process is not None and self.localstack.process.process.poll() is None:
                os.killpg(self.localstack.process.process.pid, signal.SIGCONT)  # a stopped process cannot exit
            await asyncio.to_thread(self.localstack.stop)
        if self.mongo is not None:
            await asyncio.to_thread(self.mongo.stop)
