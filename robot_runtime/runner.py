"""One deployment episode: observe, ask the model, parse, check the envelope, then move.

The prompt and plan language are the ones the model was trained on (manip.prompt,
manip.plan_language): what it sees here is exactly what it saw in training.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any

from manip.plan_language import PlanError, check_plan, parse_plan
from manip.prompt import render_messages
from manip.teachers.base import Teacher, TeacherRequest
from models.errors import ConfigError
from robot_runtime.base import Robot, SafetyEnvelope

log = logging.getLogger(__name__)

ROBOTS = {"sim": "robot_runtime.sim_robot:SimRobot", "franka": "robot_runtime.franka:FrankaRobot"}


def make_robot(kind: str, **kwargs: Any) -> Robot:
    if kind not in ROBOTS:
        raise ConfigError(f"unknown robot {kind!r}; known: {', '.join(ROBOTS)}")
    module, cls = ROBOTS[kind].split(":")
    return getattr(importlib.import_module(module), cls)(**kwargs)


@dataclass
class Deployment:
    completion: str | None = None
    steps: list[dict] = field(default_factory=list)
    refused: str | None = None
    finished: bool = False


def deploy_once(robot: Robot, model: Teacher, envelope: SafetyEnvelope | None = None) -> Deployment:
    envelope = envelope or SafetyEnvelope()
    result = Deployment()
    robot.connect()
    try:
        scene = robot.observe()
        (completion,) = model.complete(
            [TeacherRequest(scene, render_messages(scene, model.prompt_version))]
        )
        result.completion = completion.text
        if completion.text is None:
            result.refused = f"model failed: {completion.error}"
            return result
        try:
            steps = parse_plan(completion.text)
            check_plan(steps, scene)
            robot.arm(envelope.check(steps, scene, robot))
        except PlanError as exc:
            result.refused = f"{exc.reason.value}: {exc.message}"
            return result
        for step in steps:
            ok, detail = robot.execute(step)
            result.steps.append({"op": step.op, "line": step.line, "ok": ok, "detail": detail})
            if not ok:
                return result
        result.finished = True
        return result
    finally:
        robot.disconnect()
