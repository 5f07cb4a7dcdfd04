"""A Franka Panda through panda-py (libfranka), with a perception module that yields the
scene state. UNTESTED: no arm here. Written against panda-py's documented API
(``panda_py.Panda``, ``move_to_pose``, ``panda_py.libfranka.Gripper``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from manip.plan_language import CloseGripper, Move, OpenGripper, Step, TaskCompleted
from models.errors import ConfigError
from models.frames import gripper_quat
from models.types import SceneState
from robot_runtime.base import Armed, HardwareLimits

GRIPPER_OPEN_M = 0.08
GRIPPER_SPEED_M_S = 0.1
GRASP_FORCE_N = 40.0
CONTROL_PERIOD_S = 1 / 20  # a policy's control step: the simulator's Panda control rate


class Perception(Protocol):
    def scene(self) -> SceneState: ...


class PosePerception(Protocol):
    """What a learned policy needs from perception: each trained actor's pose (x, y, z and
    a w, x, y, z quaternion) in the arm's base frame, named as in the simulator."""

    def poses(self) -> dict[str, np.ndarray]: ...


class SceneFile:
    """Perception from a JSON file of the scene state (e.g. written by a calibrated detector)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def scene(self) -> SceneState:
        return SceneState.from_json(json.loads(self.path.read_text()))


def down_quat_xyzw(yaw_deg: float, tilt_deg: float) -> np.ndarray:
    """The same hand orientation the simulator uses (see gripper_quat), as x, y, z, w."""

    w, x, y, z = gripper_quat(yaw_deg, tilt_deg)
    return np.array([x, y, z, w])


# The Panda's own box in its base frame (m): a table-top reach with room to spare, above the
# table surface; and no TCP within 0.2 m of the base's axis. A scene file only narrows it.
FRANKA_LIMITS = HardwareLimits((0.20, -0.60, 0.02), (0.80, 0.60, 0.80), (0.0, 0.0), 0.20)


class FrankaRobot(Armed):
    limits = FRANKA_LIMITS

    def __init__(self, host: str, perception: Perception) -> None:
        self.name = f"franka:{host}"
        self.host, self.perception = host, perception
        self._panda: Any = None  # panda_py.Panda once connected
        self._gripper: Any = None  # libfranka.Gripper once connected
        self._widths: dict[str, float] = {}
        self._joints: Any = None  # panda_py.controllers.JointPosition while a policy runs
        self._closed = False

    def connect(self) -> None:
        try:
            import panda_py
            from panda_py import libfranka
        except ImportError:
            raise ConfigError(
                "the franka robot needs `pip install blazer[robot]` (panda-python)"
            ) from None
        self._panda = panda_py.Panda(self.host)
        self._gripper = libfranka.Gripper(self.host)

    @property
    def confidence(self) -> dict[str, float]:
        """Per-object confidence from camera perception (empty for a scene file)."""
        return getattr(self.perception, "confidence", {})

    def observe(self) -> SceneState:
        scene = self.perception.scene()
        self._widths = {o.name: min(o.size[0], o.size[1]) for o in scene.objects}
        return scene

    def measured_position(self) -> tuple[float, float, float]:
        """The TCP position libfranka reports (base frame)."""
        if self._panda is None:
            raise ConfigError("connect() before reading the arm's position")
        x, y, z = (float(v) for v in self._panda.get_position())
        return (x, y, z)

    def execute(self, step: Step) -> tuple[bool, str]:
        if not self.cleared(step):  # its own guard: nothing moves the arm unchecked
            return False, "refused: the step is not part of a plan the safety envelope passed"
        if isinstance(step, Move):
            ok = self._panda.move_to_pose(
                np.array(step.position), down_quat_xyzw(step.yaw_deg, step.tilt_deg)
            )
            return bool(ok), "moved" if ok else "move_to_pose refused"
        if isinstance(step, OpenGripper):
            return bool(self._gripper.move(GRIPPER_OPEN_M, GRIPPER_SPEED_M_S)), "opened"
        if isinstance(step, CloseGripper):
            width = self._widths.get(step.target or "", 0.0)
            ok = self._gripper.grasp(
                width, GRIPPER_SPEED_M_S, GRASP_FORCE_N * step.strength, 0.01, 0.01
            )
            return bool(ok), f"grasp width {width:.3f} m"
        if isinstance(step, TaskCompleted):
            return True, "task completed"
        return False, f"unknown step {step!r}"

    # a learned policy (robot_runtime.policy_runner) -------------------------------------------
    def policy_observation(self) -> tuple[np.ndarray, list[str]]:
        """The policy's state vector from the arm (joints, the gripper's width as the two
        finger joints, the TCP pose) and the perception's object poses (``PosePerception``)."""
        from manip.policy.features import observation

        poses = getattr(self.perception, "poses", None)
        if poses is None:
            raise ConfigError("a policy needs object poses: this perception gives only a scene")
        state = self._panda.get_state()
        half = float(self._gripper.read_once().width) / 2
        qpos = np.hstack([state.q, [half, half]])
        qvel = np.hstack([state.dq, [0.0, 0.0]])
        x, y, z, w = self._panda.get_orientation()  # panda-py: x, y, z, w
        tcp = np.hstack([self._panda.get_position(), [w, x, y, z]])
        objects = poses()
        return observation(qpos, qvel, tcp, objects), sorted(objects)

    def command_joints(self, action: np.ndarray) -> None:
        """Joint-position targets through panda-py's JointPosition controller, held for one
        control period (the simulator's 20 Hz); the gripper closes below 0, opens above."""
        from panda_py import controllers

        if self._joints is None:
            self._joints = controllers.JointPosition()
            self._panda.start_controller(self._joints)
        self._joints.set_control(np.asarray(action[:7]), np.zeros(7))
        closed = float(action[-1]) < 0
        if closed != self._closed:
            if closed:
                self._gripper.grasp(0.0, GRIPPER_SPEED_M_S, GRASP_FORCE_N, 0.08, 0.08)
            else:
                self._gripper.move(GRIPPER_OPEN_M, GRIPPER_SPEED_M_S)
            self._closed = closed
        time.sleep(CONTROL_PERIOD_S)

    def task_success(self) -> bool:
        """No check can see success on the real arm: the policy runs to its step limit."""
        return False

    def disconnect(self) -> None:
        if self._joints is not None:
            self._panda.stop_controller()
        self._panda = self._gripper = self._joints = None
