"""Our scripted expert through the rollout pipeline a worker runs (plan language, mplib
primitives, isolated simulator process) against ManiSkill's own motion-planning solutions,
on the same seeds, one process each, in the same run: success rate and episodes/s per task,
and the control steps each side simulates (our plans approach from above and let the arm
settle on each waypoint, so they run more steps than ManiSkill's: ms/step compares the
machinery at equal work). ManiSkill runs three ways: as run.py makes its env, without reward
or renderer (the strongest configuration it offers), and that plus blazer's step without
the per-step task evaluation (not offered by ManiSkill: it isolates where the gain is).

    .venv/bin/python benchmarks/bench_expert.py [--seeds 50] [--tasks PickCube-v1,...]
    .venv/bin/python benchmarks/bench_expert.py --scene-cost   # reused vs fresh physics scene
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import expert_run, print_table  # noqa: E402
from manip.sim.isolated import sim_environment  # noqa: E402
from manip.sim.maniskill_backend import step_without_evaluate  # noqa: E402
from models.types import SeedSplit  # noqa: E402

SOLUTIONS = {
    "PickCube-v1": "pick_cube",
    "PushCube-v1": "push_cube",
    "PullCube-v1": "pull_cube",
    "StackCube-v1": "stack_cube",
    "PlaceSphere-v1": "place_sphere",
    "LiftPegUpright-v1": "lift_peg_upright",
    "StackPyramid-v1": "stack_pyramid",
}


def maniskill(
    task: str, seeds: list[int], reward_mode: str, render: bool = True, evaluate: bool = True
) -> tuple[int, float, int]:
    """ManiSkill's solve() loop as its run.py calls it, minus trajectory recording; run.py
    makes the env with a dense reward and a renderer, which solve() never uses, so it also
    runs without either (the strongest alternative; blazer's envs render only when asked).
    ``evaluate=False`` also gives it blazer's step, which skips the task evaluation env.step
    runs after every step (one evaluate() at the end gives the verdict): ManiSkill offers no
    such switch, so this row shows what is left when both sides step alike."""
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
    steps, step = [0], env.step

    def counted(action):
        steps[0] += 1
        if evaluate:
            return step(action)
        step_without_evaluate(env.unwrapped, action)
        return None, None, None, None, {}

    env.step = counted  # control steps, to compare the cost of one with ours
    ok, start = 0, time.perf_counter()
    for seed in seeds:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                res = solve(env, seed=seed, debug=False, vis=False)
            if res != -1:
                ok += bool((res[-1] if evaluate else env.unwrapped.evaluate())["success"].item())
        except Exception:  # run.py counts an exception as a failed plan too
            pass
    elapsed = time.perf_counter() - start
    env.close()
    return ok, elapsed, steps[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--tasks", default=",".join(SOLUTIONS))  # StackPyramid-v1 too: 7 tasks
    ap.add_argument(
        "--first-seed", type=int, default=SeedSplit.EVAL.offset, help="held-out seeds by default"
    )
    ap.add_argument(
        "--scene-cost",
        action="store_true",
        help="only ours, one PhysX system reused vs a new one per episode, interleaved",
    )
    args = ap.parse_args()
    os.environ.update(
        {k: v for k, v in sim_environment().items() if k in ("VK_ICD_FILENAMES", "LD_LIBRARY_PATH")}
    )
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    if args.scene_cost:
        scene_cost(args.tasks.split(","), seeds)
        return
    n = len(seeds)
    rows, totals = [], np.zeros(9)
    for task in args.tasks.split(","):
        mine = expert_run(task, "panda", seeds)
        # run.py's default is dense; StackPyramid-v1 has no dense reward (sparse, its next)
        m_ok, m_s, _ = maniskill(task, seeds, "sparse" if task == "StackPyramid-v1" else "dense")
        _, r_s, r_steps = maniskill(task, seeds, "none", render=False)  # the strongest
        e_ok, e_s, _ = maniskill(task, seeds, "none", render=False, evaluate=False)
        run = np.array(
            [mine["successes"], mine["seconds"], mine["steps"], m_ok, m_s, r_s, r_steps, e_ok, e_s]
        )
        totals += run
        rows.append(_row(task, n, run))
        print(rows[-1], flush=True)
    rows.append(_row("all", n * len(rows), totals))
    print_table(
        f"Expert vs ManiSkill solutions, seeds {seeds[0]}..{seeds[-1]} per task, 1 process each",
        [
            "task",
            "ours success",
            "ManiSkill success (its step / ours)",
            "ours ep/s",
            "ManiSkill ep/s (run.py: dense reward)",
            "ManiSkill ep/s (no reward, no renderer)",
            "ManiSkill ep/s (... and blazer's step)",
            "ratio vs run.py",
            "ratio vs strongest",
            "ratio vs ManiSkill with blazer's step",
            "steps/ep ours / ManiSkill",
            "ms/step ours / strongest",
            "per-step ratio vs strongest",
        ],
        rows,
    )


def scene_cost(tasks: list[str], seeds: list[int]) -> None:
    """The expert with one PhysX system reused across episodes and a new one before every
    episode (``BLAZER_SIM_FRESH_PHYSICS``, the default), task by task in turn (reused first,
    then fresh, then both again in the other order), so drift in the machine's speed falls
    on both sides."""
    rows, total = [], {False: 0.0, True: 0.0}
    for task in tasks:
        seconds = {False: 0.0, True: 0.0}
        ok = {False: 0, True: 0}
        for fresh in (False, True, True, False):
            run = expert_run(task, "panda", seeds, fresh_physics=fresh)
            seconds[fresh] += run["seconds"]
            ok[fresh] = run["successes"]
        total[False] += seconds[False]
        total[True] += seconds[True]
        rows.append(
            [
                task,
                f"{ok[False]}/{len(seeds)}",
                f"{ok[True]}/{len(seeds)}",
                f"{seconds[False] / (2 * len(seeds)):.3f}",
                f"{seconds[True] / (2 * len(seeds)):.3f}",
                f"{100 * (seconds[True] / seconds[False] - 1):+.1f}%",
            ]
        )
        print(rows[-1], flush=True)
    rows.append(["all", "", "", "", "", f"{100 * (total[True] / total[False] - 1):+.1f}%"])
    print_table(
        f"A new PhysX system per episode: the expert, seeds {seeds[0]}..{seeds[-1]}, each side twice",
        ["task", "reused ok", "fresh ok", "reused s/ep", "fresh s/ep", "fresh cost"],
        rows,
    )


def _row(task: str, n: int, run: np.ndarray) -> list[str]:
    """One table row from (ours ok, s, steps, ManiSkill ok, run.py s, strongest s, its steps,
    ManiSkill with blazer's step ok, s)."""
    o_ok, o_s, o_steps, m_ok, m_s, r_s, r_steps, e_ok, e_s = run
    return [
        task,
        f"{100 * o_ok / n:.1f}%",
        f"{100 * m_ok / n:.1f}% / {100 * e_ok / n:.1f}%",
        f"{n / o_s:.2f}",
        f"{n / m_s:.2f}",
        f"{n / r_s:.2f}",
        f"{n / e_s:.2f}",
        f"{m_s / o_s:.2f}x",
        f"{r_s / o_s:.2f}x",
        f"{e_s / o_s:.2f}x",
        f"{o_steps / n:.0f} / {r_steps / n:.0f}",
        f"{1000 * o_s / o_steps:.2f} / {1000 * r_s / r_steps:.2f}",
        f"{(r_s / r_steps) / (o_s / o_steps):.2f}x",
    ]


if __name__ == "__main__":
    main()
