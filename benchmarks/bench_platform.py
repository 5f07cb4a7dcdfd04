"""Through the real distributed platform (PostgreSQL + a private Redis + 2 Celery workers):

1. platform overhead: a no-op simulator and teacher (benchmark-only), episodes/s;
2. real throughput: the scripted expert on the six tasks, against ManiSkill's own
   ``run.py --num-procs 2`` generating the same number of episodes, in the same run.

    .venv/bin/python benchmarks/bench_platform.py [--noop 4000] [--per-task 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import print_table, scratch_postgres  # noqa: E402
from manip.sim.isolated import sim_environment  # noqa: E402
from manip.sim.tasks import TASKS as TASK_MODULES  # noqa: E402
from tests.cluster import Cluster  # noqa: E402

TASKS = list(TASK_MODULES)


def campaign_rate(url: str, tmp: Path, spec: dict, episodes: int) -> tuple[float, int]:
    from models.db import session_scope
    from scheduler import campaigns
    from scheduler.spec import CampaignSpec

    cluster = Cluster(url, tmp, BLAZER_LOG_LEVEL="WARNING", BLAZER_QUEUE_DEPTH_PER_WORKER="3")
    try:
        cluster.start_redis()
        cluster.start_worker()
        cluster.start_worker()
        time.sleep(12)  # workers and their simulator processes start outside the clock
        with session_scope() as s:
            campaigns.create_campaign(s, CampaignSpec.from_dict(spec))
        start = time.perf_counter()
        cluster.start_scheduler()
        cluster.wait_done(spec["name"], 3600)
        seconds = time.perf_counter() - start
        done = cluster.sql("SELECT count(*) FROM episodes")[0][0]
        ok = cluster.sql("SELECT count(*) FROM episodes WHERE success")[0][0]
    finally:
        cluster.stop()
    assert done == episodes, (done, episodes)
    return done / seconds, ok


def maniskill_rate(per_task: int) -> float:
    env = {**os.environ, **sim_environment()}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        for task in TASKS:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "mani_skill.examples.motionplanning.panda.run",
                    "-e",
                    task,
                    "-n",
                    str(per_task),
                    "--num-procs",
                    "2",
                    "--record-dir",
                    out,
                    "-b",
                    "cpu",
                ],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
    return per_task * len(TASKS) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--noop", type=int, default=4000)
    ap.add_argument("--per-task", type=int, default=20)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, scratch_postgres() as url:
        spec = {
            "name": "noop",
            "tasks": ["PickCube-v1"],
            "teacher": "noop",
            "simulator": "noop",
            "successes": args.noop,
            "attempt_cap": args.noop,
            "block_size": 50,
        }
        rate, _ = campaign_rate(url, Path(tmp) / "a", spec, args.noop)
        rows.append(["no-op sim + teacher, 2 Celery workers", args.noop, f"{rate:.0f}", "", ""])
    with tempfile.TemporaryDirectory() as tmp, scratch_postgres() as url:
        n = args.per_task * len(TASKS)
        spec = {
            "name": "expert",
            "tasks": TASKS,
            "successes": args.per_task,
            "attempt_cap": args.per_task,
            "block_size": 5,
        }
        ours, ok = campaign_rate(url, Path(tmp) / "b", spec, n)
    theirs = maniskill_rate(args.per_task)
    rows.append(
        [
            f"expert, 6 tasks, 2 Celery workers ({ok}/{n} successes)",
            n,
            f"{ours:.2f}",
            f"{theirs:.2f}",
            f"{ours / theirs:.2f}x",
        ]
    )
    print_table(
        "Platform throughput",
        ["run", "episodes", "episodes/s", "ManiSkill run.py --num-procs 2", "ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
