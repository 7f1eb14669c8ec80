"""A stand-in Madara node serving recorded chain data: JSON-RPC (single and batch) and the feeder gateway.

The devnet runs it as its L2 node; tests use it (through `tests.doubles.madara_node`) as a Madara double.

Data: recorded `starknet_getStateUpdate` results, each placed at a block number. The fixture layout
(`tests/fixtures` or `../shared/fixtures`) gives:
- `batch/9662264/state_updates.json`: 1000 consecutive Starknet Sepolia blocks, 2935726..2936725;
- `da/state_update/N.json` (+ `da/nonces/N.json`): single blocks N (mainnet 631861, appchain 178).

What is served and how it is derived:
- `starknet_getStateUpdate`: the recording as is; a block at or above `pre_confirmed_from` is served
  pre-confirmed (no block_hash / roots), as Madara does for the block being built.
- `starknet_getBlockWithTxHashes`: a header built from the recording (hash, parent hash = the
  previous recorded block's hash, new root, the configured Starknet version, no transactions).
- `starknet_getStorageAt` / `getNonce` / `getClassHashAt` at block N: the last value written at or
  before N by the recorded state diffs (nonces also from the nonces files), else the `base` state
  (for the fixtures: contract 0x2's aliases assigned before the recording, see `recorded_base`),
  else 0 (storage, nonce) or error 20 ContractNotFound (class hash).
- `/feeder_gateway/get_block_bouncer_weights`: weights derived from the state diff (its size; one
  transaction per nonce bump), since the recordings carry no bouncer weights.
- the chain head (`starknet_blockNumber`) is the highest recorded block unless `latest` caps it;
  blocks above the head do not exist (error 24).

In-process: `async with RecordedMadaraNode(chain) as node: node.url`.
As a process: `python -m infra.devnet.recorded_node --port N --data tests/fixtures`; it prints
`listening on http://HOST:PORT` once ready and stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from infra.devnet.recorded_base import as_int
from infra.devnet.recorded_chain import (
    CONTRACT_NOT_FOUND,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    SEPOLIA_CHAIN_ID,
    RecordedChain,
    RpcFailure,
    load_fixture_chain,
)
from infra.devnet.server import DoubleServer

# -- the server ----------------------------------------------------------------------------------


class RecordedMadaraNode(DoubleServer):
    def __init__(self, chain: RecordedChain) -> None:
        super().__init__()
        self.chain = chain
        self.rpc_methods: list[str] = []  # every JSON-RPC method called, batch members included
        self.delay_seconds = 0.0  # answer JSON-RPC requests this late (timeout tests)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/", self._rpc),
            web.post("/rpc", self._rpc),
            web.post("/rpc/{version}", self._rpc),
            web.get("/feeder_gateway/get_contract_addresses", self._contract_addresses),
            web.get("/feeder_gateway/get_block_bouncer_weights", self._bouncer_weights),
        ]

    async def __aenter__(self) -> RecordedMadaraNode:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # JSON-RPC

    async def _rpc(self, request: web.Request) -> web.Response:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        try:
            payload = await request.json()
        except json.JSONDecodeError:
            return web.json_response(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}}
            )
        if isinstance(payload, list):
            if not payload:
                return web.json_response(
                    {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid Request"}}
                )
            return web.json_response([self._answer(item) for item in payload])
        return web.json_response(self._answer(payload))

    def _answer(self, item: Any) -> dict[str, Any]:
        request_id = item.get("id") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict) or not isinstance(item.get("method"), str):
                raise RpcFailure((-32600, "Invalid Request"))
            self.rpc_methods.append(item["method"])
            result = self._dispatch(item["method"], item.get("params", []))
        except RpcFailure as failure:
            error: dict[str, Any] = {"code": failure.code, "message": failure.message}
            if failure.data is not None:
                error["data"] = failure.data
            return {"jsonrpc": "2.0", "id": request_id, "error": error}
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    def _dispatch(self, method: str, params: Any) -> Any:
        chain = self.chain
        args = _params(method, params)
        match method:
            case "starknet_specVersion":
                return "0.8.1"
            case "starknet_chainId":
                return "0x" + chain.chain_id.encode("ascii").hex()
            case "starknet_blockNumber":
                return chain.head
            case "starknet_blockHashAndNumber":
                head = chain.blocks[chain.head]
                return {"block_hash": head.state_update.get("block_hash", "0x0"), "block_number": head.number}
            case "starknet_getBlockWithTxHashes":
                return chain.header(chain.block(args("block_id")))
            case "starknet_getStateUpdate":
                return chain.state_update(chain.block(args("block_id")))
            case "starknet_getNonce":
                block = chain.block(args("block_id"))
                return hex(chain.nonce_at(_felt_param(args("contract_address")), block.number))
            case "starknet_getStorageAt":
                block = chain.block(args("block_id"))
                address, key = _felt_param(args("contract_address")), _felt_param(args("key"))
                return hex(chain.storage_at(address, key, block.number))
            case "starknet_getClassHashAt":
                block = chain.block(args("block_id"))
                class_hash = chain.class_hash_at(_felt_param(args("contract_address")), block.number)
                if class_hash is None:
                    raise RpcFailure(CONTRACT_NOT_FOUND)
                return hex(class_hash)
        raise RpcFailure(METHOD_NOT_FOUND, method)

    # feeder gateway

    async def _contract_addresses(self, request: web.Request) -> web.Response:
        return web.json_response(self.chain.contract_addresses)

    async def _bouncer_weights(self, request: web.Request) -> web.Response:
        raw = request.query.get("blockNumber")
        try:
            number = int(raw) if raw is not None else self.chain.head
        except ValueError:
            return _gateway_error(400, "StarknetErrorCode.MALFORMED_REQUEST", f"invalid blockNumber {raw!r}")
        if number > self.chain.head or number not in self.chain.blocks:
            return _gateway_error(400, "StarknetErrorCode.BLOCK_NOT_FOUND", f"Block number {number} was not found.")
        return web.json_response(self.chain.bouncer_weights(self.chain.blocks[number]))

    async def serve(self, host: str, port: int) -> None:
        """Run until SIGTERM/SIGINT (the subprocess mode)."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self.port = int(runner.addresses[0][1])
        print(f"listening on http://{host}:{self.port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()


_PARAM_NAMES = {
    "starknet_getBlockWithTxHashes": ["block_id"],
    "starknet_getStateUpdate": ["block_id"],
    "starknet_getNonce": ["block_id", "contract_address"],
    "starknet_getStorageAt": ["contract_address", "key", "block_id"],
    "starknet_getClassHashAt": ["block_id", "contract_address"],
}


def _params(method: str, params: Any) -> Any:
    """A getter over positional or named params, by the method's parameter names."""
    names = _PARAM_NAMES.get(method, [])

    def get(name: str) -> Any:
        if isinstance(params, dict):
            if name not in params:
                raise RpcFailure(INVALID_PARAMS, f"missing parameter {name}")
            return params[name]
        if isinstance(params, list):
            position = names.index(name)
            if position >= len(params):
                raise RpcFailure(INVALID_PARAMS, f"missing parameter {name}")
            return params[position]
        raise RpcFailure(INVALID_PARAMS, "params must be an array or an object")

    return get


def _felt_param(value: Any) -> int:
    try:
        return as_int(value)
    except (TypeError, ValueError):
        raise RpcFailure(INVALID_PARAMS, f"not a felt: {value!r}") from None


def _gateway_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.devnet.recorded_node", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    parser.add_argument("--data", type=Path, required=True, help="a fixtures folder (batch/..., da/...)")
    parser.add_argument("--chain-id", default=SEPOLIA_CHAIN_ID)
    parser.add_argument("--latest", type=int, default=None, help="serve blocks up to this one only")
    parser.add_argument("--pre-confirmed-from", type=int, default=None)
    parser.add_argument("--batch-starknet-version", default="0.14.1")
    args = parser.parse_args(argv)
    try:
        chain = load_fixture_chain(
            args.data,
            batch_starknet_version=args.batch_starknet_version,
            chain_id=args.chain_id,
            latest=args.latest,
            pre_confirmed_from=args.pre_confirmed_from,
        )
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(RecordedMadaraNode(chain).serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
