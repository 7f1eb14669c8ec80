"""The guide's limits, checked: no module of orchestrator/ over 400 lines, no function over 60, and every
`type: ignore` explained by a comment (mypy strict reports the unneeded ones)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "orchestrator"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """(name, lines) of every function or method whose def..last line spans more than `limit` lines."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                found.append((node.name, length))
    return found


def test_no_module_is_over_the_limit() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in _modules()}
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_no_function_is_over_the_limit() -> None:
    over = {str(p.relative_to(ROOT)): found for p in _modules() if (found := long_functions(p.read_text()))}
    assert over == {}


def test_the_function_measure_counts_from_def_to_the_last_line() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    assert long_functions(f"def f():\n{body}\n") == [("f", 61)]
    assert long_functions(f"async def g():\n{body[:-12]}\n") == []


def unexplained_ignores(source: str) -> list[int]:
    """Line numbers of `type: ignore` comments with no reason: none after them, none on the line above."""
    lines = source.splitlines()
    found = []
    for number, line in enumerate(lines, 1):
        _, marker, rest = line.partition("# type: ignore")
        if not marker:
            continue
        reason_after = "#" in rest or " - " in rest
        reason_above = number > 1 and lines[number - 2].strip().startswith("#")
        if not (reason_after or reason_above):
            found.append(number)
    return found


def test_every_type_ignore_is_explained() -> None:
    unexplained = {str(p.relative_to(ROOT)): found for p in _modules() if (found := unexplained_ignores(p.read_text()))}
    assert unexplained == {}


def test_an_ignore_without_a_reason_is_found() -> None:
    assert unexplained_ignores("x = f()  # type: ignore[arg-type]\n") == [1]
    assert unexplained_ignores("# the stub is wrong\nx = f()  # type: ignore[arg-type]\n") == []
    assert unexplained_ignores("x = f()  # type: ignore[arg-type]  # the stub is wrong\n") == []
