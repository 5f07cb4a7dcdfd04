"""A large no-op campaign through the real platform: PostgreSQL + a private Redis + 2 Celery
workers (one pool process each) + the scheduler, all on this machine.

The no-op simulator and teacher make the platform itself the workload. Reported per window
of episodes: episodes/s (it must stay flat), the CPU the workers, PostgreSQL and the
scheduler used (cores = CPU seconds / wall seconds), and their memory; at the end Redis's
peak memory, the database size and the latency of ``blazer stats --json`` and ``blazer
episodes query --limit 100`` as whole processes. Then a far larger campaign is planned only
(the scheduler's first tick, nothing run): seconds, jobs written, messages, memory.

    .venv/bin/python benchmarks/bench_campaign_scale.py [--episodes 250000] [--plan 10000000]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import redis  # noqa: E402

from benchmarks.common import print_table, scratch_postgres  # noqa: E402
from tests.cluster import Cluster  # noqa: E402


def tree(pid: int) -> list[psutil.Process]:
    try:
        proc = psutil.Process(pid)
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_s(procs: list[psutil.Process]) -> float:
    """CPU seconds of the processes, with their reaped children's (recycled pool processes)."""
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def rss_mb(procs: list[psutil.Process]) -> float:
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 2**20


def postgres_procs() -> list[psutil.Process]:
    return [
        p for p in psutil.process_iter(["name"]) if p.info["name"] in ("postgres", "postmaster")
    ]


class Meter:
    """CPU seconds of each role since the last reading."""

    def __init__(self, cluster: Cluster, workers: list[str], scheduler: str) -> None:
        self.roles = {
            "workers": lambda: [p for w in workers for p in tree(cluster.procs[w].pid)],
            "postgres": postgres_procs,
            "scheduler": lambda: tree(cluster.procs[scheduler].pid),
        }
        self.last = self.read()

    def read(self) -> dict[str, float]:
        return {role: cpu_s(procs()) for role, procs in self.roles.items()}

    def since_last(self) -> dict[str, float]:
        now = self.read()
        used = {r: now[r] - self.last[r] for r in now}
        self.last = now
        return used


def whole_process_ms(cluster: Cluster, *args: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "blazer.cli", *args],
            env=cluster.env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run_campaign(args, tmp: Path, url: str) -> tuple[list[list], list[list]]:
    from models.db import session_scope
    from scheduler import campaigns
    from scheduler.spec import CampaignSpec

    cluster = Cluster(url, tmp, BLAZER_LOG_LEVEL="WARNING", BLAZER_SCHEDULER_TICK_S="1.0")
    windows, end = [], []
    try:
        cluster.start_redis()
        workers = [cluster.start_worker(), cluster.start_worker()]
        time.sleep(10)  # workers start outside the clock
        spec = {
            "name": "scale",
            "tasks": ["PickCube-v1"],
            "teacher": "noop",
            "simulator": "noop",
            "successes": args.episodes,
            "attempt_cap": args.episodes,
            "block_size": args.block,
        }
        with session_scope() as s:
            campaigns.create_campaign(s, CampaignSpec.from_dict(spec))
        scheduler = cluster.start_scheduler()
        meter = Meter(cluster, workers, scheduler)
        start = last_t = time.perf_counter()
        next_mark, done = args.window, 0
        while done < args.episodes:
            time.sleep(0.25)
            done = cluster.sql("SELECT coalesce(sum(attempts), 0) FROM campaign_tasks")[0][0]
            if done >= next_mark or done >= args.episodes:
                now = time.perf_counter()
                wall, used = now - last_t, meter.since_last()
                mem = {r: rss_mb(procs()) for r, procs in meter.roles.items() if r != "postgres"}
                windows.append(
                    [
                        f"{next_mark - args.window:,}-{min(done, next_mark):,}",
                        f"{wall:.1f}",
                        f"{args.window / wall:,.0f}",
                        f"{used['workers'] / wall:.2f}",
                        f"{used['postgres'] / wall:.2f}",
                        f"{used['scheduler'] / wall:.2f}",
                        f"{mem['workers']:.0f}",
                        f"{mem['scheduler']:.0f}",
                    ]
                )
                print(windows[-1], flush=True)
                last_t, next_mark = now, next_mark + args.window
            if time.perf_counter() - start > args.timeout:
                raise TimeoutError(f"{done} of {args.episodes} episodes after {args.timeout} s")
        total = time.perf_counter() - start
        cluster.wait_done("scale", 120)
        stored = cluster.sql("SELECT count(*) FROM episodes")[0][0]
        assert stored == args.episodes, (stored, args.episodes)
        r = redis.Redis(port=cluster.redis_port)
        db_mb = cluster.sql("SELECT pg_database_size(current_database())")[0][0] / 2**20
        end = [
            ["episodes stored", f"{stored:,}"],
            ["whole campaign", f"{total:.0f} s, {stored / total:,.0f} episodes/s"],
            ["Redis peak memory", f"{r.info('memory')['used_memory_peak'] / 2**20:.1f} MB"],
            ["database size", f"{db_mb:.0f} MB ({db_mb * 2**20 / stored:,.0f} bytes per episode)"],
            *[
                [
                    f"table {name}: live / dead rows, sequential / index scans",
                    f"{live:,} / {dead:,}, {seq:,} / {idx or 0:,}",
                ]
                for name, live, dead, seq, idx in cluster.sql(
                    "SELECT relname, n_live_tup, n_dead_tup, seq_scan, idx_scan FROM pg_stat_user_tables "
                    "WHERE relname IN ('episodes', 'jobs', 'campaign_tasks', 'episode_stats') ORDER BY relname"
                )
            ],
            [
                "`blazer stats --json` (whole process, median of 5)",
                f"{whole_process_ms(cluster, 'stats', '--json'):.0f} ms",
            ],
            [
                "`blazer episodes query --limit 100` (same)",
                f"{whole_process_ms(cluster, 'episodes', 'query', '--limit', '100'):.0f} ms",
            ],
        ]
    finally:
        cluster.stop()
    return windows, end


def plan_only(episodes: int, workers: int, tmp: Path) -> list[str]:
    """The first scheduler tick of a campaign of ``episodes``: plan and publish, nothing run."""
    import os

    from benchmarks.bench_enqueue import PretendWorkers
    from tests.cluster import free_port

    port = free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(1)
    os.environ["BLAZER_BROKER_URL"] = f"redis://127.0.0.1:{port}/0"
    try:
        with scratch_postgres():
            from sqlalchemy import func, select

            from models.db import session_scope
            from models.orm import Job
            from scheduler import campaigns
            from scheduler.loop import Scheduler
            from scheduler.spec import CampaignSpec

            spec = {
                "name": "plan",
                "tasks": ["PickCube-v1"],
                "teacher": "noop",
                "simulator": "noop",
                "successes": episodes,
                "attempt_cap": episodes,
                "block_size": 50,
            }
            with session_scope() as s:
                campaigns.create_campaign(s, CampaignSpec.from_dict(spec))
            me = psutil.Process()
            rss_before = me.memory_info().rss
            start = time.perf_counter()
            Scheduler(PretendWorkers(workers), campaign="plan").tick()
            seconds = time.perf_counter() - start
            grown = (me.memory_info().rss - rss_before) / 2**20
            with session_scope() as s:
                jobs = s.scalar(select(func.count()).select_from(Job))
            r = redis.Redis(port=port)
            return [
                f"{episodes:,}",
                f"{seconds:.2f}",
                f"{jobs}",
                f"{r.llen('rollout')}",
                f"{r.info('memory')['used_memory'] / 2**20:.1f}",
                f"{grown:+.1f}",
            ]
    finally:
        server.kill()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=250_000)
    ap.add_argument("--window", type=int, default=50_000)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--plan", type=int, default=10_000_000)
    ap.add_argument("--timeout", type=float, default=3600)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with scratch_postgres() as url:
            windows, end = run_campaign(args, Path(tmp) / "run", url)
        planned = plan_only(args.plan, 2, Path(tmp))
    print_table(
        f"Campaign scale: {args.episodes:,} no-op episodes, 2 Celery workers, Redis, PostgreSQL",
        [
            "episodes",
            "seconds",
            "episodes/s",
            "worker cores",
            "postgres cores",
            "scheduler cores",
            "worker RSS MB",
            "scheduler RSS MB",
        ],
        windows,
    )
    print_table("Campaign scale, at the end", ["measure", "value"], end)
    print_table(
        f"Campaign scale, planned only: the first tick of a {args.plan:,}-episode campaign",
        ["episodes", "seconds", "jobs written", "messages queued", "Redis MB", "scheduler RSS +MB"],
        [planned],
    )


if __name__ == "__main__":
    main()
