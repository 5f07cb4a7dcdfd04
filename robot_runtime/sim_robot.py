"""A simulated stand-in for the arm: the ManiSkill backend behind the robot interface, so the
deployment path (observe -> model -> plan -> envelope -> execute) runs without hardware.

It observes through three simulated RGB-D cameras (``manip.perception``) for every task
the cameras can see (all of ``tasks list``), so no true state reaches the model: only a goal
the instruction states (PickCube's goal point) comes from the task definition."""

from __future__ import annotations

import numpy as np

from manip.plan_language import Move, Step
from manip.sim.isolated import IsolatedSimulator
from manip.sim.robots import get_robot
from models.types import FailureReason, SceneState
from robot_runtime.base import Armed, HardwareLimits, Vec3

KEEP_OUT_RADIUS_M = 0.12


class SimRobot(Armed):
    def __init__(
        self, task: str = "PickCube-v1", seed: int = 0, robot: str = "panda", scene: str = "auto"
    ) -> None:
        from manip.sim.tasks import PERCEIVABLE

        self.name = f"sim:{robot}"
        self.task, self.seed, self.robot = task, seed, robot
        if scene == "auto":
            scene = "perceived:blocks" if task in PERCEIVABLE else "true"
        self.scene_source = scene
        self.confidence: dict[str, float] = {}  # per perceived object, for the envelope
        # the robot record's reach-bounded box; ManiSkill's table scene stands the arm at the
        # box's near edge (the scene's workspace starts at the base)
        lo, hi = get_robot(robot).workspace
        self.limits = HardwareLimits(lo, hi, (lo[0], 0.0), KEEP_OUT_RADIUS_M)
        self._sim: IsolatedSimulator | None = None
        self._scene: SceneState | None = None
        self._tcp: Vec3 | None = None

    def connect(self) -> None:
        self._sim = IsolatedSimulator()
        self._scene = self._sim.reset(self.task, self.robot, self.seed)
        self._tcp = self._scene.ee_position  # the simulator's TCP, before any perception
        if self.scene_source != "true":
            segmenter = self.scene_source.partition(":")[2] or "blocks"
            self._scene, report = self._sim.perceive(segmenter)
            self.confidence = {n: o["confidence"] for n, o in report["objects"].items()}
            self.confidence |= {n: 0.0 for n in report["missing"]}
            self.confidence |= {n: 1.0 for n in report.get("given", {})}  # the instruction's

    def observe(self) -> SceneState:
        assert self._scene is not None, "connect() first"
        return self._scene

    def measured_position(self) -> Vec3:
        """The simulated arm's TCP: where it was reset, then each reached target."""
        assert self._tcp is not None, "connect() first"
        return self._tcp

    def execute(self, step: Step) -> tuple[bool, str]:
        # the simulator carries out a whole plan; one step at a time keeps the robot contract
        assert self._sim is not None
        if not self.cleared(step):
            return False, f"{FailureReason.UNSAFE_PLAN.value}: step not in a checked plan"
        result = self._sim.execute([step])
        outcome = result.steps[0] if result.steps else None
        if isinstance(step, Move) and outcome is not None and outcome.reached:
            self._tcp = step.position
        self.last_checks = result.checks
        return (outcome.reached if outcome else False), (
            outcome.detail if outcome else result.detail
        )

    # a learned policy (robot_runtime.policy_runner): the true state, one control step at a time
    def policy_observation(self) -> tuple[np.ndarray, list[str]]:
        assert self._sim is not None, "connect() first"
        obs, actors = self._sim.policy_observation()
        return np.asarray(obs, dtype=np.float32), actors

    def command_joints(self, action: np.ndarray) -> None:
        assert self._sim is not None, "connect() first"
        self.last_checks = self._sim.command([float(a) for a in action])

    def task_success(self) -> bool:
        return bool(getattr(self, "last_checks", {}).get("success"))

    def disconnect(self) -> None:
        if self._sim is not None:
            self._sim.close()
            self._sim = None
