"""State-estimation accuracy and seconds per perceived scene (three 256² RGB-D views), per
task and segmenter, on held-out seeds; against the simulator's control-step time.

    .venv/bin/python benchmarks/bench_perception.py [--seeds 20] [--segmenters blocks,oracle]

Errors are against the simulator's true scene: centre (cm), yaw (deg, modulo the object's
symmetry; round objects left out), size (cm, the largest axis error); ``missing`` counts
objects no view saw; ``given`` counts goals the instruction states (not perceived, not
counted as objects). ``oracle`` uses the simulator's own masks: it measures the geometry
alone and is never a claim about perception.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import print_table  # noqa: E402
from models.types import SeedSplit  # noqa: E402


def main() -> None:
    from manip.perception.report import compare
    from manip.plan_language import parse_plan
    from manip.sim.isolated import IsolatedSimulator
    from manip.sim.tasks import PERCEIVABLE, get_task

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--tasks", default=",".join(PERCEIVABLE))
    ap.add_argument("--segmenters", default="blocks,oracle")
    ap.add_argument("--size", type=int, default=None)
    args = ap.parse_args()
    seeds = range(SeedSplit.EVAL.offset, SeedSplit.EVAL.offset + args.seeds)
    sim = IsolatedSimulator(episode_timeout_s=300)
    rows, step_ms = [], []
    try:
        for task in args.tasks.split(","):
            truth = sim.reset(task, "panda", seeds[0])
            sim.perceive("oracle", args.size)  # cameras made and shaders compiled off the clock
            start = time.perf_counter()
            result = sim.execute(parse_plan(get_task(task).expert_plan(truth)))
            step_ms.append(1000 * (time.perf_counter() - start) / max(1, result.sim_steps))
            for segmenter in args.segmenters.split(","):
                centre, yaw, size, missing, objects, given = [], [], [], 0, 0, 0
                times = {"render_s": [], "segment_s": [], "geometry_s": []}
                for seed in seeds:
                    truth = sim.reset(task, "panda", seed)
                    perceived, report = sim.perceive(segmenter, args.size)
                    for key in times:
                        times[key].append(report["timings"][key])
                    for row in compare(truth, perceived, report):
                        if row["given"]:  # stated by the instruction: nothing to measure
                            given += 1
                            continue
                        objects += 1
                        if row["error"] is None:
                            missing += 1
                            continue
                        centre.append(row["error"]["centre_cm"])
                        size.append(row["error"]["size_cm"])
                        if report["symmetry"].get(row["name"], 360) < 360:
                            yaw.append(row["error"]["yaw_deg"])
                mean = lambda v: f"{statistics.fmean(v):.2f}" if v else "-"  # noqa: E731
                t = {k: statistics.fmean(v) for k, v in times.items()}
                rows.append(
                    [
                        task,
                        segmenter,
                        len(seeds),
                        objects,
                        given,
                        missing,
                        mean(centre),
                        f"{statistics.median(centre):.2f}" if centre else "-",
                        mean(yaw),
                        mean(size),
                        f"{t['render_s']:.3f}",
                        f"{t['segment_s']:.3f}",
                        f"{t['geometry_s']:.3f}",
                        f"{sum(t.values()):.3f}",
                    ]
                )
                print(rows[-1], flush=True)
    finally:
        sim.close()
    print_table(
        f"Perception: accuracy and time per scene (3 views), seeds {seeds[0]}..{seeds[-1]}; "
        f"simulator control step {statistics.fmean(step_ms):.1f} ms (expert episodes, same run)",
        [
            "task",
            "segmenter",
            "scenes",
            "objects",
            "given",
            "missing",
            "centre cm (mean)",
            "centre cm (median)",
            "yaw deg",
            "size cm",
            "render s",
            "segment s",
            "geometry s",
            "total s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
