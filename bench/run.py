"""`make bench`: runs the bench/bench_*.py scripts, each in its own process; each prints its own table.

`--only` picks parts: a script's name without `bench_` (da, engine, queries, devnet), or one part of
the devnet benchmark (idle, latency, reference, throughput), comma separated. E.g. `bench/run.py --only
queries` or `--only latency,reference` (the reference-timing run alone takes several minutes).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEVNET_PARTS = ("idle", "latency", "reference", "throughput")


def plan(only: list[str]) -> list[list[str]]:
    """The commands to run, in order."""
    scripts = {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}
    unknown = set(only) - set(scripts) - set(DEVNET_PARTS)
    if unknown:
        raise ValueError(
            f"unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join([*scripts, *DEVNET_PARTS])}"
        )
    commands = []
    for name, script in scripts.items():
        if not only or name in only:
            commands.append([sys.executable, str(script)])
        elif name == "devnet" and (parts := [p for p in DEVNET_PARTS if p in only]):
            commands.append([sys.executable, str(script), "--only", ",".join(parts)])
    return commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated parts (default: everything)")
    args = parser.parse_args(argv)
    try:
        commands = plan([p.strip() for p in args.only.split(",") if p.strip()])
    except ValueError as exc:
        parser.error(str(exc))
    failed = []
    for command in commands:
        print(f"\n## {' '.join(Path(c).stem if c.endswith('.py') else c for c in command[1:])}", flush=True)
        if subprocess.run(command, cwd=HERE.parent, check=False).returncode != 0:
            failed.append(Path(command[1]).name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
