"""CLI start-up: ``blazer --help``, ``blazer stats`` and ``blazer episodes query`` as whole
processes (interpreter start, imports, query, output) on a PostgreSQL database of
``--rows`` episodes, median of ``--repeat`` runs after one warm-up.

The strongest alternative is a bare script doing the same work: the interpreter, psycopg,
the same summary query, JSON out (what a lab would write instead of ``blazer stats
--json``). The interpreter alone (``python -c pass``) is the floor. Budget: 300 ms.

    .venv/bin/python benchmarks/bench_cli.py [--rows 100000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_stats import fill  # noqa: E402
from benchmarks.common import print_table, scratch_postgres  # noqa: E402
from models.stats import STATS_SQL  # noqa: E402

BUDGET_MS = 300.0
BARE_STATS = """
import json, sys, psycopg
with psycopg.connect(sys.argv[1]) as conn:
    rows = conn.execute(sys.argv[2]).fetchall()
print(json.dumps([list(r) for r in rows]))
"""


def median_ms(argv: list[str], env: dict[str, str], repeat: int) -> float:
    """Median wall time of the whole process, after one warm-up run; it must succeed."""
    times = []
    for i in range(repeat + 1):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True, cwd=ROOT)
        if i:
            times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    py = sys.executable
    with scratch_postgres() as url:
        fill(url, args.rows, "cli")
        env = {**os.environ, "BLAZER_DATABASE_URL": url}
        blazer = [py, "-m", "blazer.cli"]
        bare = [py, "-c", BARE_STATS, url.replace("+psycopg", ""), STATS_SQL]
        runs = {
            "python -c pass (the interpreter alone)": [py, "-c", "pass"],
            "bare psycopg script: the stats query, JSON out": bare,
            "blazer --help": [*blazer, "--help"],
            "blazer stats --json": [*blazer, "stats", "--json"],
            "blazer stats (table)": [*blazer, "stats"],
            "blazer episodes query --limit 100": [*blazer, "episodes", "query", "--limit", "100"],
        }
        ms = {name: median_ms(argv, env, args.repeat) for name, argv in runs.items()}
    floor = ms["bare psycopg script: the stats query, JSON out"]
    rows = [
        [
            name,
            f"{t:.0f}",
            f"{t / BUDGET_MS:.2f}x",
            f"{t / floor:.2f}x" if name.startswith("blazer") else "",
        ]
        for name, t in ms.items()
    ]
    print_table(
        f"CLI start-up, whole processes, median of {args.repeat} ({args.rows:,} episodes)",
        ["command", "median ms", "of the 300 ms budget", "vs the bare script"],
        rows,
    )


if __name__ == "__main__":
    main()
