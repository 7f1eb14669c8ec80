"""JSON-RPC transport edge cases and chain id decoding, against tiny loopback servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from orchestrator.clients.node.jsonrpc import JsonRpcClient, JsonRpcError, RpcCall
from orchestrator.clients.node.madara import MadaraNodeClient, decode_chain_id
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.madara.node import L2NodeError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}/"

    yield start
    for runner in runners:
        await runner.cleanup()


def test_decode_chain_id() -> None:
    assert decode_chain_id("0x534e5f4d41494e") == "SN_MAIN"
    assert decode_chain_id("534e5f5345504f4c4941") == "SN_SEPOLIA"
    with pytest.raises(L2NodeError, match="not hex-encoded ASCII"):
        decode_chain_id("0xzz")


def test_bad_batch_settings() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MadaraNodeClient("http://127.0.0.1:9", batch_size=0)


async def test_invalid_json_is_a_node_error(serve: Callable[[Handler], Awaitable[str]]) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="<html>oops</html>")

    rpc = JsonRpcClient(await serve(handler), timeout_seconds=5)
    try:
        with pytest.raises(L2NodeError, match="invalid JSON"):
            await rpc.call("starknet_blockNumber")
    finally:
        await rpc.close()


@pytest.mark.parametrize(
    ("status", "error"), [(503, ServiceUnavailableError), (429, ServiceUnavailableError), (401, L2NodeError)]
)
async def test_http_status_mapping(
    serve: Callable[[Handler], Awaitable[str]], status: int, error: type[Exception]
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, text="nope")

    rpc = JsonRpcClient(await serve(handler), timeout_seconds=5)
    try:
        with pytest.raises(error, match=str(status)):
            await rpc.call("starknet_blockNumber")
    finally:
        await rpc.close()


async def test_batch_answers_are_matched_by_id(serve: Callable[[Handler], Awaitable[str]]) -> None:
    async def handler(request: web.Request) -> web.Response:
        calls = await request.json()
        # answered out of order, one with an error
        answers = [
            {"jsonrpc": "2.0", "id": c["id"], "result": c["params"][0]}
            if c["params"][0] != "bad"
            else {"jsonrpc": "2.0", "id": c["id"], "error": {"code": 20, "message": "Contract not found"}}
            for c in calls
        ]
        return web.json_response(list(reversed(answers)))

    rpc = JsonRpcClient(await serve(handler), timeout_seconds=5)
    try:
        results = await rpc.batch([RpcCall("m", ["a"]), RpcCall("m", ["bad"]), RpcCall("m", ["c"])])
        assert results[0] == "a" and results[2] == "c"
        assert isinstance(results[1], JsonRpcError) and results[1].code == 20
    finally:
        await rpc.close()


async def test_batch_with_a_missing_answer_is_an_error(serve: Callable[[Handler], Awaitable[str]]) -> None:
    async def handler(request: web.Request) -> web.Response:
        calls = await request.json()
        return web.json_response([{"jsonrpc": "2.0", "id": calls[0]["id"], "result": 1}])

    rpc = JsonRpcClient(await serve(handler), timeout_seconds=5)
    try:
        with pytest.raises(L2NodeError, match="no answer for request id"):
            await rpc.batch([RpcCall("m", []), RpcCall("m", [])])
    finally:
        await rpc.close()


async def test_unreachable_node_is_unavailable() -> None:
    rpc = JsonRpcClient("http://127.0.0.1:9/", timeout_seconds=2)
    try:
        with pytest.raises(ServiceUnavailableError):
            await rpc.call("starknet_chainId")
    finally:
        await rpc.close()
