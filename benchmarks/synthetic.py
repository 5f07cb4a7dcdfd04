"""Synthetic episodes shaped like real ones (scene, plan and completion of realistic size)."""

from __future__ import annotations

import random

from manip.sim.tasks import TASKS as TASK_MODULES  # noqa: E402
from models.types import EpisodeRecord, FailureReason

TASKS = list(TASK_MODULES)
REASONS = [r for r in FailureReason]
COMPLETION = (
    "```python\n"
    + "move_gripper([0.0123, -0.0456, 0.07], yaw=12.5)\n" * 5
    + "task_completed()\n```"
)


def scene(seed: int) -> dict:
    rng = random.Random(seed)

    def obj(n):
        return {
            "name": n,
            "position": [rng.random(), rng.random(), 0.02],
            "yaw_deg": rng.random() * 90,
            "size": [0.04, 0.04, 0.04],
            "kind": "object",
        }

    return {
        "task": "PickCube-v1",
        "robot": "panda",
        "seed": seed,
        "description": "Pick up the cube.",
        "objects": [obj("cube"), obj("goal")],
        "ee_position": [0.0, 0.0, 0.18],
        "ee_yaw_deg": 0.0,
        "gripper_open": True,
        "workspace_min": [-0.6, -0.8, 0.0],
        "workspace_max": [0.2, 0.8, 0.6],
        "table_height": 0.0,
    }


PLAN = [
    {"op": "move", "position": [0.01, 0.02, 0.07], "yaw_deg": 12.5, "tilt_deg": 0.0, "line": i}
    for i in range(5)
]


def episodes(
    campaign_id: int, n: int, task_of=lambda i: TASKS[i % len(TASKS)], start: int = 0
) -> list[EpisodeRecord]:
    out = []
    for i in range(start, start + n):
        ok = i % 3 != 0
        out.append(
            EpisodeRecord(
                campaign_id=campaign_id,
                task=task_of(i),
                robot="panda",
                seed=i,
                attempt=0,
                teacher="expert",
                success=ok,
                failure_reason=None if ok else REASONS[i % len(REASONS)],
                failure_detail=None if ok else "line 3: stopped 3.1 cm from the target",
                prompt_version="v1",
                completion=COMPLETION,
                plan=PLAN,
                scene=scene(i),
                prompt_tokens=657,
                completion_tokens=140,
                timings={
                    "reset_s": 0.004,
                    "teacher_s": 0.0001,
                    "parse_s": 0.0003,
                    "motion_s": 0.41,
                },
                worker="bench",
            )
        )
    return out


# filling PostgreSQL server-side (the console and scale benchmarks) ---------------------------
CAMPAIGNS = 10
ROBOTS = ["panda", "xarm6_robotiq", "xarm7_robotiq", "widowxai"]
TEACHERS = ["expert", "hf:smollm2-135m", "registry:student-v3"]
FILL_REASONS = [
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
FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g
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


def fill_postgres(url: str, rows: int, *, chunk: int = 1_000_000, log=print) -> float:
    """``rows`` synthetic episodes across CAMPAIGNS campaigns (4 robots, 6 tasks, 3 teachers,
    9 failure reasons, `timeout` rare), in server-side chunks, with their summary, task lines
    and job rows, then VACUUM ANALYZE. Returns episodes per second of the fill."""
    import time

    import psycopg
    from sqlalchemy import text

    from models.db import get_engine

    start = time.perf_counter()
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
    sql = FILL.format(
        tasks=arr(TASKS),
        robots=arr(ROBOTS),
        teachers=arr(TEACHERS),
        reasons=arr(FILL_REASONS[:8]),
        campaigns=CAMPAIGNS,
    )
    for lo in range(1, rows + 1, chunk):
        with get_engine(url).begin() as conn:
            conn.execute(text(sql), {"lo": lo, "hi": min(rows, lo + chunk - 1), "n": rows})
        log(f"  filled {min(rows, lo + chunk - 1):,} / {rows:,} episodes")
    with get_engine(url).begin() as conn:
        conn.execute(text(SUMMARY))
        conn.execute(text(TASK_LINES))
        per_task = max(1, rows // 8 // (CAMPAIGNS * len(TASKS) * len(ROBOTS)))
        conn.execute(text(JOBS), {"per_task": per_task})
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return rows / (time.perf_counter() - start)
