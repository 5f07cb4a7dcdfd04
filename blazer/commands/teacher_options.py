"""Turn a command's teacher flags into a teacher (shared by sim try, campaigns, eval)."""

from __future__ import annotations

from typing import Any

from manip.teachers import make_teacher


def teacher_config(
    model: str | None = None,
    base_url: str | None = None,
    adapter: str | None = None,
    max_new_tokens: int | None = None,
    prompt: str | None = None,
) -> dict[str, Any]:
    config = {
        "model": model,
        "base_url": base_url,
        "adapter": adapter,
        "max_new_tokens": max_new_tokens,
        "prompt": prompt,
    }
    return {k: v for k, v in config.items() if v is not None}


def teacher_from_flags(
    kind: str, model=None, base_url=None, adapter=None, max_new_tokens=None, prompt=None
):
    return make_teacher(kind, teacher_config(model, base_url, adapter, max_new_tokens, prompt))
