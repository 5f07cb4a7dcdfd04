"""The expert's success on every robot x task pair (BLM1's 4 x 6), N seeds each.

    python -m benchmarks.robot_task_table [--seeds 20] [--procs 2] [--out docs/robot_task_table.csv]

Runs the scripted expert through the real pipeline (scene -> plan -> mplib motion ->
the task's own check) on train seeds 0..N-1, one simulator process per worker process;
results are appended to the CSV as each pair finishes, so a rerun resumes. Prints a
Markdown table with success % and the most common failure reason per pair.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
from collections import Counter
from pathlib import Path

ROBOTS = ("panda", "xarm6_robotiq", "xarm7_robotiq", "widowxai")
FIELDS = ("robot", "task", "seeds", "successes", "top_failure", "top_failure_count")


def run_pair(args: tuple[str, str, int]) -> dict:
    from worker.rollout import Block, run_block
    from worker.sim.isolated import IsolatedSimulator
    from worker.teachers.expert import ExpertTeacher

    robot, task, seeds = args
    sim = IsolatedSimulator(episode_timeout_s=120)
    try:
        outcomes = run_block(Block(0, task, robot, list(range(seeds))), sim, ExpertTeacher())
    finally:
        sim.close()
    fails = Counter(o.record.failure_reason.value for o in outcomes if not o.record.success)
    top = fails.most_common(1)[0] if fails else ("", 0)
    return {"robot": robot, "task": task, "seeds": seeds,
            "successes": sum(o.record.success for o in outcomes),
            "top_failure": top[0], "top_failure_count": top[1]}  # fmt: skip


def main() -> None:
    from worker.sim.tasks import TASKS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("docs/robot_task_table.csv"))
    args = parser.parse_args()
    done = {}
    if args.out.exists():
        with args.out.open() as fh:
            done = {(r["robot"], r["task"]): r for r in csv.DictReader(fh)}
    todo = [(r, t, args.seeds) for r in ROBOTS for t in TASKS if (r, t) not in done]
    new = not args.out.exists()
    with args.out.open("a", newline="") as fh, mp.get_context("spawn").Pool(args.procs) as pool:
        writer = csv.DictWriter(fh, FIELDS)
        if new:
            writer.writeheader()
        for row in pool.imap_unordered(run_pair, todo):
            writer.writerow(row)
            fh.flush()
            done[(row["robot"], row["task"])] = row
            print(
                f"{row['robot']:>14} {row['task']:<18} {row['successes']}/{row['seeds']}",
                flush=True,
            )
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
