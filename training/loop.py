"""The training loop SFT and DPO share, top to bottom like nanoGPT's: a cosine schedule with
warm-up, gradient accumulation to the effective batch, clipping, checkpoints numbered by
step (adapter + optimizer + scheduler + config), resume from the latest, metrics as JSON lines.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from manip.teachers.gguf_adapter import export_gguf_adapter

log = logging.getLogger(__name__)
# steps run before a wall-clock budget fixes the schedule's length; the pace is taken from
# all but the first (which pays for allocator and kernel warm-up: 2x a later step on a CPU)
BUDGET_PROBE_STEPS = 4
BUDGET_MARGIN = 0.02  # of a time budget kept back for the pace to change


@dataclass
class TrainConfig:
    # the BLAZER recipe: lr 2e-5, cosine, 5 epochs, effective batch 24
    lr: float = 2e-5
    epochs: int = 5
    effective_batch: int = 24
    micro_batch: int = 4  # examples per forward pass; effective_batch / micro_batch = accumulation
    warmup_ratio: float = 0.03
    warmup_steps: int | None = None  # fixed warm-up; overrides warmup_ratio
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    max_len: int = 1024  # tokens per example (prompt + completion)
    max_steps: int | None = None  # stop early: smoke runs and CPU budgets
    # wall-clock budget for the optimizer steps, minutes: after a few steps the schedule is
    # shortened so the cosine reaches zero when the budget ends (never lengthened)
    max_minutes: float | None = None
    ckpt_every: int = 50  # optimizer steps between checkpoints
    keep_checkpoints: int = 2
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # method-specific (e.g. DPO beta)

    @property
    def accumulation(self) -> int:
        return max(1, math.ceil(self.effective_batch / self.micro_batch))


def cosine_lr(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def epoch_order(weights: Sequence[float], epochs: int, seed: int) -> list[int]:
    """Example indices for all epochs: weighted sampling with replacement when the weights
    differ (equal-per-source balance), a shuffle of everything when they are uniform."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    w = torch.tensor(weights, dtype=torch.float64)
    uniform = bool(torch.allclose(w, w[0].expand_as(w)))
    order: list[int] = []
    for _ in range(epochs):
        if uniform:
            order.extend(torch.randperm(len(w), generator=gen).tolist())
        else:
            order.extend(torch.multinomial(w, len(w), replacement=True, generator=gen).tolist())
    return order


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The newest complete checkpoint: ``step-NNNNNN`` with its trainer state (a killed save
    leaves ``step-NNNNNN.tmp``, which is never resumed from)."""
    ckpts = [
        p
        for p in (out_dir / "checkpoints").glob("step-*")
        if p.name[5:].isdigit() and (p / "trainer_state.pt").is_file()
    ]
    return max(ckpts, key=lambda p: int(p.name[5:])) if ckpts else None


def train(
    model,
    n_examples_weights: Sequence[float],
    micro_batch_loss: Callable[[list[int]], Any],
    config: TrainConfig,
    out_dir: Path,
    *,
    progress: Callable[[int, int, float], None] | None = None,
) -> dict[str, Any]:
    """Optimise ``model`` (its trainable parameters) over the examples; returns metrics.

    ``micro_batch_loss(indices)`` returns the mean loss of those examples as a tensor.
    """
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    steps_per_epoch = math.ceil(len(n_examples_weights) / config.effective_batch)
    total = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    warmup = config.warmup_steps or max(1, int(total * config.warmup_ratio))
    order = epoch_order(n_examples_weights, config.epochs, config.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)

    start_step, history = 0, []
    ckpt = latest_checkpoint(out_dir)
    if ckpt is not None:
        # plain data (tensors, numbers, lists, dicts): a planted pickle runs no code here
        state = torch.load(ckpt / "trainer_state.pt", weights_only=True)
        _load_adapter_weights(model, ckpt)
        optimizer.load_state_dict(state["optimizer"])
        start_step, history = state["step"], state["history"]
        total = state.get("total", total)  # a budget-fitted schedule stays as it was planned
        log.warning("resumed from %s (step %d of %d)", ckpt.name, start_step, total)

    metrics_file = (out_dir / "metrics.jsonl").open("a")
    model.train()
    # elapsed_s counts training time across resumes: a budget covers the whole run
    started = time.monotonic() - (history[-1]["elapsed_s"] if history else 0.0)
    save_s = 0.0  # the last checkpoint save's time: the final save costs about as much
    for step in range(start_step, total):
        lr = cosine_lr(step, total, config.lr, warmup)
        if config.max_minutes is not None and step >= max(warmup, start_step + BUDGET_PROBE_STEPS):
            # under a time budget the cosine follows the clock, evaluated where this step
            # will end: it reaches zero as the time runs out, however the pace changes
            pace_s = (history[-1]["elapsed_s"] - history[start_step]["elapsed_s"]) / max(
                1, step - start_step - 1
            )
            end = (time.monotonic() - started + pace_s) / (config.max_minutes * 60)
            lr = min(lr, config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, end))))
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = order[step * config.effective_batch : (step + 1) * config.effective_batch]
        if not batch:  # the epochs ran out before max_steps
            break
        loss_sum = 0.0
        chunks = [
            batch[i : i + config.micro_batch] for i in range(0, len(batch), config.micro_batch)
        ]
        for chunk in chunks:
            loss = micro_batch_loss(chunk) * (len(chunk) / len(batch))
            loss.backward()
            loss_sum += loss.item()
        torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        record = {
            "step": step + 1,
            "loss": round(loss_sum, 5),
            "lr": lr,
            "elapsed_s": round(time.monotonic() - started, 2),
        }
        history.append(record)
        if config.max_minutes is not None and step + 1 >= start_step + BUDGET_PROBE_STEPS:
            # refitted every step at the pace so far (checkpoint saves included), keeping back
            # the final save's time: the steps end inside the budget, never past it
            budget_s = config.max_minutes * 60 * (1 - BUDGET_MARGIN) - save_s
            fitted = _fit_to_budget(budget_s, history, start_step, step + 1)
            if fitted < total:
                if step + 1 == start_step + BUDGET_PROBE_STEPS:
                    log.warning(
                        "time budget %.1f min: %d of %d steps", config.max_minutes, fitted, total
                    )
                total = fitted
        metrics_file.write(json.dumps(record) + "\n")
        metrics_file.flush()
        if progress is not None:
            progress(step + 1, total, loss_sum)
        if (step + 1) % config.ckpt_every == 0 and step + 1 < total:
            t0 = time.monotonic()
            _save_checkpoint(model, optimizer, config, step + 1, history, out_dir, total)
            save_s = time.monotonic() - t0
        if step + 1 >= total:
            break
    metrics_file.close()
    model.save_pretrained(str(out_dir / "adapter"))
    if getattr(getattr(model, "config", None), "model_type", None) == "llama":  # for llama.cpp
        export_gguf_adapter(out_dir / "adapter", model.config.to_dict())
    losses = [h["loss"] for h in history]
    return {
        "steps": len(history),
        "total_steps": total,
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "min_loss": min(losses) if losses else None,
        "train_seconds": round(time.monotonic() - started, 2),  # across resumes
    }


def _fit_to_budget(budget_s: float, history: list[dict], start_step: int, step: int) -> int:
    """Steps that fit in ``budget_s`` of training time, at the pace this process measured
    since its first step (a slower later pace shortens the schedule)."""
    first_s = history[start_step]["elapsed_s"]
    now_s = history[step - 1]["elapsed_s"]
    pace_s = (now_s - first_s) / (step - start_step - 1)
    return max(step, step + int((budget_s - now_s) / pace_s))


def _save_checkpoint(
    model, optimizer, config: TrainConfig, step: int, history, out_dir: Path, total: int
) -> None:
    import torch

    path = out_dir / "checkpoints" / f"step-{step:06d}"
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "step": step,
            "total": total,
            "history": history,
            "config": asdict(config),
        },
        tmp / "trainer_state.pt",
    )
    tmp.replace(path)  # a kill mid-save leaves only a .tmp folder, never a broken checkpoint
    for old in sorted((out_dir / "checkpoints").glob("step-??????"))[: -config.keep_checkpoints]:
        shutil.rmtree(old, ignore_errors=True)


def _load_adapter_weights(model, ckpt: Path) -> None:
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(ckpt / "adapter_model.safetensors")))
