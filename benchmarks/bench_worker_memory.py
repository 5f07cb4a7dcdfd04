"""Worker memory: one Celery worker (main process + pool process + simulator process; with
``--pool solo`` main + simulator) after an expert campaign of ``--episodes`` episodes,
against ManiSkill's own ``run.py`` generating as many episodes in one process, same run.

RSS counts a page once per process that maps it, so for a forked pool (which shares most of
its parent's pages) the sum of RSS counts shared pages twice; PSS splits each shared page
among the processes that share it, so the sum of PSS is what the worker really holds. Both
are shown; ManiSkill's single process has PSS = RSS up to shared libraries.

    .venv/bin/python benchmarks/bench_worker_memory.py [--episodes 20] [--task PickCube-v1]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from benchmarks.common import print_table, scratch_postgres  # noqa: E402
from manip.sim.isolated import sim_environment  # noqa: E402
from tests.cluster import Cluster  # noqa: E402


def memory_mb(procs: list[psutil.Process]) -> dict[str, float]:
    """Sum of RSS and of PSS over the processes, MB; and each process's RSS by name."""
    out = {"rss": 0.0, "pss": 0.0}
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            info = p.memory_full_info()
            out["rss"] += info.rss / 2**20
            out["pss"] += info.pss / 2**20
    return out


def ours(url: str, tmp: Path, task: str, episodes: int, pool: str) -> tuple[dict, list[str]]:
    from models.db import session_scope
    from scheduler import campaigns
    from scheduler.spec import CampaignSpec

    cluster = Cluster(url, tmp, BLAZER_LOG_LEVEL="WARNING")
    try:
        cluster.start_redis()
        name = cluster.start_worker("--pool", pool)
        with session_scope() as s:
            campaigns.create_campaign(
                s,
                CampaignSpec.from_dict(
                    {
                        "name": f"mem-{pool}",
                        "tasks": [task],
                        "successes": episodes,
                        "attempt_cap": episodes,
                        "block_size": 5,
                    }
                ),
            )
        cluster.start_scheduler()
        cluster.wait_done(f"mem-{pool}", 900)
        root = psutil.Process(cluster.procs[name].pid)
        procs = [root, *root.children(recursive=True)]
        roles = ("main", "pool", "simulator") if pool == "prefork" else ("main", "simulator")
        each = [(role, memory_mb([p])) for role, p in zip(roles, procs, strict=False)]
        parts = [f"{role} {m['rss']:.0f}/{m['pss']:.0f}" for role, m in each]
        return memory_mb(procs), parts
    finally:
        cluster.stop()


def maniskill(task: str, episodes: int) -> dict:
    """Peak of ManiSkill's run.py (one process), sampled every 0.2 s."""
    env = {**os.environ, **sim_environment()}
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mani_skill.examples.motionplanning.panda.run",
                "-e",
                task,
                "-n",
                str(episodes),
                "--record-dir",
                out,
                "-b",
                "cpu",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        peak = {"rss": 0.0, "pss": 0.0}
        p = psutil.Process(proc.pid)
        while proc.poll() is None:
            now = memory_mb([p, *p.children(recursive=True)])
            peak = {k: max(peak[k], now[k]) for k in peak}
            time.sleep(0.2)
    return peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--task", default="PickCube-v1")
    args = ap.parse_args()
    mine, parts = {}, {}
    for pool in ("prefork", "solo"):
        with tempfile.TemporaryDirectory() as tmp, scratch_postgres() as url:
            mine[pool], parts[pool] = ours(url, Path(tmp), args.task, args.episodes, pool)
        print(f"{pool} worker's processes (RSS/PSS MB):", ", ".join(parts[pool]), flush=True)
    theirs = maniskill(args.task, args.episodes)
    rows = [
        ["ManiSkill run.py, peak (1 process)", f"{theirs['rss']:.0f}", f"{theirs['pss']:.0f}", ""]
    ]
    for pool, what in (
        ("prefork", "Celery main + pool + simulator"),
        ("solo", "Celery main + simulator"),
    ):
        m = mine[pool]
        rows.append(
            [
                f"blazer worker --pool {pool} ({what})",
                f"{m['rss']:.0f}",
                f"{m['pss']:.0f}",
                f"{m['rss'] / theirs['rss']:.2f}x RSS, {m['pss'] / theirs['pss']:.2f}x PSS",
            ]
        )
    print_table(
        f"Worker memory after {args.episodes} {args.task} episodes",
        ["", "RSS sum MB", "PSS sum MB", "vs ManiSkill"],
        rows,
    )


if __name__ == "__main__":
    main()
