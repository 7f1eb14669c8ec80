from __future__ import annotations

import pytest

from orchestrator.clients.da.ethereum import EthereumDaClient
from orchestrator.clients.da.settlement_carried import DaPublishError
from orchestrator.clients.da.starknet import StarknetDaClient
from orchestrator.core.madara.da import DaClient


@pytest.mark.parametrize("client", [EthereumDaClient(), StarknetDaClient()])
async def test_settlement_carried_da_answers_na_and_verified(client: DaClient) -> None:
    assert client.max_bytes_per_blob() == 131072 and client.max_blob_per_txn() == 6
    external_id = await client.publish_state_diff([bytes(131072)] * 6)
    assert external_id == "NA"
    assert await client.verify_inclusion(external_id) == "Verified"


async def test_blobs_that_do_not_fit_are_refused() -> None:
    client = EthereumDaClient()
    with pytest.raises(DaPublishError, match="7 blobs do not fit one Ethereum transaction"):
        await client.publish_state_diff([bytes(131072)] * 7)
    with pytest.raises(DaPublishError, match="blob 0 is 10 bytes"):
        await client.publish_state_diff([bytes(10)])
    with pytest.raises(DaPublishError, match="only 'NA' ids"):
        await client.verify_inclusion("0xabc")
