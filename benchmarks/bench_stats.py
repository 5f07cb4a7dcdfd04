"""Stats: ``blazer stats`` over 1,000,000 episodes. The recorder keeps a summary table
(``episode_stats``) in step, so the query reads a few rows per task; a GROUP BY over the
episodes table is measured beside it.

    .venv/bin/python benchmarks/bench_stats.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from benchmarks.common import print_table, scratch_postgres  # noqa: E402
from benchmarks.synthetic import TASKS  # noqa: E402
from models.db import get_engine, session_scope  # noqa: E402
from models.orm import Campaign  # noqa: E402
from models.stats import episode_stats  # noqa: E402

FILL = """
INSERT INTO episodes (campaign_id, task, robot, seed, attempt, teacher, success, failure_reason,
                      prompt_version, completion, plan, scene, timings, created_at)
SELECT :cid, (ARRAY{tasks})[1 + g % 6], 'panda', g, 0, 'expert', g % 3 <> 0,
       CASE WHEN g % 3 = 0 THEN (ARRAY['parse_error','motion_failed','task_failed'])[1 + g % 3] END,
       'v1', 'move_gripper([0.1, 0.2, 0.3])', '[]'::jsonb, '{{"seed": 1}}'::jsonb, '{{}}'::jsonb, now()
FROM generate_series(1, :n) AS g
"""
SUMMARY = """
INSERT INTO episode_stats (campaign_id, task, robot, teacher, outcome, count)
SELECT campaign_id, task, robot, teacher, CASE WHEN success THEN 'success' ELSE failure_reason END, count(*)
FROM episodes GROUP BY 1, 2, 3, 4, 5
"""
GROUP_BY = """
SELECT c.name, e.task, e.robot, e.teacher, count(*), count(*) FILTER (WHERE e.success), e.failure_reason
FROM episodes e JOIN campaigns c ON c.id = e.campaign_id GROUP BY 1, 2, 3, 4, 7
"""


def median_ms(fn, n: int = 15) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def fill(url: str, rows: int, campaign: str) -> None:
    """A campaign of ``rows`` synthetic episodes over the six tasks, its summary rows kept
    as the recorder keeps them, and the tables analyzed."""
    with session_scope() as s:
        c = Campaign(
            name=campaign, teacher_kind="expert", teacher="expert", teacher_config={}, spec={}
        )
        s.add(c)
        s.flush()
        cid = c.id
    with get_engine(url).begin() as conn:
        tasks = "[" + ",".join(f"'{t}'" for t in TASKS) + "]"
        conn.execute(text(FILL.format(tasks=tasks)), {"cid": cid, "n": rows})
        conn.execute(text(SUMMARY))
        conn.execute(text("ANALYZE"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    with scratch_postgres() as url:
        fill(url, args.rows, "big")
        engine = get_engine(url)

        def summary():
            with session_scope() as s:
                assert sum(r.attempts for r in episode_stats(s)) == args.rows

        def group_by():
            with engine.connect() as conn:
                conn.execute(text(GROUP_BY)).all()

        ours, naive = median_ms(summary), median_ms(group_by, 5)
        env = {"BLAZER_DATABASE_URL": url, "PATH": str(Path(sys.executable).parent)}
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "blazer.cli", "stats", "--json"],
            env=env,
            check=True,
            capture_output=True,
        )
        cli = time.perf_counter() - start
    rows = [
        [
            "episode_stats summary (what `blazer stats` reads)",
            f"{ours:.1f}",
            f"{naive / ours:.0f}x faster",
        ],
        ["GROUP BY over episodes", f"{naive:.1f}", ""],
        ["whole `blazer stats --json` process (startup included)", f"{1000 * cli:.0f}", ""],
    ]
    print_table(f"Stats over {args.rows:,} episodes", ["query", "median ms", "ratio"], rows)


if __name__ == "__main__":
    main()
