"""Our scripted expert through the rollout pipeline a worker runs (plan language, mplib
primitives, isolated simulator process) against ManiSkill's own motion-planning solutions, on the same seeds,
one process each, in the same run: success rate and episodes/s per task.

    .venv/bin/python benchmarks/bench_expert.py [--seeds 50] [--tasks PickCube-v1,...]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import print_table  # noqa: E402
from models.types import SeedSplit  # noqa: E402
from worker.sim.isolated import sim_environment  # noqa: E402

SOLUTIONS = {
    "PickCube-v1": "pick_cube", "PushCube-v1": "push_cube", "PullCube-v1": "pull_cube",
    "StackCube-v1": "stack_cube", "PlaceSphere-v1": "place_sphere", "LiftPegUpright-v1": "lift_peg_upright",
    "StackPyramid-v1": "stack_pyramid",
}  # fmt: skip


def ours(task: str, seeds: list[int]) -> tuple[int, float]:
    """The rollout pipeline a worker runs (scene reset, prompt, expert teacher, plan check,
    execution) on one isolated simulator process."""
    from worker.rollout import Block, run_block
    from worker.sim.isolated import IsolatedSimulator
    from worker.teachers.expert import ExpertTeacher

    sim = IsolatedSimulator(episode_timeout_s=120)
    sim.reset(task, "panda", seeds[0])  # start-up outside the clock, as for ManiSkill's env
    start = time.perf_counter()
    outcomes = run_block(Block(0, task, "panda", seeds, None), sim, ExpertTeacher())
    elapsed = time.perf_counter() - start
    sim.close()
    return sum(o.record.success for o in outcomes), elapsed


def maniskill(
    task: str, seeds: list[int], reward_mode: str, render: bool = True
) -> tuple[int, float]:
    """ManiSkill's solve() loop as its run.py calls it, minus trajectory recording; run.py
    makes the env with a dense reward and a renderer, which solve() never uses, so it also
    runs without either (the strongest alternative; blazer's envs render only when asked)."""
    import importlib

    import gymnasium as gym
    import mani_skill.envs  # noqa: F401

    solve = importlib.import_module(
        f"mani_skill.examples.motionplanning.panda.solutions.{SOLUTIONS[task]}"
    ).solve
    env = gym.make(
        task,
        obs_mode="none",
        control_mode="pd_joint_pos",
        render_mode="rgb_array" if render else None,
        render_backend="cpu" if render else "none",
        sim_backend="cpu",
        reward_mode=reward_mode,
    )
    ok, start = 0, time.perf_counter()
    for seed in seeds:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                res = solve(env, seed=seed, debug=False, vis=False)
            ok += res != -1 and bool(res[-1]["success"].item())
        except Exception:  # run.py counts an exception as a failed plan too
            pass
    elapsed = time.perf_counter() - start
    env.close()
    return ok, elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--tasks", default=",".join(SOLUTIONS))  # StackPyramid-v1 too: 7 tasks
    ap.add_argument(
        "--first-seed", type=int, default=SeedSplit.EVAL.offset, help="held-out seeds by default"
    )
    args = ap.parse_args()
    os.environ.update(
        {k: v for k, v in sim_environment().items() if k in ("VK_ICD_FILENAMES", "LD_LIBRARY_PATH")}
    )
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    n = len(seeds)
    rows, totals = [], [0, 0.0, 0, 0.0, 0.0]
    for task in args.tasks.split(","):
        o_ok, o_s = ours(task, seeds)
        # run.py's default is dense; StackPyramid-v1 has no dense reward (sparse, its next)
        m_ok, m_s = maniskill(task, seeds, "sparse" if task == "StackPyramid-v1" else "dense")
        _, r_s = maniskill(task, seeds, "none", render=False)  # the strongest alternative
        totals = [
            totals[0] + o_ok,
            totals[1] + o_s,
            totals[2] + m_ok,
            totals[3] + m_s,
            totals[4] + r_s,
        ]
        rows.append([task, f"{100 * o_ok / n:.0f}%", f"{100 * m_ok / n:.0f}%", f"{n / o_s:.2f}",
                     f"{n / m_s:.2f}", f"{n / r_s:.2f}", f"{m_s / o_s:.2f}x", f"{r_s / o_s:.2f}x"])  # fmt: skip
        print(rows[-1], flush=True)
    n_all = n * len(rows)
    o_ok, o_s, m_ok, m_s, r_s = totals
    rows.append(["all", f"{100 * o_ok / n_all:.1f}%", f"{100 * m_ok / n_all:.1f}%", f"{n_all / o_s:.2f}",
                 f"{n_all / m_s:.2f}", f"{n_all / r_s:.2f}", f"{m_s / o_s:.2f}x", f"{r_s / o_s:.2f}x"])  # fmt: skip
    print_table(
        f"Expert vs ManiSkill solutions, seeds {seeds[0]}..{seeds[-1]} per task, 1 process each",
        ["task", "ours success", "ManiSkill success", "ours ep/s", "ManiSkill ep/s (run.py: dense reward)",
         "ManiSkill ep/s (no reward, no renderer)", "ratio vs run.py", "ratio vs strongest"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
