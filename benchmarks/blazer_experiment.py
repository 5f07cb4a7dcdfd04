"""The result that matters: expert-generated successes on the six ManiSkill tasks -> LoRA SFT
of SmolLM2-135M on the CPU -> evaluation on held-out seeds, base model against fine-tuned.

    .venv/bin/python benchmarks/blazer_experiment.py [--per-task 20] [--epochs 3] [--eval 10]

Runs on the embedded default (its own SQLite file under benchmarks/results/experiment/).
The paper's recipe (5 epochs, lr 2e-5, effective batch 24, N=2000 per task) wants a GPU;
on 2 CPU cores this runs a reduced schedule, printed with the results.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASKS = "PickCube-v1,PushCube-v1,PullCube-v1,StackCube-v1,PlaceSphere-v1,LiftPegUpright-v1"


def blazer(*args: str, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "blazer.cli", *args], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-task", type=int, default=20, help="expert successes per task")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--effective-batch", type=int, default=8)
    ap.add_argument("--eval", type=int, default=10, help="held-out episodes per task and model")
    ap.add_argument(
        "--max-steps", type=int, default=None, help="cap the optimizer steps (CPU budget)"
    )
    ap.add_argument("--fresh", action="store_true", help="start over")
    args = ap.parse_args()
    work = ROOT / "benchmarks" / "results" / "experiment"
    if args.fresh:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "BLAZER_DATA_DIR": str(work),
        "BLAZER_DATABASE_URL": f"sqlite:///{work / 'blazer.db'}",
    }
    env.pop("BLAZER_BROKER_URL", None)
    times = {}
    blazer("db", "upgrade", env=env)
    times["generate"] = blazer("campaign", "run", "--name", "exp-gen", "--tasks", TASKS, "-n", str(args.per_task),
                               "--block-size", "5", env=env)  # fmt: skip
    subprocess.run([sys.executable, "-m", "blazer.cli", "dataset", "build", "--name", "exp-data", "--from", "exp-gen",
                    "--balance", "equal"], cwd=ROOT, env=env)  # fmt: skip
    times["train"] = blazer("train", "sft", "--dataset", "exp-data", "--name", "exp-student", "--epochs", str(args.epochs),
                            "--lr", str(args.lr), "--effective-batch", str(args.effective_batch), "--micro-batch", "4",
                            "--max-len", "1024", "--ckpt-every", "5",
                            *(["--max-steps", str(args.max_steps)] if args.max_steps else []), env=env)  # fmt: skip
    times["evaluate"] = blazer("eval", "--model", "smollm2-135m", "--model", "exp-student", "--tasks", TASKS,
                               "--episodes", str(args.eval), "--max-new-tokens", "256", "--out", str(work / "table"),
                               env=env)  # fmt: skip
    print("\n## BLAZER experiment (SmolLM2-135M, CPU)")
    print((work / "table" / "table.csv").read_text())
    print(f"schedule: {args.per_task} expert successes/task, {args.epochs} epochs (max steps {args.max_steps}), lr {args.lr}, "
          f"effective batch {args.effective_batch}, LoRA r=64 alpha=16, {args.eval} held-out episodes/task/model")  # fmt: skip
    print("stage seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))


if __name__ == "__main__":
    main()
