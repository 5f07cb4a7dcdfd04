"""Teachers: a batch of prompts in, completions out. ``make_teacher`` is the registry."""

from __future__ import annotations

import importlib
from typing import Any

from models.errors import ConfigError
from worker.prompt import PROMPT_VERSION, check_version
from worker.teachers.base import Teacher
from worker.teachers.naming import teacher_for_model, teacher_name

__all__ = ["TEACHERS", "make_teacher", "teacher_for_model", "teacher_name"]

# kind -> "module:Class", imported only when a campaign uses that kind
TEACHERS: dict[str, str] = {
    "expert": "worker.teachers.expert:ExpertTeacher",
    "hf": "worker.teachers.hf:HFTeacher",
    "llamacpp": "worker.teachers.llamacpp:LlamaCppTeacher",
    "openai": "worker.teachers.openai_http:OpenAITeacher",
    "vllm": "worker.teachers.vllm_inproc:VLLMTeacher",
    "noop": "worker.teachers.noop:NoopTeacher",
}


def make_teacher(kind: str, config: dict[str, Any] | None = None) -> Teacher:
    """Build a teacher. ``config["prompt"]`` names the prompt version it is asked with;
    without it, a registered model's own version (what it was trained on), else v1."""
    if kind not in TEACHERS:
        raise ConfigError(f"unknown teacher kind {kind!r}; known: {', '.join(TEACHERS)}")
    config = dict(config or {})
    prompt = config.pop("prompt", None)
    module, cls = TEACHERS[kind].split(":")
    teacher = getattr(importlib.import_module(module), cls)(**config)
    teacher.name = teacher_name(kind, config)
    if prompt is not None:
        teacher.prompt_version = check_version(prompt)
    elif not getattr(teacher, "prompt_version", None):
        teacher.prompt_version = PROMPT_VERSION
    return teacher
