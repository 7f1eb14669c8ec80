"""A stand-alone settling process for the kill/restart test.

Settles the 6806848 fixture with the Ethereum client, persisting every attempt to a JSON file
through the attempts sink (as the job persists them to its metadata), and on start passes the
attempts already in that file back in, as a restarted job does.

    python -m tests.integration.settlement.settle_process RPC_URL CORE_ADDRESS ATTEMPTS_FILE
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from orchestrator.clients.settlement.ethereum import EthereumSettlementClient
from orchestrator.clients.settlement.tx_manager import TxManagerConfig
from orchestrator.core.madara.settlement import SettlementError
from orchestrator.core.models.metadata import TxAttempt
from tests.integration.settlement.chain import OPERATOR_KEY, read_blob, read_program_output


def load_attempts(path: Path) -> list[TxAttempt]:
    if not path.exists():
        return []
    return [TxAttempt.model_validate(a) for a in json.loads(path.read_text())]


async def main(rpc_url: str, core: str, attempts_file: Path) -> int:
    async def persist(attempts: list[TxAttempt]) -> None:
        tmp = attempts_file.with_suffix(".tmp")
        tmp.write_text(json.dumps([a.model_dump(mode="json") for a in attempts]))
        os.replace(tmp, attempts_file)  # atomic: a kill never leaves half a file

    client = EthereumSettlementClient(
        rpc_url=rpc_url,
        private_key=OPERATOR_KEY,
        core_contract_address=core,
        tx_config=TxManagerConfig(confirmations=0, confirmation_timeout=120.0, poll_interval=0.1),
        disable_peerdas=True,
    )
    try:
        result = await client.update_state_with_blobs(
            read_program_output(), [read_blob()], previous_attempts=load_attempts(attempts_file), on_attempt=persist
        )
    except SettlementError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 1
    finally:
        await client.close()
    print(
        json.dumps({"tx_hash": result.tx_hash, "skipped": result.skipped, "attempts": len(result.attempts)}), flush=True
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))))
