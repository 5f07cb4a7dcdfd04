"""Does an episode re-run the same? Expert campaigns on the six BLM1 tasks (held-out seeds),
each re-run from its rows with ``blazer episodes rerun --shuffle`` (another order than the
campaign's, as two workers' interleaving gives), with one PhysX system reused across
episodes (``BLAZER_SIM_FRESH_PHYSICS=false``) and a new one before every episode (the
default).
Both sides run the same seeds in one run; the table gives what reproduces and the cost.

    .venv/bin/python -m benchmarks.bench_rerun [--seeds 10]
    .venv/bin/python -m benchmarks.bench_rerun --workers 2 --seeds 100   # the issue's 600

With ``--workers N`` the campaign runs on PostgreSQL + Redis with N Celery workers and a
scheduler (a new PhysX system per episode, the default), and
its episodes are re-run from their rows in a shuffled order.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import print_table  # noqa: E402

TASKS = (
    "PickCube-v1",
    "PushCube-v1",
    "PullCube-v1",
    "StackCube-v1",
    "PlaceSphere-v1",
    "LiftPegUpright-v1",
)


COLUMNS = (
    "reproduced",
    "same verdict",
    "drift median mm",
    "drift max mm",
    "within 1 mm",
    "campaign s",
)


def cells(r: dict) -> list:
    """A re-run summary's COLUMNS."""
    return [
        f"{r['reproduced']} ({100 * r['reproduced_rate']:.1f}%)",
        r["same_verdict"],
        r["drift_mm_median"],
        r["drift_mm_max"],
        r["within_1mm"],
        f"{r['run_s']:.0f}",
    ]


def blazer(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "blazer.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=7200,
    )


def side(fresh: bool, seeds: int, tmp: Path) -> dict:
    name = "fresh" if fresh else "reused"
    env = {**os.environ, "BLAZER_DATA_DIR": str(tmp / name), "BLAZER_SIM_FRESH_PHYSICS": str(fresh)}
    env.pop("BLAZER_DATABASE_URL", None)
    env.pop("BLAZER_BROKER_URL", None)
    spec = tmp / f"{name}.yaml"
    spec.write_text(
        f"name: {name}\ntasks: [{', '.join(TASKS)}]\nteacher: {{kind: expert}}\n"
        f"successes: {seeds}\nattempt_cap: {seeds}\nseed_split: eval\nblock_size: {seeds}\n"
    )
    start = time.perf_counter()
    done = blazer(env, "campaign", "run", str(spec))
    run_s = time.perf_counter() - start
    assert done.returncode == 0, done.stderr[-2000:]
    # in another order than the campaign ran them: what two workers' interleaving does
    out = blazer(env, "episodes", "rerun", "--campaign", name, "--shuffle", "1", "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    return {"run_s": run_s, **json.loads(out.stdout.strip().splitlines()[-1])}


def cluster_side(seeds: int, workers: int) -> dict:
    """A campaign of ``seeds`` held-out seeds per task on ``workers`` Celery workers, then
    re-run from its rows in another order."""
    from benchmarks.common import scratch_postgres
    from tests.cluster import Cluster

    with scratch_postgres() as url, tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        c = Cluster(url, tmp, BLAZER_LOG_LEVEL="WARNING", BLAZER_EPISODE_TIMEOUT_S="120")
        c.start_redis()
        try:
            spec = tmp / "rerun.yaml"
            spec.write_text(
                f"name: rerun\ntasks: [{', '.join(TASKS)}]\nteacher: {{kind: expert}}\n"
                f"successes: {seeds}\nattempt_cap: {seeds}\nseed_split: eval\nblock_size: 4\n"
            )
            assert blazer(c.env, "campaign", "create", str(spec)).returncode == 0
            start = time.perf_counter()
            for _ in range(workers):
                c.start_worker()
            c.start_scheduler()
            c.wait_done("rerun", 7200)
            run_s = time.perf_counter() - start
            workers_seen = c.sql("SELECT count(DISTINCT worker) FROM episodes")[0][0]
        finally:
            c.stop()
        out = blazer(c.env, "episodes", "rerun", "--campaign", "rerun", "--shuffle", "1", "--json")
        assert out.returncode == 0, out.stderr[-2000:]
    return {
        "run_s": run_s,
        "workers": workers_seen,
        **json.loads(out.stdout.strip().splitlines()[-1]),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10, help="held-out seeds per task")
    ap.add_argument("--workers", type=int, default=0, help="run the campaign on N Celery workers")
    args = ap.parse_args()
    if args.workers:
        r = cluster_side(args.seeds, args.workers)
        print_table(
            f"episodes of a {args.workers}-worker campaign re-run from their rows, "
            f"{len(TASKS)} tasks x {args.seeds} held-out seeds",
            ["episodes", "workers", *COLUMNS],
            [[r["episodes"], r["workers"], *cells(r)]],
        )
        for odd in r["not_reproduced"]:
            print("not reproduced:", odd)
        return
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        reused, fresh = side(False, args.seeds, tmp), side(True, args.seeds, tmp)
    rows = []
    for label, r in (
        ("one PhysX system reused", reused),
        ("a new one per episode (default)", fresh),
    ):
        rows.append([label, r["episodes"], *cells(r)])
    rows.append(
        [
            "fresh / reused campaign time",
            "",
            "",
            "",
            "",
            "",
            "",
            f"{fresh['run_s'] / reused['run_s']:.2f}x",
        ]
    )
    print_table(
        f"episodes re-run from their rows, {len(TASKS)} tasks x {args.seeds} held-out seeds",
        ["physics scene", "episodes", *COLUMNS],
        rows,
    )


if __name__ == "__main__":
    main()
