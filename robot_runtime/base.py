"""The robot family's interface and the safety envelope every plan passes before it moves.

A robot is four verbs, as in LeRobot: connect, observe (perception -> the same scene state
the simulator gives), carry out one plan step, disconnect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from manip.plan_language import CloseGripper, Move, PlanError, Step
from models.types import FailureReason, SceneState

Vec3 = tuple[float, float, float]
PATH_SAMPLE_M = 0.01  # the straight path between waypoints is checked every centimetre


@dataclass(frozen=True)
class HardwareLimits:
    """What the arm may never leave, whatever a scene file says (a file can only narrow it):
    a box for the TCP in the scene's frame, and a keep-out cylinder around the base, where the
    arm would fold onto itself."""

    workspace_min: Vec3
    workspace_max: Vec3
    base_xy: tuple[float, float] = (0.0, 0.0)
    keep_out_radius_m: float = 0.15


@dataclass(frozen=True)
class CheckedPlan:
    """A plan that passed the envelope: the only thing a robot's ``arm`` accepts."""

    steps: tuple[Step, ...]


class Robot(Protocol):
    name: str
    limits: HardwareLimits
    confidence: dict[str, float]  # per perceived object; empty when nothing was perceived

    def connect(self) -> None: ...

    def observe(self) -> SceneState: ...

    def measured_position(self) -> Vec3:
        """Where the TCP is now, read from the arm (never from a scene file)."""
        ...

    def arm(self, plan: CheckedPlan) -> None:
        """Accept a checked plan; ``execute`` refuses any step that is not in it."""
        ...

    def execute(self, step: Step) -> tuple[bool, str]: ...

    def disconnect(self) -> None: ...


class Armed:
    """The part of ``arm``/``execute`` every robot shares: only steps of the last checked plan
    may move it."""

    _armed: CheckedPlan | None = None

    def arm(self, plan: CheckedPlan) -> None:
        if not isinstance(plan, CheckedPlan):
            raise PlanError(FailureReason.UNSAFE_PLAN, "only a plan the envelope passed is armed")
        self._armed = plan

    def cleared(self, step: Step) -> bool:
        return self._armed is not None and any(step is s for s in self._armed.steps)


@dataclass
class SafetyEnvelope:
    """Tighter than the plan language's own check, and failing closed: the robot's measured
    pose starts the path, its hardware limits bound the scene's workspace, every point of the
    straight path between waypoints is checked, and a robot that reports no perception
    confidence (or no limits) gets no plan at all."""

    margin_m: float = 0.0  # shrink the workspace by this much on every side
    min_height_above_table_m: float = 0.005
    max_step_m: float = 0.6  # longest straight move between consecutive targets
    max_tilt_deg: float = 60.0
    min_confidence: float = 0.3  # a perceived object seen less surely is not acted on

    def check(self, steps: list[Step], scene: SceneState, robot: Robot) -> CheckedPlan:
        """Refuse the plan before it moves (PlanError, unsafe_plan); the checked plan else."""
        confidence = getattr(robot, "confidence", None)
        limits = getattr(robot, "limits", None)
        if not isinstance(confidence, dict) or not isinstance(limits, HardwareLimits):
            raise PlanError(
                FailureReason.UNSAFE_PLAN,
                f"robot {getattr(robot, 'name', robot)!r} reports no perception confidence or "
                "hardware limits; refusing to move it",
            )
        self._check_confidence(steps, scene, confidence)
        lo = [
            max(v + self.margin_m, h)
            for v, h in zip(scene.workspace_min, limits.workspace_min, strict=True)
        ]
        hi = [
            min(v - self.margin_m, h)
            for v, h in zip(scene.workspace_max, limits.workspace_max, strict=True)
        ]
        lo[2] = max(lo[2], scene.table_height + self.min_height_above_table_m)
        previous = tuple(robot.measured_position())
        self._inside(previous, lo, hi, limits, "the arm's measured position")
        for step in steps:
            if not isinstance(step, Move):
                continue
            self._inside(step.position, lo, hi, limits, f"line {step.line}: the target")
            jump = math.dist(step.position, previous)
            if jump > self.max_step_m:
                raise PlanError(
                    FailureReason.UNSAFE_PLAN,
                    f"line {step.line}: a {jump:.2f} m move in one step exceeds {self.max_step_m} m",
                )
            for i in range(1, int(jump / PATH_SAMPLE_M)):
                t = i * PATH_SAMPLE_M / jump
                point = tuple(p + t * (q - p) for p, q in zip(previous, step.position, strict=True))
                self._inside(point, lo, hi, limits, f"line {step.line}: the path")
            if abs(step.tilt_deg) > self.max_tilt_deg:
                raise PlanError(
                    FailureReason.UNSAFE_PLAN,
                    f"line {step.line}: tilt {step.tilt_deg:g} exceeds {self.max_tilt_deg:g} degrees",
                )
            previous = step.position
        return CheckedPlan(tuple(steps))

    @staticmethod
    def _inside(point, lo, hi, limits: HardwareLimits, what: str) -> None:
        for axis, v, a, b in zip("xyz", point, lo, hi, strict=True):
            if not a <= v <= b:
                raise PlanError(
                    FailureReason.UNSAFE_PLAN,
                    f"{what} at {axis}={v:.3f} m is outside the safety envelope [{a:.3f}, {b:.3f}]",
                )
        if math.dist(point[:2], limits.base_xy) < limits.keep_out_radius_m:
            raise PlanError(
                FailureReason.UNSAFE_PLAN,
                f"{what} passes within {limits.keep_out_radius_m:.2f} m of the arm's base",
            )

    def _check_confidence(
        self, steps: list[Step], scene: SceneState, confidence: dict[str, float]
    ) -> None:
        unsure = {n: c for n, c in confidence.items() if c < self.min_confidence}
        if not unsure:
            return
        for step in steps:
            if isinstance(step, CloseGripper) and step.target in unsure:
                raise PlanError(
                    FailureReason.UNSAFE_PLAN,
                    f"line {step.line}: {step.target} was seen with "
                    f"confidence {unsure[step.target]:.2f} < {self.min_confidence}",
                )
            if isinstance(step, Move):
                for o in scene.objects:
                    reach = max(o.size[:2]) / 2 + 0.01
                    if o.name in unsure and math.dist(step.position[:2], o.position[:2]) <= reach:
                        raise PlanError(
                            FailureReason.UNSAFE_PLAN,
                            f"line {step.line}: the target is on {o.name}, "
                            f"seen with confidence {unsure[o.name]:.2f} < {self.min_confidence}",
                        )
