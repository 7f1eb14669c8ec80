"""Operator alerts on an Amazon SNS topic (plain-text Publish, as the reference).

The topic is created by `orchestrator setup`; given only a name, the client finds its ARN once
with ListTopics (topics have no name lookup call).
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from orchestrator.clients.aws_connection import AwsConnection, error_code, translate
from orchestrator.core.errors import NotFoundError

#: SNS limits a subject to 100 characters.
MAX_SUBJECT = 100


class SnsAlertClient:
    def __init__(self, connection: AwsConnection, topic_name: str, topic_arn: str | None = None) -> None:
        self._connection = connection
        self._name = topic_name
        self._arn = topic_arn
        self._stack: AsyncExitStack | None = None
        self._sns: Any = None
        self._open_lock = asyncio.Lock()

    async def _client(self) -> Any:
        if self._sns is None:
            async with self._open_lock:
                if self._sns is None:
                    stack = AsyncExitStack()
                    self._sns = await stack.enter_async_context(self._connection.client("sns"))
                    self._stack = stack
        return self._sns

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = None
        self._sns = None

    async def topic_arn(self) -> str:
        if self._arn is None:
            self._arn = await find_topic_arn(await self._client(), self._connection, self._name)
            if self._arn is None:
                raise NotFoundError(f"SNS topic {self._name} does not exist")
        return self._arn

    async def send_message(self, message: str) -> None:
        arn = await self.topic_arn()
        sns = await self._client()
        subject = message.splitlines()[0][:MAX_SUBJECT] if message else "orchestrator alert"
        try:
            await sns.publish(TopicArn=arn, Message=message, Subject=_printable(subject) or "orchestrator alert")
        except Exception as exc:
            raise translate(exc, self._connection, f"SNS Publish {self._name}") from exc

    async def health_check(self) -> None:
        arn = await self.topic_arn()
        sns = await self._client()
        try:
            await sns.get_topic_attributes(TopicArn=arn)
        except Exception as exc:
            if error_code(exc) == "NotFound":
                self._arn = None
                raise NotFoundError(f"SNS topic {self._name} does not exist") from exc
            raise translate(exc, self._connection, f"SNS GetTopicAttributes {self._name}") from exc


def _printable(text: str) -> str:
    # A subject must be ASCII text without line breaks or control characters.
    return "".join(ch for ch in text if 32 <= ord(ch) < 127).strip()


async def find_topic_arn(sns: Any, connection: AwsConnection, name: str) -> str | None:
    """The ARN of the topic named `name`, scanning ListTopics pages; None when absent."""
    try:
        paginator = sns.get_paginator("list_topics")
        async for page in paginator.paginate():
            for topic in page.get("Topics", []):
                arn = str(topic["TopicArn"])
                if arn.rsplit(":", 1)[-1] == name:
                    return arn
    except Exception as exc:
        raise translate(exc, connection, f"SNS ListTopics (looking for {name})") from exc
    return None
