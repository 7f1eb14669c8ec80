"""Periodic triggers on Amazon EventBridge: one rule or one Scheduler schedule per trigger, each
delivering the trigger's name to the worker-trigger queue. AWS fires them, so start/shutdown do
nothing here; `orchestrator setup` creates them through `ensure_schedule`.

Two modes, as the reference:
- rule: PutRule with a rate expression, then PutTargets to the queue with the trigger name as the
  input (the queue policy set by setup lets events.amazonaws.com send to it);
- schedule: CreateSchedule targeting the queue through an IAM role that may send to it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any, Literal

from orchestrator.clients.aws_connection import AwsConnection, error_code, translate
from orchestrator.clients.aws_names import AwsNames, rate_expression
from orchestrator.core.errors import ConfigError
from orchestrator.core.models.queue import WorkerTrigger

EventBridgeMode = Literal["rule", "schedule"]
#: The id of the one target each rule has (fixed, so PutTargets is idempotent).
TARGET_ID = "worker-trigger-queue"
SCHEDULE_GROUP = "default"
_NOT_FOUND = frozenset({"ResourceNotFoundException"})

EnsureResult = Literal["created", "present", "updated"]


def _rule_target(queue_arn: str, trigger: WorkerTrigger) -> dict[str, Any]:
    # An input transformer, as the reference, whose template is the trigger name as a JSON string
    # literal (the trigger parser strips the quotes). A plain `Input` string is not delivered by
    # LocalStack, and a bare (unquoted) template is mangled by it.
    return {
        "Id": TARGET_ID,
        "Arn": queue_arn,
        "InputTransformer": {"InputPathsMap": {}, "InputTemplate": json.dumps(trigger.value)},
    }


def _is_our_target(target: dict[str, Any], queue_arn: str, trigger: WorkerTrigger) -> bool:
    template = target.get("InputTransformer", {}).get("InputTemplate")
    return target.get("Id") == TARGET_ID and target.get("Arn") == queue_arn and template == json.dumps(trigger.value)


class EventBridgeCronClient:
    def __init__(
        self,
        connection: AwsConnection,
        names: AwsNames,
        mode: EventBridgeMode,
        queue_arn: str,
        role_arn: str | None = None,
    ) -> None:
        if mode not in ("rule", "schedule"):
            raise ConfigError(f"event bridge type must be rule or schedule, got {mode!r}")
        if mode == "schedule" and not role_arn:
            raise ConfigError("a Scheduler schedule needs an IAM role ARN to send to the queue")
        self._connection = connection
        self._names = names
        self._mode: EventBridgeMode = mode
        self._queue_arn = queue_arn
        self._role_arn = role_arn
        self._stack: AsyncExitStack | None = None
        self._client_obj: Any = None
        self._open_lock = asyncio.Lock()

    @property
    def mode(self) -> EventBridgeMode:
        return self._mode

    async def _client(self) -> Any:
        if self._client_obj is None:
            async with self._open_lock:
                if self._client_obj is None:
                    stack = AsyncExitStack()
                    service = "events" if self._mode == "rule" else "scheduler"
                    self._client_obj = await stack.enter_async_context(self._connection.client(service))
                    self._stack = stack
        return self._client_obj

    async def start(self) -> None:
        """Nothing to do: AWS fires the rules and schedules."""

    async def shutdown(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = None
        self._client_obj = None

    async def ensure_schedules(self, triggers: Sequence[WorkerTrigger], interval_seconds: int) -> None:
        for trigger in triggers:
            await self.ensure_schedule(trigger, interval_seconds)

    async def ensure_schedule(self, trigger: WorkerTrigger, interval_seconds: int) -> EnsureResult:
        """Create the trigger's rule or schedule unless it exists; repair a rule's missing target."""
        expression = rate_expression(interval_seconds)
        name = self._names.trigger_rule(trigger)
        try:
            if self._mode == "rule":
                return await self._ensure_rule(name, trigger, expression)
            return await self._ensure_schedule(name, trigger, expression)
        except ConfigError:
            raise
        except Exception as exc:
            raise translate(exc, self._connection, f"EventBridge {self._mode} {name}") from exc

    async def _ensure_rule(self, name: str, trigger: WorkerTrigger, expression: str) -> EnsureResult:
        events = await self._client()
        result: EnsureResult
        current = await self._describe(name)
        if current is None:
            await events.put_rule(Name=name, ScheduleExpression=expression, State="ENABLED")
            result = "created"
        else:
            if current.get("ScheduleExpression") != expression or current.get("State") != "ENABLED":
                await events.put_rule(Name=name, ScheduleExpression=expression, State="ENABLED")
                result = "updated"
            else:
                result = "present"
            targets = (await events.list_targets_by_rule(Rule=name)).get("Targets", [])
            if any(_is_our_target(t, self._queue_arn, trigger) for t in targets):
                return result
            result = "updated"
        await events.put_targets(Rule=name, Targets=[_rule_target(self._queue_arn, trigger)])
        return result

    async def _ensure_schedule(self, name: str, trigger: WorkerTrigger, expression: str) -> EnsureResult:
        scheduler = await self._client()
        target = {"Arn": self._queue_arn, "RoleArn": self._role_arn, "Input": trigger.value}
        spec: dict[str, Any] = {
            "Name": name,
            "GroupName": SCHEDULE_GROUP,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": target,
        }
        current = await self._describe(name)
        if current is None:
            await scheduler.create_schedule(**spec)
            return "created"
        current_target = current.get("Target", {})
        if (
            current.get("ScheduleExpression") == expression
            and current.get("State") == "ENABLED"
            and all(current_target.get(k) == v for k, v in target.items())
        ):
            return "present"
        await scheduler.update_schedule(**spec)
        return "updated"

    async def _describe(self, name: str) -> dict[str, Any] | None:
        client = await self._client()
        try:
            if self._mode == "rule":
                return dict(await client.describe_rule(Name=name))
            return dict(await client.get_schedule(Name=name, GroupName=SCHEDULE_GROUP))
        except Exception as exc:
            if error_code(exc) in _NOT_FOUND:
                return None
            raise

    async def describe(self, trigger: WorkerTrigger) -> dict[str, Any] | None:
        """The rule or schedule of a trigger as AWS reports it; None when absent."""
        name = self._names.trigger_rule(trigger)
        try:
            return await self._describe(name)
        except Exception as exc:
            raise translate(exc, self._connection, f"EventBridge describe {name}") from exc

    async def list_schedules(self) -> list[WorkerTrigger]:
        client = await self._client()
        prefix = self._names.trigger_rule_prefix
        by_name = {self._names.trigger_rule(t): t for t in WorkerTrigger}
        names: list[str] = []
        try:
            if self._mode == "rule":
                paginator = client.get_paginator("list_rules")
                async for page in paginator.paginate(NamePrefix=prefix):
                    names.extend(rule["Name"] for rule in page.get("Rules", []))
            else:
                paginator = client.get_paginator("list_schedules")
                async for page in paginator.paginate(NamePrefix=prefix, GroupName=SCHEDULE_GROUP):
                    names.extend(s["Name"] for s in page.get("Schedules", []))
        except Exception as exc:
            raise translate(exc, self._connection, f"EventBridge list {self._mode}s") from exc
        return sorted((by_name[n] for n in names if n in by_name), key=lambda t: t.value)
