"""`orchestrator run` with a job handler that records each side effect in a file.

Used by the multi-process tests: the same serve() path as the CLI, with the SnosRun handler replaced
by one that appends "<internal_id> <pid>" to $COUNTING_EFFECTS_FILE when it processes a job. With
$COUNTING_SLOW_IDS (comma-separated internal ids), those jobs sleep for $COUNTING_SLOW_SECONDS first;
with $COUNTING_FAIL_IDS, those jobs' processing always raises.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field

from orchestrator.config import load_settings
from orchestrator.controllers.cli.logs import configure_logging
from orchestrator.controllers.cli.run import serve
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.services.job.handler import Verification


def _ids(name: str) -> set[int]:
    return {int(x) for x in os.environ.get(name, "").split(",") if x.strip()}


@dataclass
class CountingHandler:
    effects_file: str
    slow_ids: set[int] = field(default_factory=set)
    slow_seconds: float = 0.0
    fail_ids: set[int] = field(default_factory=set)
    job_type: JobType = JobType.SNOS_RUN
    max_process_attempts: int = 1
    max_verification_attempts: int = 3
    verification_polling_delay_seconds: int = 0

    async def check_ready_to_process(self, job: JobItem) -> int | None:
        return None

    async def process_job(self, job: JobItem) -> str | int:
        if job.internal_id in self.fail_ids:
            raise RuntimeError(f"handler always fails for {job.internal_id}")
        if job.internal_id in self.slow_ids:
            await asyncio.sleep(self.slow_seconds)
        # O_APPEND writes of one short line are atomic, so two processes never interleave a line.
        fd = os.open(self.effects_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{job.internal_id} {os.getpid()}\n".encode())
        finally:
            os.close(fd)
        return job.internal_id

    async def verify_job(self, job: JobItem) -> Verification:
        return Verification.verified()


def handler_from_env() -> CountingHandler:
    return CountingHandler(
        effects_file=os.environ["COUNTING_EFFECTS_FILE"],
        slow_ids=_ids("COUNTING_SLOW_IDS"),
        slow_seconds=float(os.environ.get("COUNTING_SLOW_SECONDS", "0")),
        fail_ids=_ids("COUNTING_FAIL_IDS"),
    )


def main() -> None:
    settings = load_settings(env_file=None)
    configure_logging(settings.general.log_level, settings.general.log_format)
    asyncio.run(serve(settings, handlers={JobType.SNOS_RUN: handler_from_env()}))


if __name__ == "__main__":
    main()
