"""How fast a fine-tuned student samples: transformers (fp32 base + peft adapter) against
llama.cpp (the Q4_1 base + the adapter as a GGUF LoRA), the same registered version on the
same held-out seeds in one run, each side in its own process (its peak RSS is measured).

    BLAZER_DATABASE_URL=... .venv/bin/python -m benchmarks.bench_student_speed --model boot-v1

Prints episodes/s, seconds per episode, success on those seeds and the peak RSS of the
process that holds the model (the simulator child is the same on both sides).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import print_table  # noqa: E402

TASKS = ("PickCube-v1", "PushCube-v1", "PullCube-v1")
EVAL_SEEDS_START = 2_000_000_000


def one_side(engine: str, model: str, seeds: int, max_new_tokens: int) -> dict:
    """Run in a child process: every task's seeds through ``engine``; print one JSON line."""
    from manip.rollout import Block, run_block
    from manip.sim.isolated import IsolatedSimulator
    from manip.teachers import make_teacher

    teacher = make_teacher(engine, {"model": model, "max_new_tokens": max_new_tokens})
    sim = IsolatedSimulator(episode_timeout_s=300)
    successes = episodes = 0
    start = time.perf_counter()
    try:
        for task in TASKS:
            block = Block(0, task, "panda", list(range(EVAL_SEEDS_START, EVAL_SEEDS_START + seeds)))
            for outcome in run_block(block, sim, teacher):
                episodes += 1
                successes += outcome.record.success
    finally:
        sim.close()
        teacher.close()
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the teacher's process
    return {"episodes": episodes, "successes": successes, "wall_s": wall, "peak_mb": peak_mb}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="a registered version (a LoRA on SmolLM2)")
    ap.add_argument("--seeds", type=int, default=8, help="held-out seeds per task")
    ap.add_argument("--max-new-tokens", type=int, default=320)
    ap.add_argument("--side", help=argparse.SUPPRESS)  # internal: run one side here
    args = ap.parse_args()
    if args.side:
        print(json.dumps(one_side(args.side, args.model, args.seeds, args.max_new_tokens)))
        return
    rows, rate = [], {}
    for engine in ("hf", "llamacpp"):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.bench_student_speed",
                "--model",
                args.model,
                "--seeds",
                str(args.seeds),
                "--max-new-tokens",
                str(args.max_new_tokens),
                "--side",
                engine,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rate[engine] = r["episodes"] / r["wall_s"]
        rows.append(
            [
                engine,
                r["episodes"],
                f"{rate[engine]:.3f}",
                f"{r['wall_s'] / r['episodes']:.1f}",
                f"{r['successes']}/{r['episodes']}",
                f"{r['peak_mb']:,.0f}",
            ]
        )
    rows.append(["llamacpp / hf", "", f"{rate['llamacpp'] / rate['hf']:.2f}x", "", "", ""])
    print_table(
        f"student {args.model} sampling, {len(TASKS)} tasks x {args.seeds} held-out seeds",
        ["engine", "episodes", "episodes/s", "s/episode", "success", "peak RSS MB"],
        rows,
    )


if __name__ == "__main__":
    main()
