"""The scripted expert on blazer's own tasks (``manip.sim.envs``): success with its 95%
interval, seconds per episode and the most common failure, per task and robot, on held-out
seeds, through the rollout pipeline a worker runs (isolated simulator process).

    .venv/bin/python benchmarks/bench_tasks.py [--seeds 50] [--robots panda] [--procs 2]

Rows are appended to ``benchmarks/results/tasks.csv`` as each (task, robot) finishes, so a
rerun resumes; ``--fresh`` starts over.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import RESULTS, expert_run, print_table, resumable_rows  # noqa: E402
from models.stats import wilson_interval  # noqa: E402
from models.types import SeedSplit  # noqa: E402

FIELDS = ("task", "robot", "group", "seeds", "successes", "seconds", "top_failure", "top_count")


def run_pair(args: tuple[str, str, list[int]]) -> dict:
    from manip.sim.tasks import GROUPS

    task, robot, seeds = args
    return {**expert_run(task, robot, seeds), "group": GROUPS[task]}


def main() -> None:
    from manip.sim.tasks import ENV_TASKS

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
    pairs = [(t, r) for r in args.robots.split(",") for t in args.tasks.split(",")]
    todo = [(t, r, seeds) for t, r in pairs]
    done = resumable_rows(args.out, FIELDS, ("task", "robot"), todo, run_pair, args.procs)
    rows = []
    for t, r in pairs:
        d = done[(t, r)]
        k, n, s = int(d["successes"]), int(d["seeds"]), float(d["seconds"])
        lo, hi = wilson_interval(k, n)
        why = f"{d['top_failure']} ({d['top_count']})" if k < n else ""
        rows.append(
            [
                t,
                r,
                d["group"],
                n,
                f"{100 * k / n:.0f}% [{100 * lo:.0f}-{100 * hi:.0f}]",
                f"{s / n:.2f}",
                why,
            ]
        )
    print_table(
        f"Tasks: the expert on blazer's tasks, held-out seeds {seeds[0]}..{seeds[-1]}",
        ["task", "robot", "group", "seeds", "success [95% CI]", "s/episode", "top failure"],
        rows,
    )


if __name__ == "__main__":
    main()
