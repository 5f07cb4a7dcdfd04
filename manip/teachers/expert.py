"""The scripted expert: plans in the plan language from the scene state alone.

What ManiSkill's motion-planning solutions know about each task, written as plans our
primitives carry out. It is the embedded default teacher and every LLM's baseline.
"""

from __future__ import annotations

import time

from manip.prompt import PROMPT_VERSION
from manip.sim.tasks import get_task
from manip.teachers.base import Completion, TeacherRequest


class ExpertTeacher:
    batched = False  # a plan costs microseconds: asked per seed, each episode resets once
    name = "expert"
    prompt_version = PROMPT_VERSION  # an expert reads the scene, not the prompt

    def complete(self, requests: list[TeacherRequest]) -> list[Completion]:
        out = []
        for req in requests:
            start = time.perf_counter()
            text = get_task(req.scene.task).expert_plan(req.scene)
            out.append(Completion(text, 0, 0, time.perf_counter() - start, "stop"))
        return out

    def close(self) -> None:
        pass
