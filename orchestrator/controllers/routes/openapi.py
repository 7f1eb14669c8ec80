"""OpenAPI 3.1 generated from the route table, and a self-contained page that renders it (`/docs`).

Nothing here is written by hand per route: parameters come from each route's pydantic parameter
model, responses from its data model and its error statuses.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from orchestrator.controllers.routes.table import Access, Route, is_list, path_fields

REF = "#/components/schemas/{model}"
TRACE_ID_SCHEMA = {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"}
TRACE_ID_PARAMETER = {
    "name": "x-trace-id",
    "in": "header",
    "required": False,
    "description": "32 hex characters; another value (or none) is replaced by a fresh id. Echoed in the answer.",
    "schema": {"type": "string"},
}
_REASONS = {
    400: "Invalid input",
    401: "No bearer token",
    403: "Wrong token, admin API disabled, or a refused origin",
    404: "Not found",
    408: "The request body did not arrive in time",
    409: "The job's state does not allow this",
    413: "Request body too large",
    415: "Request body is not JSON",
    429: "Priority queue full",
}


class _Schemas:
    """Collects component schemas; returns `$ref`s to them."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template=REF, mode="serialization")
        self.components.update(schema.pop("$defs", {}))
        self.components[model.__name__] = schema
        return {"$ref": REF.format(model=model.__name__)}

    def parameters(self, model: type[BaseModel]) -> list[dict[str, Any]]:
        schema = model.model_json_schema(ref_template=REF)
        self.components.update(schema.pop("$defs", {}))
        in_path = path_fields(model)
        params = []
        for name, info in model.model_fields.items():
            prop = _without_null(dict(schema["properties"][name]))
            description = prop.pop("description", info.description or "")
            prop.pop("in", None)
            param: dict[str, Any] = {
                "name": name,
                "in": "path" if name in in_path else "query",
                "required": name in in_path or info.is_required(),
                "schema": prop,
            }
            if description:
                param["description"] = description
            if is_list(info.annotation):
                param.update(style="form", explode=True)
            params.append(param)
        return params


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query string cannot carry a null: an optional parameter is simply left out."""
    options = [o for o in prop.get("anyOf", []) if o != {"type": "null"}]
    if "anyOf" in prop:
        del prop["anyOf"]
        if len(options) == 1:
            prop.update(options[0])
        else:
            prop["anyOf"] = options
    if prop.get("default", 0) is None:
        del prop["default"]
    return prop


def _envelope(data: dict[str, Any] | None) -> dict[str, Any]:
    properties: dict[str, Any] = {"success": {"type": "boolean"}, "message": {"type": "string"}}
    if data is not None:
        properties["data"] = data
    return {"type": "object", "properties": properties, "required": ["success"]}


def _operation(route: Route, schemas: _Schemas, error_ref: dict[str, Any]) -> dict[str, Any]:
    if route.content_type is not None:
        ok = {"description": "OK", "content": {route.content_type: {"schema": {"type": "string"}}}}
        if route.content_type == "application/json":
            ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    else:
        data = schemas.ref(route.data) if route.data is not None else None
        ok = {"description": "OK", "content": {"application/json": {"schema": _envelope(data)}}}
    responses: dict[str, Any] = {"200": ok}
    for status in route.error_statuses():
        responses[str(status)] = {
            "description": _REASONS.get(status, "Error"),
            "content": {"application/json": {"schema": error_ref}},
        }
    for response in responses.values():
        response["headers"] = {"x-trace-id": {"$ref": "#/components/headers/TraceId"}}
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": [*schemas.parameters(route.params), {"$ref": "#/components/parameters/TraceId"}],
        "responses": responses,
    }
    if route.description:
        op["description"] = route.description
    if route.deprecated:
        op["deprecated"] = True
    if route.access is Access.ADMIN:
        op["security"] = [{"bearer": []}]
    elif route.access is Access.READ:
        op["security"] = [{}, {"bearer": []}]
    return op


def build_openapi(routes: Sequence[Route], title: str, version: str) -> dict[str, Any]:
    schemas = _Schemas()
    error_ref = {
        "type": "object",
        "properties": {"success": {"const": False}, "message": {"type": "string"}},
        "required": ["success", "message"],
    }
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        for prefix in route.prefixes:
            op = _operation(route, schemas, error_ref)
            if prefix:
                op["operationId"] = "v1_" + op["operationId"]
            paths.setdefault(prefix + route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Responses are `{success, data?, message?}`; `x-trace-id` (32 hex) is accepted or made, "
            "and echoed. Admin routes need MADARA_ORCHESTRATOR_ADMIN_ENABLED and `Authorization: Bearer <token>`.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {"TraceId": TRACE_ID_PARAMETER},
            "headers": {"TraceId": {"description": "the request's trace id", "schema": TRACE_ID_SCHEMA}},
        },
    }


def render_docs(spec: dict[str, Any]) -> str:
    """A plain HTML page of the document (no scripts from a CDN: the page must work offline)."""
    rows = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            params = ", ".join(
                f"{p['name']} ({p['in']}{', required' if p['required'] else ''})"
                for p in op["parameters"]
                if "$ref" not in p
            )
            codes = ", ".join(op["responses"])
            auth = "token" if op.get("security") == [{"bearer": []}] else "open"
            flag = " <em>deprecated</em>" if op.get("deprecated") else ""
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code>{flag}</td>"
                f"<td>{html.escape(op['summary'])}</td><td>{html.escape(params)}</td><td>{codes}</td>"
                f"<td>{auth}</td></tr>"
            )
    document = html.escape(json.dumps(spec, indent=2))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(spec["info"]["title"])} API</title>
<style>body{{font:14px system-ui,sans-serif;margin:1.5em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}}
pre{{background:#f6f6f6;padding:1em;overflow:auto;max-height:40em}}</style></head>
<body><h1>{html.escape(spec["info"]["title"])} API {html.escape(spec["info"]["version"])}</h1>
<p>{html.escape(spec["info"]["description"])} The machine-readable document is at
<a href="/openapi.json">/openapi.json</a> (OpenAPI {spec["openapi"]}).</p>
<table><thead><tr><th>method</th><th>path</th><th>what</th><th>parameters</th><th>statuses</th><th>auth</th></tr>
</thead><tbody>{"".join(rows)}</tbody></table>
<h2>Document</h2><pre>{document}</pre></body></html>"""
