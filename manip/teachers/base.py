"""The teacher interface and the completion it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from models.types import SceneState


@dataclass
class TeacherRequest:
    scene: SceneState
    messages: list[dict[str, str]]


@dataclass
class Completion:
    text: str | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    finish_reason: str | None = None
    error: str | None = None  # set when the teacher failed: the episode is a teacher_error


class Teacher(Protocol):
    name: str  # recorded on every episode, e.g. "expert", "hf:smollm2-135m"
    prompt_version: str  # the prompt it is asked with (manip.prompt); make_teacher sets it
    # True: one call over a block's prompts is what it is built for (an LLM); False: it is
    # asked seed by seed, so the scene it planned on is still the env's and needs no reset
    batched: bool

    def complete(self, requests: list[TeacherRequest]) -> list[Completion]:
        """One completion per request, in order. Never raises for one bad request."""
        ...

    def close(self) -> None: ...
