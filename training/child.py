"""SFT in a child process: the training's memory (the model, activations, and glibc's arena
kept by the malloc settings that make CPU LoRA steps fast) goes when the child exits, so the
process that trained can go on to evaluate in a few hundred MB (it held ~10 GB before).

The child gets the malloc settings in its environment from the start (they only act at
process start), sends a JSON line per optimizer step on stdout, and exits non-zero with the
error's one line on stderr. ``python -m training.child '<json>'`` is the child.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from manip.sim.isolated import die_with_parent
from models.errors import BlazerError
from training.loop import TrainConfig
from training.lora import LoraSettings
from training.runs import MALLOC_ENV

PROGRESS = "progress "  # the prefix of a child's progress line


def run_sft_in_child(
    dataset: str,
    base: str,
    config: TrainConfig,
    lora: LoraSettings,
    *,
    name: str | None = None,
    parent: str | None = None,
    lineage: str | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> str:
    """``training.sft.run_sft`` in a child process; returns the registered version's name."""
    request = {
        "dataset": dataset,
        "base": base,
        "config": dataclasses.asdict(config),
        "lora": dataclasses.asdict(lora),
        "name": name,
        "parent": parent,
        "lineage": lineage,
    }
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, **MALLOC_ENV, "PYTHONPATH": str(root)}
    # its log lines go where this process's go (stderr inherited); results come on stdout
    proc = subprocess.Popen(
        [sys.executable, "-m", "training.child", json.dumps(request)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(root),
        preexec_fn=die_with_parent,  # no trainer left behind to race the resuming worker
    )
    assert proc.stdout is not None
    version, error = None, None
    try:
        for line in proc.stdout:
            if line.startswith(PROGRESS):
                step, total, loss = json.loads(line[len(PROGRESS) :])
                if progress is not None:
                    progress(step, total, loss)  # may raise (a lost lease): the child goes too
            elif line.startswith("version "):
                version = line.split(" ", 1)[1].strip()
            elif line.startswith("error "):
                error = line.split(" ", 1)[1].strip()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.wait() != 0 or version is None:
        why = error or f"exit code {proc.returncode} (its log says why)"
        raise BlazerError(f"training in a child process failed: {why}")
    return version


def main(raw: str) -> None:
    from training.sft import run_sft

    req: dict[str, Any] = json.loads(raw)
    config = TrainConfig(**req.pop("config"))
    lora_data = req.pop("lora")
    lora = LoraSettings(**{**lora_data, "target_modules": tuple(lora_data["target_modules"])})

    def progress(step: int, total: int, loss: float) -> None:
        print(PROGRESS + json.dumps([step, total, loss]), flush=True)

    version = run_sft(req.pop("dataset"), req.pop("base"), config, lora, progress=progress, **req)
    print(f"version {version}", flush=True)


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception as exc:
        print(f"error {exc.__class__.__name__}: {exc}".replace("\n", " "), flush=True)
        raise
