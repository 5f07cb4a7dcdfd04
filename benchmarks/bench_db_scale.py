"""Ten million episodes in one PostgreSQL database: every read command as a whole process
(median of 5 after a warm-up) beside the same SQL run bare (a python + psycopg process), the
EXPLAIN plan of each, DB bytes per episode, the fill rate; then ``dataset build`` over a
campaign of 1,000,000 successes (wall time, peak RSS) and its LeRobot-free JSONL export.

    .venv/bin/python benchmarks/bench_db_scale.py [--rows 10000000] [--build-rows 1000000]

Budgets (issue 32): stats and stats --campaign <= 300 ms; episodes query with any filter,
newest first, --limit 100 <= 300 ms; episodes show <= 200 ms; dataset build <= 60 s, <= 1 GB.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from benchmarks.common import RESULTS, print_table, scratch_postgres  # noqa: E402
from benchmarks.synthetic import fill_postgres  # noqa: E402
from models.stats import STATS_SQL  # noqa: E402

BARE = """
import sys, psycopg
with psycopg.connect(sys.argv[1]) as conn:
    rows = conn.execute(sys.argv[2]).fetchall()
print(len(rows))
"""
LIST = (
    "SELECT id, campaign_id, task, robot, seed, attempt, teacher, success, failure_reason, "
    "failure_detail, prompt_version, prompt_tokens, completion_tokens, traj_uri, traj_bytes, "
    "traj_steps, traj_error, created_at FROM episodes WHERE {where} ORDER BY id DESC LIMIT 100"
)
CAMPAIGN = "campaign_id = (SELECT id FROM campaigns WHERE name = 'campaign-3')"


def commands(some_id: int, mid_id: int) -> list[tuple[str, list[str], str, int]]:
    """(label, blazer arguments, the bare SQL, budget ms)."""
    q = ["episodes", "query", "--newest", "--limit", "100", "--format", "jsonl"]
    return [
        ("stats", ["stats", "--json"], STATS_SQL, 300),
        (
            "stats --campaign",
            ["stats", "--campaign", "campaign-3", "--json"],
            STATS_SQL + " WHERE c.name = 'campaign-3'",
            300,
        ),
        ("query (no filter)", q, LIST.format(where="true"), 300),
        ("query --campaign", [*q, "--campaign", "campaign-3"], LIST.format(where=CAMPAIGN), 300),
        (
            "query --task --robot",
            [*q, "--task", "StackCube-v1", "--robot", "widowxai"],
            LIST.format(where="task = 'StackCube-v1' AND robot = 'widowxai'"),
            300,
        ),
        (
            "query --teacher",
            [*q, "--teacher", "registry:student-v3"],
            LIST.format(where="teacher = 'registry:student-v3'"),
            300,
        ),
        ("query --success", [*q, "--success"], LIST.format(where="success = true"), 300),
        (
            "query --failure --reason timeout (rare)",
            [*q, "--failure", "--reason", "timeout"],
            LIST.format(where="success = false AND failure_reason = 'timeout'"),
            300,
        ),
        (
            "query --seed-min --seed-max",
            [*q, "--seed-min", "4000000", "--seed-max", "4000500"],
            LIST.format(where="seed >= 4000000 AND seed <= 4000500"),
            300,
        ),
        (
            "query --campaign --reason, next page",
            [
                *q,
                "--campaign",
                "campaign-2",
                "--failure",
                "--reason",
                "motion_failed",
                "--before",
                str(mid_id),
            ],  # fmt: skip
            LIST.format(
                where=f"{CAMPAIGN.replace('campaign-3', 'campaign-2')} AND success = false "
                f"AND failure_reason = 'motion_failed' AND id < {mid_id}"
            ),
            300,
        ),
        (
            "episodes show",
            ["episodes", "show", str(some_id)],
            f"SELECT * FROM episodes WHERE id = {some_id}",
            200,
        ),
    ]


def median_ms(argv: list[str], env: dict[str, str], repeat: int = 5) -> float:
    times = []
    for i in range(repeat + 1):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
        if i:
            times.append(1000 * (time.perf_counter() - start))
        assert done.returncode == 0, (argv, done.stderr[-2000:])
    return statistics.median(times)


def dataset_build(url: str, rows: int, env: dict[str, str]) -> list[str]:
    """A campaign of ``rows`` successes, then ``blazer dataset build`` over it: wall, RSS."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO campaigns (name, state, priority, teacher_kind, teacher, teacher_config,"
            " spec, block_size, created_at) VALUES ('successes', 'done', 0, 'expert', 'expert',"
            " '{}', '{}', 8, now())"
        )
        conn.execute(
            "INSERT INTO episodes (campaign_id, task, robot, seed, attempt, teacher, success, "
            "prompt_version, completion, plan, scene, timings, created_at) "
            "SELECT c.id, 'PickCube-v1', 'panda', g, 0, 'expert', true, 'v2', "
            "'move_gripper([0.1, 0.2, ' || (g %% 997) || '], 0)', '[]'::jsonb, "
            "jsonb_build_object('task', 'PickCube-v1', 'robot', 'panda', 'seed', g, "
            "'description', 'Pick up the cube.', 'objects', jsonb_build_array(jsonb_build_object("
            "'name', 'cube', 'kind', 'object', 'position', jsonb_build_array(g %% 100 / 1000.0, 0, "
            "0.02), 'yaw_deg', 0, 'size', jsonb_build_array(0.04, 0.04, 0.04))), 'ee_position', "
            "jsonb_build_array(0, 0, 0.2), 'ee_yaw_deg', 0, 'gripper_open', true, "
            "'workspace_min', jsonb_build_array(-0.6, -0.8, 0), 'workspace_max', "
            "jsonb_build_array(0.2, 0.8, 0.6), 'table_height', 0), '{}'::jsonb, now() "
            "FROM generate_series(%s, %s) g, campaigns c WHERE c.name = 'successes'",
            (900_000_000, 900_000_000 + rows - 1),
        )
        conn.execute("ANALYZE episodes")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "blazer.cli",
            "dataset",
            "build",
            "--name",
            "big",
            "--from",
            "successes",
        ],  # fmt: skip
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    assert built.returncode == 0, built.stderr[-2000:]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rss = f"{peak / 1024:.0f}" + ("" if peak > before else " (an earlier child's)")
    return [f"dataset build, {rows:,} successes", f"{wall:.1f} s", "", f"peak RSS {rss} MB"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--build-rows", type=int, default=1_000_000)
    args = ap.parse_args()
    with scratch_postgres() as sa_url:
        url = sa_url.replace("+psycopg", "")
        rate = fill_postgres(sa_url, args.rows)
        with psycopg.connect(url) as conn:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            episodes_bytes = conn.execute("SELECT pg_total_relation_size('episodes')").fetchone()[0]
            some_id, mid_id = conn.execute(
                "SELECT max(id) - 7, max(id) / 2 FROM episodes"
            ).fetchone()
        env = {**os.environ, "BLAZER_DATABASE_URL": sa_url}
        rows, plans = [], []
        for label, argv, sql, budget in commands(some_id, mid_id):
            ours = median_ms([sys.executable, "-m", "blazer.cli", *argv], env)
            bare = median_ms([sys.executable, "-c", BARE, url, sql], env)
            with psycopg.connect(url) as conn:
                plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql).fetchall()
            plans.append(f"-- {label}\n{sql}\n" + "\n".join(r[0] for r in plan))
            verdict = "ok" if ours <= budget else "OVER"
            rows.append([label, f"{ours:.0f}", f"{bare:.0f}", f"{verdict} (<= {budget})"])
            print(rows[-1], flush=True)
        rows.append(dataset_build(url, args.build_rows, env))
    title = (
        f"Scale: {args.rows:,} episodes in PostgreSQL ({size / args.rows:,.0f} DB bytes per "
        f"episode, {episodes_bytes / args.rows:,.0f} in the episodes table and its indexes; "
        f"fill {rate:,.0f} episodes/s)"
    )
    print_table(title, ["command (whole process)", "median ms", "bare psycopg ms", "budget"], rows)
    (RESULTS / "scale_plans.txt").write_text("\n\n".join(plans) + "\n")
    print(f"EXPLAIN plans: {RESULTS / 'scale_plans.txt'}")


if __name__ == "__main__":
    main()
