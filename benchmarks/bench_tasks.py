"""The scripted expert on blazer's own tasks (``worker.sim.envs``): success with its 95%
interval, seconds per episode and the most common failure, per task and robot, on held-out
seeds, through the rollout pipeline a worker runs (isolated simulator process).

    .venv/bin/python benchmarks/bench_tasks.py [--seeds 50] [--robots panda] [--procs 2]

Rows are appended to ``benchmarks/results/tasks.csv`` as each (task, robot) finishes, so a
rerun resumes; ``--fresh`` starts over.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import RESULTS, print_table  # noqa: E402
from models.stats import wilson_interval  # noqa: E402
from models.types import SeedSplit  # noqa: E402

FIELDS = ("task", "robot", "group", "seeds", "successes", "seconds", "top_failure", "top_count")


def run_pair(args: tuple[str, str, list[int]]) -> dict:
    from worker.rollout import Block, run_block
    from worker.sim.isolated import IsolatedSimulator
    from worker.sim.tasks import GROUPS
    from worker.teachers.expert import ExpertTeacher

    task, robot, seeds = args
    sim = IsolatedSimulator(episode_timeout_s=120)
    try:
        sim.reset(task, robot, seeds[0])  # start-up and scene build outside the clock
        start = time.perf_counter()
        outcomes = run_block(Block(0, task, robot, seeds), sim, ExpertTeacher())
        seconds = time.perf_counter() - start
    finally:
        sim.close()
    fails = Counter(o.record.failure_reason.value for o in outcomes if not o.record.success)
    top = fails.most_common(1)[0] if fails else ("", 0)
    return {"task": task, "robot": robot, "group": GROUPS[task], "seeds": len(seeds),
            "successes": sum(o.record.success for o in outcomes), "seconds": round(seconds, 2),
            "top_failure": top[0], "top_count": top[1]}  # fmt: skip


def main() -> None:
    from worker.sim.envs import ENV_TASKS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--tasks", default=",".join(ENV_TASKS))
    ap.add_argument("--robots", default="panda")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--first-seed", type=int, default=SeedSplit.EVAL.offset)
    ap.add_argument("--out", type=Path, default=RESULTS / "tasks.csv")
    ap.add_argument("--fresh", action="store_true")
    args = ap.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    if args.fresh:
        args.out.unlink(missing_ok=True)
    done: dict[tuple[str, str], dict] = {}
    if args.out.exists():
        with args.out.open() as fh:
            done = {(r["task"], r["robot"]): r for r in csv.DictReader(fh)}
    pairs = [(t, r) for r in args.robots.split(",") for t in args.tasks.split(",")]
    todo = [(t, r, seeds) for t, r in pairs if (t, r) not in done]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    new = not args.out.exists()
    with args.out.open("a", newline="") as fh, mp.get_context("spawn").Pool(args.procs) as pool:
        writer = csv.DictWriter(fh, FIELDS)
        if new:
            writer.writeheader()
        for row in pool.imap_unordered(run_pair, todo):
            writer.writerow(row)
            fh.flush()
            done[(row["task"], row["robot"])] = row
            print(
                f"{row['task']:<20} {row['robot']:<14} {row['successes']}/{row['seeds']}",
                flush=True,
            )
    rows = []
    for t, r in pairs:
        d = done[(t, r)]
        k, n, s = int(d["successes"]), int(d["seeds"]), float(d["seconds"])
        lo, hi = wilson_interval(k, n)
        why = f"{d['top_failure']} ({d['top_count']})" if k < n else ""
        rows.append([t, r, d["group"], n, f"{100 * k / n:.0f}% [{100 * lo:.0f}-{100 * hi:.0f}]",
                     f"{s / n:.2f}", why])  # fmt: skip
    print_table(
        f"Tasks: the expert on blazer's tasks, held-out seeds {seeds[0]}..{seeds[-1]}",
        ["task", "robot", "group", "seeds", "success [95% CI]", "s/episode", "top failure"],
        rows,
    )


if __name__ == "__main__":
    main()
