"""The deployment path on the simulated stand-in: observe -> model -> plan -> envelope -> move."""

from __future__ import annotations

import json

import pytest

from manip.plan_language import PlanError, parse_plan
from manip.teachers.base import Completion
from models.types import FailureReason, ObjectState, SceneState
from robot_runtime.base import SafetyEnvelope
from robot_runtime.runner import deploy_once, make_robot
from tests.conftest import run_cli

SCENE = SceneState(
    "PickCube-v1",
    "panda",
    0,
    "pick",
    (ObjectState("cube", (0.0, 0.0, 0.02), 0.0, (0.04, 0.04, 0.04)),),
    (0.0, 0.0, 0.18),
    0.0,
    True,
    (-0.6, -0.8, 0.0),
    (0.24, 0.8, 0.6),
    0.0,
)


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


def test_the_envelope_refuses_targets_on_objects_perception_was_unsure_of():
    env = SafetyEnvelope()
    grasp = parse_plan('```python\nmove_gripper([0.0, 0.0, 0.03])\nclose_gripper("cube")\n```')
    env.check(grasp, SCENE, {"cube": 0.9})  # seen surely: goes
    with pytest.raises(PlanError, match="cube was seen with confidence 0.10") as err:
        env.check(parse_plan('```python\nclose_gripper("cube")\n```'), SCENE, {"cube": 0.1})
    assert err.value.reason == FailureReason.UNSAFE_PLAN
    with pytest.raises(PlanError, match="the target is on cube, seen with confidence 0.20"):
        env.check(grasp, SCENE, {"cube": 0.2})
    env.check(
        parse_plan("```python\nmove_gripper([0.1, 0.2, 0.1])\n```"), SCENE, {"cube": 0.2}
    )  # elsewhere


def test_robot_run_on_the_stand_in_sees_through_its_cameras():
    """No true state reaches the model: the stand-in perceives a blazer task through three
    simulated RGB-D cameras, and the expert's plan from that scene does the task."""
    robot = make_robot("sim", task="PutBlock-v1", seed=2_000_000_004)
    seen = {}

    class Recording(Scripted):
        def complete(self, requests):
            seen["scene"] = requests[0].scene
            from manip.teachers.expert import ExpertTeacher

            return ExpertTeacher().complete(requests)

    result = deploy_once(robot, Recording(""))
    assert robot.scene_source == "perceived:blocks" and result.finished and robot.task_success()
    assert seen["scene"].table_height != 0.0  # the fitted plane, not the simulator's 0.0
    assert set(robot.confidence) == {o.name for o in seen["scene"].objects}
    out = run_cli("robot", "run", "--task", "BlockInBasket-v1", "--seed", "2000000002")
    data = json.loads(out.stdout)
    assert out.returncode == 0 and data["scene"] == "perceived:blocks" and data["success"], (
        out.stdout[-1500:]
    )
