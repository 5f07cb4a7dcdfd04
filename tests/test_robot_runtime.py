"""The deployment path on the simulated stand-in: observe -> model -> plan -> envelope -> move."""

from __future__ import annotations

import json

import pytest

from models.types import FailureReason, ObjectState, SceneState
from robot_runtime.base import SafetyEnvelope
from robot_runtime.runner import deploy_once, make_robot
from tests.conftest import run_cli
from worker.plan_language import PlanError, parse_plan
from worker.teachers.base import Completion

SCENE = SceneState("PickCube-v1", "panda", 0, "pick", (ObjectState("cube", (0.0, 0.0, 0.02), 0.0, (0.04, 0.04, 0.04)),),
                   (0.0, 0.0, 0.18), 0.0, True, (-0.6, -0.8, 0.0), (0.24, 0.8, 0.6), 0.0)  # fmt: skip


class Scripted:
    """A model that always answers with the given text (the runner's contract, not a stand-in for a model)."""

    name = "scripted"
    prompt_version = "v1"

    def __init__(self, text):
        self.text = text

    def complete(self, requests):
        return [Completion(self.text) for _ in requests]

    def close(self):
        pass


def test_envelope_refuses_what_the_plan_language_allows():
    env = SafetyEnvelope(margin_m=0.02)
    plan = parse_plan(
        "```python\nmove_gripper([0.23, 0.0, 0.1])\n```"
    )  # inside the workspace, not the margin
    with pytest.raises(PlanError, match="safety envelope") as err:
        env.check(plan, SCENE)
    assert err.value.reason == FailureReason.UNSAFE_PLAN
    with pytest.raises(PlanError, match="exceeds 0.6 m"):
        env.check(parse_plan("```python\nmove_gripper([0.0, 0.7, 0.1])\n```"), SCENE)
    with pytest.raises(PlanError, match="tilt 80"):
        env.check(parse_plan("```python\nmove_gripper([0.0, 0.0, 0.1], tilt=80)\n```"), SCENE)
    env.check(parse_plan("```python\nmove_gripper([0.0, 0.0, 0.1], yaw=30)\n```"), SCENE)


def test_sim_robot_refuses_unsafe_model_output_before_moving():
    robot = make_robot("sim", task="PickCube-v1", seed=1)
    result = deploy_once(robot, Scripted("```python\nmove_gripper([0.0, 0.0, -0.3])\n```"))
    assert result.refused.startswith("unsafe_plan") and result.steps == [] and not result.finished


def test_robot_run_cli_with_expert_on_the_sim_stand_in():
    out = run_cli("robot", "run", "--task", "PullCube-v1", "--seed", "1")
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout)
    assert data["finished"] and data["success"] and all(s["ok"] for s in data["steps"])
    out = run_cli("robot", "run", "--robot", "ur5")
    assert out.returncode == 2 and "unknown robot 'ur5'" in out.stderr
