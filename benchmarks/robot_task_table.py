"""The expert's success on every robot x task pair (BLM1's 4 x 6), N seeds each.

    python -m benchmarks.robot_task_table [--seeds 50] [--procs 2] [--out docs/robot_task_table.csv]

Runs the scripted expert through the real pipeline (scene -> plan -> mplib motion ->
the task's own check) on the first N held-out evaluation seeds (``SeedSplit.EVAL``: no
expert adjustment was tuned on them), one simulator process per worker process;
results are appended to the CSV as each pair finishes, so a rerun resumes. Prints a
Markdown table with success % and the most common failure reason per pair.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.common import expert_run, resumable_rows

ROBOTS = ("panda", "xarm6_robotiq", "xarm7_robotiq", "widowxai")
FIELDS = ("robot", "task", "seeds", "successes", "top_failure", "top_count")


def run_pair(args: tuple[str, str, int]) -> dict:
    from models.types import SeedSplit

    robot, task, seeds = args
    return expert_run(
        task, robot, list(range(SeedSplit.EVAL.offset, SeedSplit.EVAL.offset + seeds))
    )


def main() -> None:
    from training.experiment import SIX_TASKS as TASKS  # BLM1's six (blazer's own: bench_tasks)

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("docs/robot_task_table.csv"))
    args = parser.parse_args()
    todo = [(r, t, args.seeds) for r in ROBOTS for t in TASKS]
    done = resumable_rows(args.out, FIELDS, ("robot", "task"), todo, run_pair, args.procs)
    print("\n| task | " + " | ".join(ROBOTS) + " |")
    print("| --- |" + " --- |" * len(ROBOTS))
    for task in TASKS:
        cells = []
        for robot in ROBOTS:
            r = done[(robot, task)]
            pct = 100 * int(r["successes"]) / int(r["seeds"])
            why = f" ({r['top_failure']})" if int(r["successes"]) < int(r["seeds"]) else ""
            cells.append(f"{pct:.0f}{why}")
        print(f"| {task} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
