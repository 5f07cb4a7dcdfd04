"""Training schedules by name: the paper's recipe for a GPU, and the one that works on a CPU.

``paper`` is BLAZER's (LoRA r=64, alpha=16, lr 2e-5 cosine, 5 epochs, effective batch 24):
on 2 CPU cores one epoch of 300 examples takes over an hour and 2e-5 moves a 135M model
too little in the steps a CPU can afford. ``cpu`` is what reached >= 95% held-out success
with SmolLM2-135M in under 30 minutes here (benchmarks/README.md, "Result 1"): a short
prompt (v2), a wider and stronger adapter (alpha = r, every linear layer, no dropout), a
high peak rate with a short warm-up, one example per step group of four, and a wall-clock
budget the cosine schedule is fitted into.
"""

from __future__ import annotations

from dataclasses import replace

from models.errors import ConfigError
from training.loop import TrainConfig
from training.lora import LoraSettings

ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

RECIPES: dict[str, tuple[TrainConfig, LoraSettings]] = {
    "paper": (
        TrainConfig(lr=2e-5, epochs=5, effective_batch=24, micro_batch=4),
        LoraSettings(r=64, alpha=16, dropout=0.05),
    ),
    "cpu": (
        TrainConfig(
            lr=1.5e-3,
            epochs=2,
            effective_batch=4,
            micro_batch=4,
            warmup_steps=8,
            max_minutes=28.0,
            ckpt_every=10,
        ),
        LoraSettings(r=64, alpha=64, dropout=0.0, target_modules=ALL_LINEAR),
    ),
}


# `blazer train dpo`'s defaults: a low rate for one pass over the pairs, beta 0.1 (DPO's usual)
DPO_DEFAULTS = TrainConfig(lr=5e-6, epochs=1, micro_batch=2, extra={"beta": 0.1})


def default_recipe() -> str:
    """``paper`` where a CUDA GPU is present, else ``cpu``."""
    import torch

    return "paper" if torch.cuda.is_available() else "cpu"


def recipe(name: str | None, **overrides) -> tuple[TrainConfig, LoraSettings]:
    """The named recipe (``auto``/None: by device) with the given fields replaced.

    ``overrides`` may name TrainConfig fields or ``lora_r`` / ``lora_alpha``; None keeps the
    recipe's value, so a command passes its flags through unchanged.
    """
    name = default_recipe() if name in (None, "auto") else name
    if name not in RECIPES:
        raise ConfigError(f"--recipe must be auto, {', '.join(RECIPES)}; got {name!r}")
    config, lora = RECIPES[name]
    given = {k: v for k, v in overrides.items() if v is not None}
    lora_fields = {"lora_r": "r", "lora_alpha": "alpha"}
    lora = replace(lora, **{lora_fields[k]: given.pop(k) for k in list(given) if k in lora_fields})
    config = replace(config, **given, extra={**config.extra, "recipe": name})
    return config, lora
