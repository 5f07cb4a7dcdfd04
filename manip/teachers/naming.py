"""A teacher's identity, from its kind and config, without building it (campaigns record it
before any worker has loaded a model)."""

from __future__ import annotations

from typing import Any

from manip.teachers.models import DEFAULT_MODEL


def teacher_name(kind: str, config: dict[str, Any] | None = None) -> str:
    """The one identity of a teacher, recorded on its campaign and on every episode:
    ``expert``, ``noop``, ``hf:smollm2-135m``, ``hf:student-v2+<adapter>``, ``openai:<model>``."""
    config = config or {}
    if kind in ("expert", "noop"):
        return kind
    name = f"{kind}:{config.get('model') or DEFAULT_MODEL}"
    return f"{name}+{config['adapter']}" if config.get("adapter") else name


def teacher_for_model(model: str, max_new_tokens: int = 384) -> dict[str, Any]:
    """The teacher config that asks ``model`` (evaluation and deployment both use this):
    ``expert``, or the model through transformers; a registered version brings its adapter
    and the prompt version it was trained on when the teacher is built."""
    if model in ("expert", "noop"):
        return {"kind": model}
    return {"kind": "hf", "model": model, "max_new_tokens": max_new_tokens}
