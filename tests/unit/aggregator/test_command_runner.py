"""The aggregator command runner against a script standing in for the operator's aggregator program."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from orchestrator.clients.aggregator.command import CommandAggregatorRunner
from orchestrator.clients.node.chain_details import CachedChainDetails
from orchestrator.core.errors import ConfigError
from orchestrator.core.madara.aggregator import AggregatorError, AggregatorRequest
from orchestrator.core.madara.node import ChainDetails

FAKE = Path(__file__).with_name("fake_aggregator.py")
REPO_ROOT = Path(__file__).parents[3]
CHAIN = ChainDetails(chain_id="MADARA_DEVNET", strk_fee_token_address="0x4718", eth_fee_token_address="0x49d3")


class CountingNode:
    def __init__(self) -> None:
        self.asked = 0

    async def chain_details(self) -> ChainDetails:
        self.asked += 1
        return CHAIN


def runner(mode: str, timeout: float = 30.0, work_dir: Path | None = None) -> CommandAggregatorRunner:
    template = (
        f"'{sys.executable}' '{FAKE}' {mode} {{input_dir}} {{output_dir}} {{batch_index}} "
        "{chain_id_hex} {fee_token_address}"
    )
    return CommandAggregatorRunner(
        template, timeout_seconds=timeout, chain=CachedChainDetails(CountingNode()), work_dir=work_dir
    )


@pytest.fixture(autouse=True)
def _importable_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


REQUEST = AggregatorRequest(
    batch_index=3,
    start_block=10,
    end_block=19,
    children_outputs=[[0x1, 0x2], [0x3]],
    children_keys=["k1", "k2"],
    da_segment=[5, 6, 7],
    blobs=[bytes(131072), bytes(131072)],
)


async def test_success_reads_the_outputs_and_passes_the_chain_details() -> None:
    result = await runner("success").run(REQUEST)
    assert result.program_output == [3, 2, 2, int(CHAIN.chain_id_hex, 16), 0x4718, 1, 2, 3]
    assert result.fact == "0x" + "ab" * 32
    assert result.da_segment == [5, 6, 7], "the input's DA segment when the program writes none"
    assert result.cairo_pie.startswith(b"PK")


def test_chain_id_hex_is_the_felt_of_the_name() -> None:
    assert CHAIN.chain_id_hex == "0x" + b"MADARA_DEVNET".hex()


async def test_the_chain_details_are_fetched_once() -> None:
    node = CountingNode()
    template = f"'{sys.executable}' '{FAKE}' success {{input_dir}} {{output_dir}} 1 {{chain_id_hex}} 0x1"
    run = CommandAggregatorRunner(template, timeout_seconds=30, chain=CachedChainDetails(node))
    await asyncio.gather(run.run(REQUEST), run.run(REQUEST))
    assert node.asked == 1


@pytest.mark.parametrize(
    ("mode", "retryable", "fragment"),
    [
        ("rpc-error", True, "connection refused"),
        ("tempfail", True, "busy"),
        ("fatal", False, "children do not chain"),
        ("no-pie", False, "wrote no cairo_pie.zip"),
        ("bad-fact", False, "not 0x + 64 hex digits"),
    ],
)
async def test_failures_are_classified(mode: str, retryable: bool, fragment: str) -> None:
    with pytest.raises(AggregatorError) as caught:
        await runner(mode).run(REQUEST)
    assert caught.value.retryable is retryable
    assert fragment in str(caught.value)
    assert "batch 3" in str(caught.value)


def _child_pid(work: Path) -> int:
    (pid_file,) = work.glob("*.child")
    return int(pid_file.read_text())


def _leftover_dirs(work: Path) -> list[Path]:
    return [p for p in work.iterdir() if p.is_dir()]


async def test_timeout_kills_the_process_group_and_is_retryable(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(AggregatorError, match=r"timed out after 1\.5 s") as caught:
        await runner("hang", timeout=1.5, work_dir=tmp_path).run(REQUEST)
    assert caught.value.retryable is True
    assert time.monotonic() - started < 10
    child = _child_pid(tmp_path)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.05)  # polling the condition, with a deadline
    else:
        pytest.fail(f"the aggregator program's child {child} survived the timeout")
    assert _leftover_dirs(tmp_path) == [], "the run's directories are removed"


async def test_missing_program_is_fatal() -> None:
    run = CommandAggregatorRunner("/nonexistent/aggregator {input_dir}", timeout_seconds=5, chain=CountingNode())
    with pytest.raises(AggregatorError, match="cannot start") as caught:
        await run.run(REQUEST)
    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("template", "message"),
    [("", "empty"), ("agg --block {block}", "unknown field {block}"), ("agg 'open", "No closing quotation")],
)
def test_bad_templates_are_config_errors(template: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CommandAggregatorRunner(template, timeout_seconds=5, chain=CountingNode())
