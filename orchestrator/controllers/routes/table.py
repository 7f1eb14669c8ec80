"""The route table: one `Route` per operation, from which both the aiohttp routes and the OpenAPI
document are built, so the two cannot drift apart.

A route's parameters are one pydantic model (path fields marked `in: path`, the rest from the
query string); the handler receives the validated model. Invalid input is a 400 with a message
naming the parameter, never a 500.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from orchestrator.controllers.routes.envelope import ApiError

PREFIXES = ("", "/api/v1")


class Access(StrEnum):
    OPEN = "open"  # anyone
    READ = "read"  # anyone, unless MADARA_ORCHESTRATOR_API_TOKEN_REQUIRED=true
    ADMIN = "admin"  # ADMIN_ENABLED and an admin token; audited


class NoParams(BaseModel):
    pass


RouteHandler = Callable[[web.Request, Any], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: RouteHandler
    summary: str
    access: Access
    params: type[BaseModel] = NoParams
    #: the model of the envelope's `data`; None: the envelope has no data
    data: type[BaseModel] | None = None
    #: error statuses this route may answer besides the ones its access and params imply
    errors: tuple[int, ...] = ()
    #: a non-envelope answer of this content type (HTML, Prometheus text, the OpenAPI document)
    content_type: str | None = None
    deprecated: bool = False
    description: str = ""
    tag: str = "jobs"
    prefixes: tuple[str, ...] = PREFIXES
    #: registered at the root by another module (e.g. `health.py`); the table adds its prefixed forms
    external: bool = False

    @property
    def operation_id(self) -> str:
        words = [w.strip("{}") for w in self.path.split("/") if w]
        return "_".join([self.method.lower(), *words]).replace("-", "_") or "root"

    def error_statuses(self) -> list[int]:
        statuses = set(self.errors)
        if self.params.model_fields:
            statuses.add(400)
        if self.access is not Access.OPEN:
            statuses.update((401, 403))
        if self.method == "POST":
            statuses.update((400, 408, 413, 415))
        return sorted(statuses)


def path_fields(model: type[BaseModel]) -> set[str]:
    return {
        name
        for name, field in model.model_fields.items()
        if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("in") == "path"
    }


def is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(is_list(a) for a in typing.get_args(annotation))
    return typing.get_origin(annotation) is list


def _message(exc: ValidationError, raw: dict[str, Any]) -> str:
    first = exc.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else "query"
    if name == "id":
        return f"Invalid job ID: {raw.get('id', '')}"
    return f"Invalid query: {name}: {first['msg']}"


def bind(model: type[BaseModel], request: web.Request) -> BaseModel:
    """The route's parameters from the path and the query string, validated (400 on any problem)."""
    raw: dict[str, Any] = {}
    in_path = path_fields(model)
    for name, info in model.model_fields.items():
        if name in in_path:
            raw[name] = request.match_info.get(name)
        elif is_list(info.annotation):
            values = request.query.getall(name, [])
            if values:
                raw[name] = values
        elif name in request.query:
            raw[name] = request.query[name]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(400, _message(exc, raw)) from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ApiError(400, f"Invalid query: {exc}") from None
