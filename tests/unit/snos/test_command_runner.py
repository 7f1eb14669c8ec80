"""The command-line SNOS runner against a script standing in for the OS program."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from orchestrator.clients.snos.command import CommandSnosRunner
from orchestrator.core.errors import ConfigError
from orchestrator.core.madara.node import ChainDetails
from orchestrator.core.madara.snos import SnosError, SnosRequest

FAKE_OS = Path(__file__).with_name("fake_os.py")
REPO_ROOT = Path(__file__).parents[3]


def runner(mode: str, timeout: float = 30.0) -> CommandSnosRunner:
    template = (
        f"'{sys.executable}' '{FAKE_OS}' {mode} {{output_dir}} {{start_block}} {{end_block}} "
        "{rpc_url} {layout} {full_output} {use_kzg_da}"
    )
    return CommandSnosRunner(template, timeout_seconds=timeout)


@pytest.fixture(autouse=True)
def _importable_package(monkeypatch: pytest.MonkeyPatch) -> None:
    # the fake OS imports the PIE writer from this checkout
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


REQUEST = SnosRequest(start_block=100, end_block=104, rpc_url="http://127.0.0.1:9/rpc", full_output=True)


async def test_success_reads_the_outputs() -> None:
    result = await runner("success").run(REQUEST)
    assert result.snos_output == [100, 104, len(REQUEST.rpc_url), len("all_cairo"), 1, 1]
    assert result.program_output == [100, 104, 1, 1]
    assert result.n_steps == 1234
    assert result.cairo_pie.startswith(b"PK")


async def test_program_output_defaults_to_the_os_output() -> None:
    result = await runner("success-no-program-output").run(REQUEST)
    assert result.snos_output == [5, 6]
    assert result.program_output == [5, 6]
    assert result.n_steps == 2


async def test_output_dir_is_removed_after_the_run(tmp_path: Path) -> None:
    work = tmp_path / "work"
    template = (
        f"'{sys.executable}' '{FAKE_OS}' success {{output_dir}} {{start_block}} {{end_block}} "
        "{rpc_url} {layout} {full_output} {use_kzg_da}"
    )
    await CommandSnosRunner(template, timeout_seconds=30, work_dir=work).run(REQUEST)
    assert list(work.iterdir()) == []


@pytest.mark.parametrize(
    ("mode", "retryable", "fragment"),
    [
        ("rpc-error", True, "transport error"),
        ("block-not-found", True, "BlockNotFound"),
        ("tempfail", True, "come back later"),
        ("os-error", False, "OS execution failed"),
        ("contract-not-found", False, "ContractNotFound"),
    ],
)
async def test_failures_are_classified(mode: str, retryable: bool, fragment: str) -> None:
    with pytest.raises(SnosError) as caught:
        await runner(mode).run(REQUEST)
    assert caught.value.retryable is retryable
    assert fragment in str(caught.value)
    assert "blocks 100..=104" in str(caught.value)


async def test_missing_outputs_are_fatal() -> None:
    with pytest.raises(SnosError, match=r"wrote no cairo_pie\.zip") as caught:
        await runner("no-pie").run(REQUEST)
    assert caught.value.retryable is False


async def test_malformed_output_is_fatal() -> None:
    with pytest.raises(SnosError, match="entry 1 is not a felt") as caught:
        await runner("bad-output").run(REQUEST)
    assert caught.value.retryable is False


async def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    request = SnosRequest(start_block=1, end_block=1, rpc_url=str(pid_file))
    started = time.monotonic()
    with pytest.raises(SnosError, match=r"timed out after 1\.5 s") as caught:
        await runner("hang", timeout=1.5).run(request)
    assert caught.value.retryable is True
    assert time.monotonic() - started < 10
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        # a killed child of a dead parent is reaped by init; give it a moment
        await asyncio.sleep(0.05)
    else:
        pytest.fail(f"the OS program's child {child} survived the timeout")


async def test_missing_program_is_fatal() -> None:
    with pytest.raises(SnosError, match="cannot start") as caught:
        await CommandSnosRunner("/nonexistent/generate-pie {output_dir}", timeout_seconds=5).run(REQUEST)
    assert caught.value.retryable is False


async def test_inverted_range_is_fatal() -> None:
    with pytest.raises(SnosError, match="end before start"):
        await runner("success").run(SnosRequest(start_block=5, end_block=4, rpc_url="x"))


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("", "empty"),
        ("generate-pie --block {block}", "unknown field {block}"),
        ("generate-pie 'unclosed", "No closing quotation"),
        ("generate-pie {0}", "bad placeholder"),
    ],
)
def test_bad_templates_are_config_errors(template: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CommandSnosRunner(template, timeout_seconds=5)


def test_command_is_built_from_the_template(tmp_path: Path) -> None:
    snos = CommandSnosRunner(
        "generate-pie --rpc {rpc_url} --blocks {start_block}..={end_block} -n {num_blocks} "
        "--layout {layout} --out '{output_dir}' --full-output={full_output} --kzg={use_kzg_da}",
        timeout_seconds=5,
    )
    out = tmp_path / "with space"
    argv = snos.command_for(REQUEST, out)
    assert argv == [
        "generate-pie",
        "--rpc",
        REQUEST.rpc_url,
        "--blocks",
        "100..=104",
        "-n",
        "5",
        "--layout",
        "all_cairo",
        "--out",
        str(out),
        "--full-output=true",
        "--kzg=true",
    ]


CHAIN = ChainDetails(chain_id="MADARA_DEVNET", strk_fee_token_address="0x4718", eth_fee_token_address="0x49d3")


class _Node:
    async def chain_details(self) -> ChainDetails:
        return CHAIN


def test_the_chain_details_fill_their_fields(tmp_path: Path) -> None:
    template = "generate-pie --chain-id {chain_id} --chain-id-hex {chain_id_hex} --fee-token {fee_token_address}"
    snos = CommandSnosRunner(template, timeout_seconds=5, chain=_Node())
    argv = snos.command_for(REQUEST, tmp_path, CHAIN)
    assert argv[1:] == [
        "--chain-id",
        "MADARA_DEVNET",
        "--chain-id-hex",
        "0x" + b"MADARA_DEVNET".hex(),
        "--fee-token",
        "0x4718",
    ]
    with pytest.raises(ConfigError, match="need the node"):
        CommandSnosRunner(template, timeout_seconds=5)
