"""Teachers: a batch of prompts in, completions out. ``make_teacher`` is the registry."""

from __future__ import annotations

import importlib
from typing import Any

from blazer.errors import ConfigError
from worker.teachers.base import Teacher

# kind -> "module:Class", imported only when a campaign uses that kind
TEACHERS: dict[str, str] = {
    "expert": "worker.teachers.expert:ExpertTeacher",
    "hf": "worker.teachers.hf:HFTeacher",
    "openai": "worker.teachers.openai_http:OpenAITeacher",
    "vllm": "worker.teachers.vllm_inproc:VLLMTeacher",
    "noop": "worker.teachers.noop:NoopTeacher",
}


def make_teacher(kind: str, config: dict[str, Any] | None = None) -> Teacher:
    if kind not in TEACHERS:
        raise ConfigError(f"unknown teacher kind {kind!r}; known: {', '.join(TEACHERS)}")
    module, cls = TEACHERS[kind].split(":")
    return getattr(importlib.import_module(module), cls)(**(config or {}))
