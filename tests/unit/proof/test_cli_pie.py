"""`orchestrator pie fact`."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from orchestrator.controllers.cli.main import cli

FIBONACCI = str(Path(__file__).parents[2] / "fixtures" / "pie" / "fibonacci.zip")


def test_fact_prints_the_gps_fact() -> None:
    result = CliRunner().invoke(cli, ["pie", "fact", FIBONACCI])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "0xca15503f02f8406b599cb220879e842394f5cf2cef753f3ee430647b5981b782"


def test_fact_l2_prints_64_hex_digits() -> None:
    result = CliRunner().invoke(cli, ["pie", "fact", FIBONACCI, "--l2"])
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert line.startswith("0x") and len(line) == 66
    assert line == "0x0421388aa814277decd592f6764e5d0fe205245c6e9cda8332f01d5bddc0a537"


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["pie", "fact", str(tmp_path / "nope.zip")])
    assert result.exit_code == 2
    assert "no such file" in result.output
    assert "Traceback" not in result.output


def test_not_a_pie_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_text("hello")
    result = CliRunner().invoke(cli, ["pie", "fact", str(bad)])
    assert result.exit_code == 2
    assert "not a Cairo PIE zip" in result.output


def test_bad_program_hash_is_a_clear_error() -> None:
    result = CliRunner().invoke(cli, ["pie", "fact", FIBONACCI, "--program-hash", "xyz"])
    assert result.exit_code == 2
    assert "--program-hash" in result.output


def test_fact_of_an_aggregator_pie(tmp_path: Path) -> None:
    from orchestrator.clients.snos.pie_writer import write_cairo_pie
    from orchestrator.services.proof.fact import gps_fact

    own = [*range(100, 110), 7, 0, 1, 42, 0]  # header, x_0, no blobs, one L2->L1 message word, no L1->L2
    full = [1, 3, 0xAA, 0xBB, *own]  # one child of size 3 echoed first
    pie = tmp_path / "aggregator.zip"
    pie.write_bytes(write_cairo_pie([1, 2], full, n_steps=1))
    result = CliRunner().invoke(cli, ["pie", "fact", str(pie), "--aggregator", "--program-hash", "0x5"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "0x" + gps_fact(5, own).hex()
    plain = CliRunner().invoke(cli, ["pie", "fact", str(pie), "--program-hash", "5"])
    assert plain.output.strip() == "0x" + gps_fact(5, full).hex()


def test_l2_with_aggregator_is_rejected() -> None:
    result = CliRunner().invoke(cli, ["pie", "fact", FIBONACCI, "--l2", "--aggregator"])
    assert result.exit_code == 2
    assert "--l2 takes neither" in result.output
