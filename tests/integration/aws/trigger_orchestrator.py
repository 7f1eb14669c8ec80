"""`orchestrator run` whose triggers record that they ran: "<trigger> <pid>" lines appended to
$TRIGGER_EFFECTS_FILE. The job handlers are the counting ones of tests/e2e (no external systems)."""

from __future__ import annotations

import asyncio
import os

from orchestrator.config import load_settings
from orchestrator.controllers.cli.logs import configure_logging
from orchestrator.controllers.cli.run import serve
from orchestrator.core.models.job import JobType
from orchestrator.core.models.queue import LAYER_TRIGGERS, WorkerTrigger
from orchestrator.services.job.triggers import TriggerFn
from tests.e2e.counting_orchestrator import handler_from_env


def recorder(trigger: WorkerTrigger, path: str) -> TriggerFn:
    async def run() -> None:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{trigger.value} {os.getpid()}\n".encode())
        finally:
            os.close(fd)

    return run


def main() -> None:
    settings = load_settings(env_file=None)
    configure_logging(settings.general.log_level, settings.general.log_format)
    path = os.environ["TRIGGER_EFFECTS_FILE"]
    triggers = {t: recorder(t, path) for t in LAYER_TRIGGERS[settings.general.layer]}
    asyncio.run(serve(settings, handlers={JobType.SNOS_RUN: handler_from_env()}, triggers=triggers))


if __name__ == "__main__":
    main()
