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
import bisect
import json
import signal
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from infra.devnet.recorded_base import recorded_base_storage
from infra.devnet.server import DoubleServer

SEPOLIA_BATCH_FIRST_BLOCK = 2935726  # the recording starts right after block 2935725
SEPOLIA_CHAIN_ID = "SN_SEPOLIA"
# Starknet's published Sepolia addresses (fee tokens on L2, core contract and verifier on L1).
SEPOLIA_CONTRACT_ADDRESSES = {
    "Starknet": "0xE2Bb56ee936fd6433DC0F6e7e3b8365C906AA057",
    "GpsStatementVerifier": "0xf294781D719D2F4169cE54469C28908E6FA752C1",
    "eth_l2_token_address": "0x49d36570d4e46f48e99674bd3fcc84644ddd6b96f7c741b1562b82f9e004dc7",
    "strk_l2_token_address": "0x4718f5a0fc34cc1af16a1cdee98ffb20c31f5cd61d6ab07201858f4287c938d",
}
CONTRACT_NOT_FOUND = (20, "Contract not found")
BLOCK_NOT_FOUND = (24, "Block not found")
INVALID_PARAMS = (-32602, "Invalid params")
METHOD_NOT_FOUND = (-32601, "Method not found")


class RpcFailure(Exception):
    def __init__(self, error: tuple[int, str], data: Any = None) -> None:
        super().__init__(error[1])
        self.code, self.message = error
        self.data = data


def _int(value: Any) -> int:
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text, 16) if text.lower().startswith("0x") else int(text)


@dataclass
class RecordedBlock:
    number: int
    state_update: dict[str, Any]
    starknet_version: str
    nonces: dict[int, int] = field(default_factory=dict)  # extra recorded nonces (address -> nonce)


class _History:
    """Values written at block numbers; `at(n)` is the last one written at or before n."""

    def __init__(self) -> None:
        self._blocks: dict[Any, list[int]] = defaultdict(list)
        self._values: dict[Any, list[int]] = defaultdict(list)

    def write(self, key: Any, block: int, value: int) -> None:
        blocks, values = self._blocks[key], self._values[key]
        position = bisect.bisect_right(blocks, block)
        if position and blocks[position - 1] == block:
            values[position - 1] = value
        else:
            blocks.insert(position, block)
            values.insert(position, value)

    def at(self, key: Any, block: int) -> int | None:
        blocks = self._blocks.get(key)
        if not blocks:
            return None
        position = bisect.bisect_right(blocks, block)
        return self._values[key][position - 1] if position else None


@dataclass
class BaseState:
    """State before the first recorded block (for reads the recordings cannot answer)."""

    storage: dict[tuple[int, int], int] = field(default_factory=dict)
    nonces: dict[int, int] = field(default_factory=dict)
    class_hashes: dict[int, int] = field(default_factory=dict)


class RecordedChain:
    def __init__(
        self,
        blocks: list[RecordedBlock],
        *,
        chain_id: str = SEPOLIA_CHAIN_ID,
        contract_addresses: dict[str, str] | None = None,
        base: BaseState | None = None,
        latest: int | None = None,
        pre_confirmed_from: int | None = None,
    ) -> None:
        if not blocks:
            raise ValueError("a recorded chain needs at least one block")
        self.blocks = {b.number: b for b in blocks}
        self.chain_id = chain_id
        self.contract_addresses = dict(contract_addresses or SEPOLIA_CONTRACT_ADDRESSES)
        self.base = base or BaseState()
        self.latest = latest
        self.pre_confirmed_from = pre_confirmed_from
        #: header timestamps (seconds) by block number; the devnet's sequencer sets them as it reveals blocks
        self.timestamps: dict[int, int] = {}
        self._storage = _History()
        self._nonces = _History()
        self._classes = _History()
        for block in sorted(blocks, key=lambda b: b.number):
            self._index(block)

    def _index(self, block: RecordedBlock) -> None:
        diff = block.state_update.get("state_diff", {})
        n = block.number
        for entry in diff.get("storage_diffs", []):
            address = _int(entry["address"])
            for item in entry.get("storage_entries", []):
                self._storage.write((address, _int(item["key"])), n, _int(item["value"]))
        for entry in diff.get("nonces", []):
            self._nonces.write(_int(entry["contract_address"]), n, _int(entry["nonce"]))
        for address, nonce in block.nonces.items():
            self._nonces.write(address, n, nonce)
        for entry in [*diff.get("deployed_contracts", []), *diff.get("replaced_classes", [])]:
            self._classes.write(_int(entry.get("address", entry.get("contract_address"))), n, _int(entry["class_hash"]))

    # -- the chain head -------------------------------------------------------------------------

    @property
    def head(self) -> int:
        top = max(self.blocks)
        return top if self.latest is None else min(top, self.latest)

    def block(self, block_id: Any) -> RecordedBlock:
        if block_id in ("latest", "pre_confirmed", "pending", "l1_accepted"):
            return self.blocks[self.head]
        if isinstance(block_id, dict) and "block_number" in block_id:
            number = block_id["block_number"]
            if not isinstance(number, int) or isinstance(number, bool):
                raise RpcFailure(INVALID_PARAMS, f"block_number must be an integer, got {number!r}")
            if number > self.head or number not in self.blocks:
                raise RpcFailure(BLOCK_NOT_FOUND)
            return self.blocks[number]
        if isinstance(block_id, dict) and "block_hash" in block_id:
            wanted = _int(block_id["block_hash"])
            for block in self.blocks.values():
                if block.number <= self.head and _int(block.state_update.get("block_hash", "0x0")) == wanted:
                    return block
            raise RpcFailure(BLOCK_NOT_FOUND)
        raise RpcFailure(INVALID_PARAMS, f"unsupported block id {block_id!r}")

    def is_pre_confirmed(self, number: int) -> bool:
        return self.pre_confirmed_from is not None and number >= self.pre_confirmed_from

    # -- reads ----------------------------------------------------------------------------------

    def state_update(self, block: RecordedBlock) -> dict[str, Any]:
        if self.is_pre_confirmed(block.number):
            return {
                "state_diff": block.state_update.get("state_diff", {}),
                "old_root": block.state_update.get("old_root"),
            }
        return block.state_update

    def header(self, block: RecordedBlock) -> dict[str, Any]:
        parent = self.blocks.get(block.number - 1)
        gas = {"price_in_fri": "0x1", "price_in_wei": "0x1"}
        header: dict[str, Any] = {
            "block_number": block.number,
            "parent_hash": parent.state_update.get("block_hash", "0x0") if parent else "0x0",
            "timestamp": self.timestamps.get(block.number, 1_700_000_000 + block.number),
            "sequencer_address": "0x1",
            "l1_gas_price": gas,
            "l2_gas_price": gas,
            "l1_data_gas_price": gas,
            "l1_da_mode": "BLOB",
            "starknet_version": block.starknet_version,
            "transactions": [],
        }
        if self.is_pre_confirmed(block.number):
            return {**header, "status": "PRE_CONFIRMED"}
        return {
            **header,
            "status": "ACCEPTED_ON_L2",
            "block_hash": block.state_update.get("block_hash", "0x0"),
            "new_root": block.state_update.get("new_root", "0x0"),
        }

    def storage_at(self, address: int, key: int, block: int) -> int:
        value = self._storage.at((address, key), block)
        return value if value is not None else self.base.storage.get((address, key), 0)

    def nonce_at(self, address: int, block: int) -> int:
        value = self._nonces.at(address, block)
        return value if value is not None else self.base.nonces.get(address, 0)

    def class_hash_at(self, address: int, block: int) -> int | None:
        value = self._classes.at(address, block)
        return value if value is not None else self.base.class_hashes.get(address)

    def bouncer_weights(self, block: RecordedBlock) -> dict[str, int]:
        diff = block.state_update.get("state_diff", {})
        size = sum(len(e.get("storage_entries", [])) for e in diff.get("storage_diffs", []))
        size += sum(len(diff.get(k, [])) for k in ("nonces", "deployed_contracts", "replaced_classes"))
        size += sum(len(diff.get(k, [])) for k in ("declared_classes", "migrated_compiled_classes"))
        return {
            "l1_gas": 0,
            "message_segment_length": 0,
            "n_events": 0,
            "state_diff_size": size,
            "sierra_gas": 0,
            "n_txs": len(diff.get("nonces", [])),
            "proving_gas": 0,
            "receipt_l2_gas": 0,
        }


# -- loading -------------------------------------------------------------------------------------


def load_state_updates(path: Path, first_block: int, starknet_version: str) -> list[RecordedBlock]:
    updates = json.loads(path.read_text())
    if not isinstance(updates, list):
        raise ValueError(f"{path}: expected a JSON array of state updates")
    return [RecordedBlock(first_block + i, su, starknet_version) for i, su in enumerate(updates)]


def load_single_block(path: Path, nonces_path: Path | None, starknet_version: str) -> RecordedBlock:
    nonces: dict[int, int] = {}
    if nonces_path is not None and nonces_path.is_file():
        # the recorded nonces: {"address": decimal, "nonce": hex digits without 0x}
        for entry in json.loads(nonces_path.read_text()):
            nonces[int(entry["address"])] = int(entry["nonce"], 16)
    return RecordedBlock(int(path.stem), json.loads(path.read_text()), starknet_version, nonces)


def load_fixture_chain(
    data_dir: Path,
    *,
    batch_starknet_version: str = "0.14.1",
    da_starknet_version: str = "0.13.2",
    **chain_options: Any,
) -> RecordedChain:
    """The chain of a fixtures folder: the Sepolia batch recording plus the single DA blocks; the
    state before the recording is what `recorded_base` recovers from the batch files.

    The Sepolia blocks carry `migrated_compiled_classes`, which exists from Starknet 0.14.1 on.
    """
    blocks: list[RecordedBlock] = []
    batch = data_dir / "batch" / "9662264" / "state_updates.json"
    if batch.is_file():
        blocks += load_state_updates(batch, SEPOLIA_BATCH_FIRST_BLOCK, batch_starknet_version)
        # the state before the recording that the batch files determine (aliases of older keys)
        chain_options.setdefault("base", BaseState(storage=recorded_base_storage(batch.parent)))
    for path in sorted((data_dir / "da" / "state_update").glob("*.json")):
        blocks.append(load_single_block(path, data_dir / "da" / "nonces" / path.name, da_starknet_version))
    if not blocks:
        raise ValueError(f"{data_dir}: no recorded state updates found (batch/9662264 or da/state_update)")
    return RecordedChain(blocks, **chain_options)


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
        return _int(value)
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
