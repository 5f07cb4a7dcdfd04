"""A teacher's identity, from its kind and config, without building it (campaigns record it
before any worker has loaded a model)."""

from __future__ import annotations

from typing import Any

from manip.teachers.models import DEFAULT_MODEL
from models.errors import ConfigError


def teacher_name(kind: str, config: dict[str, Any] | None = None) -> str:
    """The one identity of a teacher, recorded on its campaign and on every episode:
    ``expert``, ``noop``, ``hf:smollm2-135m``, ``hf:student-v2+<adapter>``, ``openai:<model>``,
    ``policy:<version>``."""
    config = config or {}
    if kind in ("expert", "noop"):
        return kind
    name = f"{kind}:{config.get('model') or DEFAULT_MODEL}"
    return f"{name}+{config['adapter']}" if config.get("adapter") else name


ENGINES = ("hf", "llamacpp")


def teacher_for_model(model: str, max_new_tokens: int = 384, engine: str = "hf") -> dict[str, Any]:
    """The teacher config that asks ``model`` (evaluation and deployment both use this):
    ``expert``, ``policy:<version>`` (a learned policy), or the model through ``engine``:
    transformers (``hf``, full precision) or
    llama.cpp (the Q4_1 base with the version's adapter as a GGUF LoRA: ~3.7x faster on a
    CPU, benchmarks/bench_student_speed.py). A registered version brings its adapter and
    the prompt version it was trained on when the teacher is built."""
    if model in ("expert", "noop"):
        return {"kind": model}
    if model.startswith("policy:"):  # a learned policy, run closed loop (manip.teachers.policy)
        return {"kind": "policy", "model": model.partition(":")[2]}
    if engine not in ENGINES:
        raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    return {"kind": engine, "model": model, "max_new_tokens": max_new_tokens}
