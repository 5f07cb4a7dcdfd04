"""The web console over 1,000,000 episodes in PostgreSQL: every page's server time (the
``Server-Timing`` header of the real ``blazer ui`` process, warm, p50 and p95 of 20 requests),
and each episode list page beside the same SQL run bare through psycopg, in one run.

    .venv/bin/python benchmarks/bench_ui.py [--rows 1000000]

Goals (issue 30): every page p95 <= 200 ms; an episode list page <= 100 ms.
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

import httpx  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402

from benchmarks.common import print_table, scratch_postgres  # noqa: E402
from benchmarks.synthetic import TASKS  # noqa: E402
from models.db import get_engine  # noqa: E402

CAMPAIGNS = 10
ROBOTS = ["panda", "xarm6_robotiq", "xarm7_robotiq", "widowxai"]
TEACHERS = ["expert", "hf:smollm2-135m", "registry:student-v3"]
REASONS = [
    "parse_error",
    "motion_failed",
    "task_failed",
    "plan_unreachable",
    "unsafe_plan",
    "no_code",
    "teacher_error",
    "sim_error",
    "timeout",  # rare: one in ~10,000 failures
]
FILL = """
INSERT INTO episodes (campaign_id, task, robot, seed, attempt, teacher, success, failure_reason,
  failure_detail, prompt_version, completion, plan, scene, timings, prompt_tokens,
  completion_tokens, job_id, worker, created_at)
SELECT c.id, (ARRAY{tasks})[1 + (g / 7) % 6], (ARRAY{robots})[1 + (g / 3) % 4], g, 0,
  (ARRAY{teachers})[1 + c.id % 3], g % 3 <> 0,
  CASE WHEN g % 3 = 0 THEN CASE WHEN g % 30000 = 0 THEN 'timeout'
       ELSE (ARRAY{reasons})[1 + (g / 3) % 8] END END,
  CASE WHEN g % 3 = 0 THEN 'the step failed at waypoint 2' END,
  'v2', repeat('move_gripper([0.1, 0.2, 0.3], 0)\n', 12),
  '[{{"op": "move", "position": [0.1, 0.2, 0.3]}}]'::jsonb,
  '{{"task": "PickCube-v1", "objects": [{{"name": "cube", "position": [0.1, 0.2, 0.02]}}]}}'::jsonb,
  '{{"teacher": 0.8, "sim": 1.2}}'::jsonb, 900, 120, g / 8, 'worker-1',
  now() - make_interval(secs => (:n - g) * 0.05)
FROM generate_series(1, :n) AS g
JOIN campaigns c ON c.name = 'campaign-' || (1 + g % {campaigns})
"""
SUMMARY = """
INSERT INTO episode_stats (campaign_id, task, robot, teacher, outcome, count)
SELECT campaign_id, task, robot, teacher, CASE WHEN success THEN 'success' ELSE failure_reason END,
  count(*) FROM episodes GROUP BY 1, 2, 3, 4, 5
"""
TASK_LINES = """
INSERT INTO campaign_tasks (campaign_id, task, robot, target_successes, attempt_cap, seed_split,
  next_seed, successes, attempts, surplus_discarded)
SELECT campaign_id, task, robot, 100000, 400000, 'train', max(seed) + 1,
  count(*) FILTER (WHERE success), count(*), 0 FROM episodes GROUP BY 1, 2, 3
"""
JOBS = """
INSERT INTO jobs (campaign_id, campaign_task_id, seed_start, seed_count, state, priority,
  publishes, deliveries, created_at)
SELECT t.campaign_id, t.id, g * 8, 8,
  CASE WHEN g % 50 = 0 THEN 'queued' WHEN g % 997 = 0 THEN 'failed' ELSE 'done' END, 0, 1, 1, now()
FROM campaign_tasks t, generate_series(1, :per_task) AS g
"""
BARE_LIST = (
    "SELECT id, campaign_id, task, robot, seed, attempt, teacher, success, failure_reason, "
    "traj_uri, created_at FROM episodes WHERE {where} ORDER BY id DESC LIMIT 51"
)


def fill(url: str, rows: int) -> None:
    with get_engine(url).begin() as conn:
        for i in range(1, CAMPAIGNS + 1):
            conn.execute(
                text(
                    "INSERT INTO campaigns (name, state, priority, teacher_kind, teacher, "
                    "teacher_config, spec, block_size, created_at) VALUES (:n, :s, 0, 'expert', "
                    "'expert', '{}', '{}', 8, now())"
                ),
                {"n": f"campaign-{i}", "s": "active" if i <= 2 else "done"},
            )
        arr = lambda xs: "[" + ",".join(f"'{x}'" for x in xs) + "]"  # noqa: E731
        conn.execute(
            text(
                FILL.format(
                    tasks=arr(TASKS),
                    robots=arr(ROBOTS),
                    teachers=arr(TEACHERS),
                    reasons=arr(REASONS[:8]),
                    campaigns=CAMPAIGNS,
                )
            ),
            {"n": rows},
        )
        conn.execute(text(SUMMARY))
        conn.execute(text(TASK_LINES))
        per_task = max(1, rows // 8 // (CAMPAIGNS * len(TASKS) * len(ROBOTS)))
        conn.execute(text(JOBS), {"per_task": per_task})
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def pages(mid_id: int, some_id: int) -> list[tuple[str, str, str | None]]:
    """(label, path, the list page's WHERE run bare or None)."""
    return [
        ("campaigns", "/", None),
        ("campaign (live progress)", "/campaigns/campaign-1", None),
        ("campaign progress block", "/campaigns/campaign-1/progress", None),
        ("workers and queue", "/workers", None),
        ("failures (all)", "/failures", None),
        ("failures (one campaign)", "/failures?campaign=campaign-3", None),
        ("episodes, newest", "/episodes", "true"),
        (
            "episodes, campaign",
            "/episodes?campaign=campaign-3",
            "campaign_id = (SELECT id FROM campaigns WHERE name = 'campaign-3')",
        ),
        (
            "episodes, task + robot",
            "/episodes?task=StackCube-v1&robot=widowxai",
            "task = 'StackCube-v1' AND robot = 'widowxai'",
        ),
        (
            "episodes, teacher",
            "/episodes?teacher=registry:student-v3",
            "teacher = 'registry:student-v3'",
        ),
        (
            "episodes, outcome failure",
            "/episodes?outcome=failure",
            "success = false",
        ),
        (
            "episodes, rare reason (timeout)",
            "/episodes?reason=timeout",
            "success = false AND failure_reason = 'timeout'",
        ),
        (
            "episodes, seed range",
            "/episodes?seed_min=400000&seed_max=400100",
            "seed >= 400000 AND seed <= 400100",
        ),
        (
            "episodes, campaign + reason, older page",
            f"/episodes?campaign=campaign-2&reason=motion_failed&before={mid_id}",
            "campaign_id = (SELECT id FROM campaigns WHERE name = 'campaign-2') AND "
            f"success = false AND failure_reason = 'motion_failed' AND id < {mid_id}",
        ),
        ("episode page", f"/episodes/{some_id}", None),
        ("datasets", "/datasets", None),
        ("models", "/models", None),
    ]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=20)
    args = ap.parse_args()
    with scratch_postgres() as url:
        start = time.perf_counter()
        fill(url, args.rows)
        fill_s = time.perf_counter() - start
        bare_url = url.replace("+psycopg", "")
        with psycopg.connect(bare_url) as conn:
            mid_id = conn.execute("SELECT max(id) / 2 FROM episodes").fetchone()[0]
            some_id = conn.execute("SELECT max(id) - 7 FROM episodes").fetchone()[0]
        port = free_port()
        env = {**os.environ, "BLAZER_DATABASE_URL": url}
        server = subprocess.Popen(
            [sys.executable, "-m", "blazer.cli", "ui", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(base + "/static/console.css", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            rows = []
            with (
                httpx.Client(base_url=base, timeout=30) as client,
                psycopg.connect(bare_url) as conn,
            ):
                for label, path, where in pages(mid_id, some_id):
                    server_ms = []
                    for i in range(args.requests + 2):
                        got = client.get(path)
                        assert got.status_code == 200, (path, got.status_code, got.text[:300])
                        if i >= 2:  # two warm-up requests
                            timing = got.headers["server-timing"].split("dur=")[1]
                            server_ms.append(float(timing))
                    bare = ""
                    if where is not None:
                        sql = BARE_LIST.format(where=where)
                        bare_ms = []
                        for i in range(args.requests + 2):
                            t0 = time.perf_counter()
                            conn.execute(sql).fetchall()
                            if i >= 2:
                                bare_ms.append(1000 * (time.perf_counter() - t0))
                        bare = f"{pct(bare_ms, 95):.1f}"
                        ratio = f"{pct(server_ms, 95) / max(pct(bare_ms, 95), 0.01):.1f}x"
                    else:
                        ratio = ""
                    goal = 100 if where is not None else 200
                    p95 = pct(server_ms, 95)
                    rows.append(
                        [
                            label,
                            f"{statistics.median(server_ms):.1f}",
                            f"{p95:.1f}",
                            bare,
                            ratio,
                            f"{'ok' if p95 <= goal else 'OVER'} (<= {goal})",
                        ]
                    )
        finally:
            server.terminate()
            server.wait(10)
    print_table(
        f"Console (blazer ui) over {args.rows:,} episodes in PostgreSQL, {CAMPAIGNS} campaigns"
        f" (fill {fill_s:.0f} s)",
        ["page", "server p50 ms", "server p95 ms", "bare SQL p95 ms", "page / bare", "goal"],
        rows,
    )


if __name__ == "__main__":
    main()
