"""A Starknet settlement test server: a JSON-RPC node (spec 0.10) hosting one account and a
Piltover-style core contract, for the Starknet settlement client and the L3 devnet. No Starknet node
can run here (see ../shared/docs/services.md §4), so this speaks exactly the methods the client uses:

- `starknet_specVersion`, `starknet_chainId`, `starknet_blockNumber`;
- `starknet_getClassAt` (a Sierra class for the account, so starknet-py encodes Cairo 1 multicalls);
- `starknet_getNonce` for the account;
- `starknet_call` of the core contract's `get_state` -> [state_root, block_number, block_hash];
- `starknet_estimateFee` (a fixed estimate; the query-version signature is checked);
- `starknet_addInvokeTransaction`: the INVOKE v3 must carry a valid signature of the account's key
  over its transaction hash, the account's current nonce, and a well-formed multicall; each call to
  `update_state` is executed as Piltover does (`PiltoverRules`), else the transaction is included as
  REVERTED with the contract's reason;
- `starknet_getTransactionReceipt` / `starknet_getTransactionStatus`: a transaction is
  PRE_CONFIRMED for its first `pre_confirmed_polls` queries, then ACCEPTED_ON_L2.

`update_state` calldata: `[len(snos_output), *snos_output, len(bridge_output), *bridge_output]`.
Without `program_info`, `snos_output` is taken as a bare OS output (the settlement client's tests
send one). With it, as Piltover's `appchain.update_state`: `snos_output` is the bootloaded OS output
(`[n_tasks, size, program_hash, *os_output]`) whose program hash must be the configured SNOS one;
`bridge_output` is the layout bridge's bootloaded output `[n_tasks, size, layout_bridge_program_hash,
bootloader_program_hash, poseidon(snos_output)]`; the fact poseidon(bootloader_program_hash,
poseidon(bridge_output)) must be registered (`register_fact`: the Atlantic double's L2 verification
does it, as Integrity does on Starknet); the OS output must have no aggregator program hash, the
configured config hash and no full output. Then in both modes the update must continue the stored
state: previous block number, previous root and (stricter than Piltover) previous block hash.

Every accepted invoke is recorded in `invokes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from starknet_py.constants import QUERY_VERSION_BASE
from starknet_py.hash.selector import get_selector_from_name
from starknet_py.hash.utils import verify_message_signature
from starknet_py.net.models.transaction import InvokeV3
from starknet_py.net.schemas.rpc.transactions import InvokeTransactionV3Schema

from infra.devnet.server import DoubleServer
from orchestrator.services.proof.hashes import poseidon_hash_many

STARK_PRIME = 2**251 + 17 * 2**192 + 1
FELT_MAX = STARK_PRIME - 1  # Piltover's "no block settled yet"
SPEC_VERSION = "0.10.2"
GET_STATE = get_selector_from_name("get_state")
UPDATE_STATE = get_selector_from_name("update_state")
#: words of the bootloader's header before a single task's output: [n_tasks, size, program_hash]
BOOTLOADER_HEADER = 3

INVALID_PARAMS = (-32602, "Invalid params")
METHOD_NOT_FOUND = (-32601, "Method not found")
CONTRACT_NOT_FOUND = (20, "Contract not found")
TXN_HASH_NOT_FOUND = (29, "Transaction hash not found")
CONTRACT_ERROR = (40, "Contract error")
INVALID_TRANSACTION_NONCE = (52, "Invalid transaction nonce")
VALIDATION_FAILURE = (55, "Account validation failed")

_SIERRA_ACCOUNT_CLASS = {
    "sierra_program": ["0x1", "0x2"],
    "contract_class_version": "0.1.0",
    "entry_points_by_type": {"CONSTRUCTOR": [], "EXTERNAL": [], "L1_HANDLER": []},
    "abi": "[]",
}


class RpcFailure(Exception):
    def __init__(self, error: tuple[int, str], data: Any = None) -> None:
        super().__init__(error[1])
        self.code, self.message = error
        self.data = data


def _felt(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _hex(value: int) -> str:
    return hex(value)


@dataclass
class CoreState:
    state_root: int = 0
    block_number: int = FELT_MAX
    block_hash: int = 0


@dataclass(frozen=True)
class ProgramInfo:
    """Piltover's `program_info`: the programs whose proofs it accepts."""

    snos_program_hash: int
    bootloader_program_hash: int
    layout_bridge_program_hash: int
    snos_config_hash: int = 0


def bridge_output(info: ProgramInfo, snos_output: list[int]) -> list[int]:
    """The layout bridge's bootloaded output for a (bootloaded) SNOS output, as Piltover reads it."""
    own = [info.bootloader_program_hash, poseidon_hash_many(snos_output)]
    return [1, len(own) + 2, info.layout_bridge_program_hash, *own]


def bridge_fact(info: ProgramInfo, bridge: list[int]) -> int:
    """The fact Piltover looks up in the fact registry for a layout bridge output."""
    return poseidon_hash_many([info.bootloader_program_hash, poseidon_hash_many(bridge)])


@dataclass
class RecordedInvoke:
    tx_hash: int
    nonce: int
    calls: list[tuple[int, int, list[int]]]  # (to, selector, calldata)
    reverted: str | None


@dataclass
class _Tx:
    invoke: RecordedInvoke
    block_number: int
    polls: int = 0


@dataclass
class StarknetCoreServer(DoubleServer):
    account_address: int = 0
    public_key: int = 0
    core_address: int = 0
    chain_id: int = int.from_bytes(b"SN_TEST", "big")
    state: CoreState = field(default_factory=CoreState)
    nonce: int = 0
    pre_confirmed_polls: int = 1
    invokes: list[RecordedInvoke] = field(default_factory=list)
    #: Piltover's checks of both outputs and of the fact; None: a bare OS output, continuity only
    program_info: ProgramInfo | None = None
    facts: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        super().__init__()
        self._txs: dict[int, _Tx] = {}
        self._block = 1000

    async def __aenter__(self) -> StarknetCoreServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def register_fact(self, fact: int) -> None:
        self.facts.add(fact)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/", self._handle), web.post("/rpc", self._handle)]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if isinstance(body, list):
            return web.json_response([self._dispatch(item) for item in body])
        return web.json_response(self._dispatch(body))

    def _dispatch(self, body: dict[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": body.get("id")}
        method = str(body.get("method", ""))
        handler = getattr(self, "_m_" + method.removeprefix("starknet_"), None)
        if not method.startswith("starknet_") or handler is None:
            reply["error"] = {"code": METHOD_NOT_FOUND[0], "message": f"{METHOD_NOT_FOUND[1]}: {method}"}
            return reply
        params = body.get("params") or {}
        try:
            reply["result"] = handler(**params) if isinstance(params, dict) else handler(*params)
        except RpcFailure as failure:
            reply["error"] = {"code": failure.code, "message": failure.message}
            if failure.data is not None:
                reply["error"]["data"] = failure.data
        except (TypeError, KeyError, ValueError) as exc:
            reply["error"] = {"code": INVALID_PARAMS[0], "message": f"{INVALID_PARAMS[1]}: {exc}"}
        return reply

    # -- read methods --

    def _m_specVersion(self) -> str:
        return SPEC_VERSION

    def _m_chainId(self) -> str:
        return _hex(self.chain_id)

    def _m_blockNumber(self) -> int:
        return self._block

    def _m_getClassAt(self, block_id: Any, contract_address: str) -> dict[str, Any]:
        if _felt(contract_address) != self.account_address:
            raise RpcFailure(CONTRACT_NOT_FOUND)
        return _SIERRA_ACCOUNT_CLASS

    def _m_getNonce(self, block_id: Any, contract_address: str) -> str:
        if _felt(contract_address) != self.account_address:
            raise RpcFailure(CONTRACT_NOT_FOUND)
        return _hex(self.nonce)

    def _m_call(self, request: dict[str, Any], block_id: Any) -> list[str]:
        if _felt(request["contract_address"]) != self.core_address:
            raise RpcFailure(CONTRACT_NOT_FOUND)
        if _felt(request["entry_point_selector"]) != GET_STATE or request.get("calldata"):
            raise RpcFailure(CONTRACT_ERROR, {"revert_error": "ENTRYPOINT_NOT_FOUND"})
        return [_hex(self.state.state_root), _hex(self.state.block_number), _hex(self.state.block_hash)]

    def _m_estimateFee(self, request: list[dict[str, Any]], simulation_flags: list[str], block_id: Any) -> list[Any]:
        estimates = []
        for item in request:
            tx = self._verified_invoke(item, query=True)
            self._decode_calls(tx.calldata)
            estimates.append(
                {
                    "l1_gas_consumed": "0x0",
                    "l1_gas_price": "0x1",
                    "l2_gas_consumed": "0x2faf080",
                    "l2_gas_price": "0x3b9aca00",
                    "l1_data_gas_consumed": "0x80",
                    "l1_data_gas_price": "0x10",
                    "overall_fee": _hex(0x2FAF080 * 0x3B9ACA00 + 0x80 * 0x10),
                    "unit": "FRI",
                }
            )
        return estimates

    # -- writes --

    def _m_addInvokeTransaction(self, invoke_transaction: dict[str, Any]) -> dict[str, str]:
        tx = self._verified_invoke(invoke_transaction, query=False)
        if tx.nonce != self.nonce:
            raise RpcFailure(INVALID_TRANSACTION_NONCE, f"account nonce is {self.nonce}, got {tx.nonce}")
        calls = self._decode_calls(tx.calldata)
        tx_hash = tx.calculate_hash(self.chain_id)
        reverted = self._execute(calls)
        self.nonce += 1  # a reverted invoke still consumes the nonce
        self._block += 1
        invoke = RecordedInvoke(tx_hash, tx.nonce, calls, reverted)
        self.invokes.append(invoke)
        self._txs[tx_hash] = _Tx(invoke, self._block)
        return {"transaction_hash": _hex(tx_hash)}

    def _verified_invoke(self, raw: dict[str, Any], *, query: bool) -> InvokeV3:
        if raw.get("type") != "INVOKE":
            raise RpcFailure(INVALID_PARAMS, "only INVOKE transactions are supported")
        loaded = InvokeTransactionV3Schema().load({k: v for k, v in raw.items() if k != "type"})
        expected_version = 3 + (QUERY_VERSION_BASE if query else 0)
        if loaded.version != expected_version:
            raise RpcFailure(INVALID_PARAMS, f"transaction version {loaded.version:#x}, expected {expected_version:#x}")
        if loaded.paymaster_data or loaded.nonce_data_availability_mode.name != "L1":
            raise RpcFailure(INVALID_PARAMS, "paymaster data and L2 DA modes are not supported")
        tx = InvokeV3(
            version=loaded.version,
            signature=list(loaded.signature),
            nonce=loaded.nonce,
            resource_bounds=loaded.resource_bounds,
            tip=loaded.tip,
            calldata=list(loaded.calldata),
            sender_address=loaded.sender_address,
            account_deployment_data=list(loaded.account_deployment_data),
        )
        if tx.sender_address != self.account_address:
            raise RpcFailure(CONTRACT_NOT_FOUND, "unknown sender")
        tx_hash = tx.calculate_hash(self.chain_id)
        if len(tx.signature) != 2 or not verify_message_signature(tx_hash, tx.signature, self.public_key):
            raise RpcFailure(VALIDATION_FAILURE, "invalid signature")
        return tx

    @staticmethod
    def _decode_calls(calldata: list[int]) -> list[tuple[int, int, list[int]]]:
        """Cairo 1 account multicall: [n_calls, (to, selector, len, *data) * n_calls]."""
        try:
            n_calls, position, calls = calldata[0], 1, []
            for _ in range(n_calls):
                to, selector, length = calldata[position : position + 3]
                data = calldata[position + 3 : position + 3 + length]
                if len(data) != length:
                    raise ValueError("truncated call")
                calls.append((to, selector, data))
                position += 3 + length
        except (IndexError, ValueError) as exc:
            raise RpcFailure(VALIDATION_FAILURE, f"malformed multicall: {exc}") from None
        if position != len(calldata):
            raise RpcFailure(VALIDATION_FAILURE, "malformed multicall: trailing calldata")
        return calls

    def _execute(self, calls: list[tuple[int, int, list[int]]]) -> str | None:
        """Runs the calls against the core contract; returns the revert reason, or None."""
        for to, selector, data in calls:
            if to != self.core_address:
                return f"Requested contract address {_hex(to)} is not deployed."
            if selector != UPDATE_STATE:
                return "Entry point not found in contract."
            reason = self._update_state(data)
            if reason is not None:
                return reason
        return None

    def _update_state(self, data: list[int]) -> str | None:
        snos_len = data[0] if data else 0
        snos = data[1 : 1 + snos_len]
        rest = data[1 + snos_len :]
        if len(snos) != snos_len or not rest or len(rest) != rest[0] + 1:
            return "Failed to deserialize param #1"
        os_output = snos
        if self.program_info is not None:
            reason = self._piltover_checks(self.program_info, snos, rest[1:])
            if reason is not None:
                return reason
            os_output = snos[BOOTLOADER_HEADER:]
        if len(os_output) < 6:
            return "Invalid snos output: too short"
        prev_root, new_root, prev_block, new_block, prev_hash, new_hash = os_output[:6]
        if prev_block != self.state.block_number:
            return f"Invalid previous block number: expected {self.state.block_number}, got {prev_block}"
        if prev_root != self.state.state_root:
            return "Invalid previous state root"
        if prev_hash != self.state.block_hash and self.state.block_number != FELT_MAX:
            return f"Invalid previous block hash: expected {_hex(self.state.block_hash)}, got {_hex(prev_hash)}"
        self.state = CoreState(new_root, new_block, new_hash)
        return None

    def _piltover_checks(self, info: ProgramInfo, snos: list[int], bridge: list[int]) -> str | None:
        """Piltover's `update_state` checks before the state update (the reasons are its error texts)."""
        if len(snos) < BOOTLOADER_HEADER + 10 or len(bridge) < 5:
            return "snos: invalid output size"
        if snos[2] != info.snos_program_hash:
            return "snos: invalid program hash"
        if bridge[2] != info.layout_bridge_program_hash:
            return "lb: invalid program hash"
        if bridge[3] != info.bootloader_program_hash:
            return "lb: invalid bootloader hash"
        if bridge[4] != poseidon_hash_many(snos):
            return "snos: invalid output hash"
        if bridge_fact(info, bridge) not in self.facts:
            return "no fact registered"
        os_header = snos[BOOTLOADER_HEADER : BOOTLOADER_HEADER + 10]
        if os_header[6] != 0:
            return "Aggregator program is not supported yet"
        if os_header[7] != info.snos_config_hash:
            return "snos: invalid config hash"
        if os_header[9] != 0:
            return "Full output is not supported"
        return None

    def _receipt_parts(self, transaction_hash: str) -> tuple[_Tx, str]:
        tx = self._txs.get(_felt(transaction_hash))
        if tx is None:
            raise RpcFailure(TXN_HASH_NOT_FOUND)
        tx.polls += 1
        finality = "PRE_CONFIRMED" if tx.polls <= self.pre_confirmed_polls else "ACCEPTED_ON_L2"
        return tx, finality

    def _m_getTransactionReceipt(self, transaction_hash: str) -> dict[str, Any]:
        tx, finality = self._receipt_parts(transaction_hash)
        receipt: dict[str, Any] = {
            "type": "INVOKE",
            "transaction_hash": _hex(tx.invoke.tx_hash),
            "actual_fee": {"amount": "0x1000", "unit": "FRI"},
            "execution_status": "REVERTED" if tx.invoke.reverted else "SUCCEEDED",
            "finality_status": finality,
            "block_number": tx.block_number,
            "messages_sent": [],
            "events": [],
            "execution_resources": {"l1_gas": 0, "l1_data_gas": 128, "l2_gas": 50_000_000},
        }
        if finality != "PRE_CONFIRMED":
            receipt["block_hash"] = _hex(tx.block_number * 7919)
        if tx.invoke.reverted:
            receipt["revert_reason"] = tx.invoke.reverted
        return receipt

    def _m_getTransactionStatus(self, transaction_hash: str) -> dict[str, Any]:
        tx, finality = self._receipt_parts(transaction_hash)
        status: dict[str, Any] = {
            "finality_status": finality,
            "execution_status": "REVERTED" if tx.invoke.reverted else "SUCCEEDED",
        }
        if tx.invoke.reverted:
            status["failure_reason"] = tx.invoke.reverted
        return status
