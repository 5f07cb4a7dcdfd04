"""The deployment path on the simulated stand-in: observe -> model -> plan -> envelope -> move."""

from __future__ import annotations

import dataclasses
import json

import pytest

from manip.plan_language import PlanError, parse_plan
from manip.teachers.base import Completion
from models.types import FailureReason, ObjectState, SceneState
from robot_runtime.base import Armed, CheckedPlan, HardwareLimits, SafetyEnvelope
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


class Arm(Armed):
    """A robot as the envelope sees it: limits, confidence, a measured position (no motion)."""

    name = "arm"

    def __init__(self, at=(0.0, 0.0, 0.18), confidence=None, limits=None):
        self.at = at
        self.confidence = {} if confidence is None else confidence
        self.limits = limits or HardwareLimits((-0.6, -0.8, 0.0), (0.24, 0.8, 0.6), (-0.6, 0.0))

    def measured_position(self):
        return self.at


def plan(code: str):
    return parse_plan(f"```python\n{code}\n```")


def test_envelope_refuses_what_the_plan_language_allows():
    env = SafetyEnvelope(margin_m=0.02)
    with pytest.raises(PlanError, match="safety envelope") as err:
        env.check(plan("move_gripper([0.23, 0.0, 0.1])"), SCENE, Arm())  # inside, not the margin
    assert err.value.reason == FailureReason.UNSAFE_PLAN
    with pytest.raises(PlanError, match="exceeds 0.6 m"):
        env.check(plan("move_gripper([0.0, 0.7, 0.1])"), SCENE, Arm())
    with pytest.raises(PlanError, match="tilt 80"):
        env.check(plan("move_gripper([0.0, 0.0, 0.1], tilt=80)"), SCENE, Arm())
    checked = env.check(plan("move_gripper([0.0, 0.0, 0.1], yaw=30)"), SCENE, Arm())
    assert isinstance(checked, CheckedPlan) and len(checked.steps) == 1


def test_envelope_fails_closed():
    """The review's findings: the start is the arm's measured pose (not the scene file's),
    hardware limits bound what a file says, the straight path between waypoints is checked,
    a robot without confidence or limits gets nothing, and execute refuses unchecked steps."""
    env = SafetyEnvelope()
    near = plan("move_gripper([0.0, 0.3, 0.1])")
    env.check(near, SCENE, Arm(at=(0.0, 0.0, 0.18)))  # the file's pose and the arm's agree
    with pytest.raises(PlanError, match="exceeds 0.6 m"):  # the arm is elsewhere than the file says
        env.check(near, SCENE, Arm(at=(0.0, -0.5, 0.18)))
    wide = dataclasses.replace(SCENE, workspace_min=(-5.0, -5.0, 0.0), workspace_max=(5, 5, 5))
    with pytest.raises(PlanError, match="outside the safety envelope"):  # a file cannot widen
        env.check(plan("move_gripper([1.5, 0.0, 0.1])"), wide, Arm())
    # both waypoints fine, the straight line between them through the base's keep-out zone
    around = plan("move_gripper([-0.5, -0.2, 0.1])\nmove_gripper([-0.5, 0.2, 0.1])")
    with pytest.raises(PlanError, match="line 2: the path passes within 0.15 m"):
        env.check(around, SCENE, Arm(at=(-0.5, -0.25, 0.1)))

    class Blind:
        name = "blind"
        limits = Arm().limits

        def measured_position(self):
            return (0.0, 0.0, 0.18)

    with pytest.raises(PlanError, match="no perception confidence"):
        env.check(near, SCENE, Blind())
    arm = Arm()
    with pytest.raises(PlanError, match="only a plan the envelope passed"):
        arm.arm(near)  # a bare list of steps
    arm.arm(env.check(near, SCENE, arm))
    assert arm.cleared(arm._armed.steps[0]) and not arm.cleared(plan("open_gripper()")[0])


def test_the_franka_refuses_a_step_outside_a_checked_plan():
    from robot_runtime.franka import FRANKA_LIMITS, FrankaRobot, SceneFile

    robot = FrankaRobot("10.0.0.2", SceneFile("scene.json"))  # never connected: no arm here
    ok, detail = robot.execute(plan("open_gripper()")[0])
    assert not ok and "not part of a plan the safety envelope passed" in detail
    assert robot.limits is FRANKA_LIMITS and robot.confidence == {}


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
    env.check(grasp, SCENE, Arm(confidence={"cube": 0.9}))  # seen surely: goes
    with pytest.raises(PlanError, match="cube was seen with confidence 0.10") as err:
        env.check(plan('close_gripper("cube")'), SCENE, Arm(confidence={"cube": 0.1}))
    assert err.value.reason == FailureReason.UNSAFE_PLAN
    with pytest.raises(PlanError, match="the target is on cube, seen with confidence 0.20"):
        env.check(grasp, SCENE, Arm(confidence={"cube": 0.2}))
    env.check(plan("move_gripper([0.1, 0.2, 0.1])"), SCENE, Arm(confidence={"cube": 0.2}))


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
    # a BLM1 task too: the cube from the cameras, the goal point from the instruction
    out = run_cli("robot", "run", "--task", "PickCube-v1", "--seed", "2000000003")
    data = json.loads(out.stdout)
    assert out.returncode == 0 and data["scene"] == "perceived:blocks" and data["success"], (
        out.stdout[-1500:]
    )
