"""Teachers: a batch of prompts in, completions out. ``make_teacher`` is the registry."""

from __future__ import annotations

import importlib
from typing import Any

from manip.prompt import PROMPT_VERSION, check_version
from manip.teachers.base import Teacher
from manip.teachers.naming import teacher_for_model, teacher_name
from models.errors import ConfigError

__all__ = ["TEACHERS", "make_teacher", "teacher_for_model", "teacher_name"]

# kind -> "module:Class", imported only when a campaign uses that kind
TEACHERS: dict[str, str] = {
    "expert": "manip.teachers.expert:ExpertTeacher",
    "hf": "manip.teachers.hf:HFTeacher",
    "llamacpp": "manip.teachers.llamacpp:LlamaCppTeacher",
    "openai": "manip.teachers.openai_http:OpenAITeacher",
    "vllm": "manip.teachers.vllm_inproc:VLLMTeacher",
    "noop": "manip.teachers.noop:NoopTeacher",
    "policy": "manip.teachers.policy:PolicyTeacher",
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
