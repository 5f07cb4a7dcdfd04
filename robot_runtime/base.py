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


class Robot(Protocol):
    name: str

    def connect(self) -> None: ...

    def observe(self) -> SceneState: ...

    def execute(self, step: Step) -> tuple[bool, str]: ...

    def disconnect(self) -> None: ...


@dataclass
class SafetyEnvelope:
    """Tighter than the plan language's own check: a real arm gets a margin and a floor."""

    margin_m: float = 0.0  # shrink the workspace by this much on every side
    min_height_above_table_m: float = 0.005
    max_step_m: float = 0.6  # longest straight move between consecutive targets
    max_tilt_deg: float = 60.0
    min_confidence: float = 0.3  # a perceived object seen less surely is not acted on

    def check(
        self, steps: list[Step], scene: SceneState, confidence: dict[str, float] | None = None
    ) -> None:
        """Refuse the plan before it moves; ``confidence`` (perceived scenes) also refuses
        a grasp of, or a target on, an object perception was unsure of."""
        self._check_confidence(steps, scene, confidence or {})
        lo = [v + self.margin_m for v in scene.workspace_min]
        hi = [v - self.margin_m for v in scene.workspace_max]
        lo[2] = max(lo[2], scene.table_height + self.min_height_above_table_m)
        previous = scene.ee_position
        for step in steps:
            if not isinstance(step, Move):
                continue
            for axis, v, a, b in zip("xyz", step.position, lo, hi, strict=True):
                if not a <= v <= b:
                    raise PlanError(
                        FailureReason.UNSAFE_PLAN,
                        f"line {step.line}: {axis}={v:.3f} m is outside the safety envelope [{a:.3f}, {b:.3f}]",
                    )
            jump = sum((p - q) ** 2 for p, q in zip(step.position, previous, strict=True)) ** 0.5
            if jump > self.max_step_m:
                raise PlanError(
                    FailureReason.UNSAFE_PLAN,
                    f"line {step.line}: a {jump:.2f} m move in one step exceeds {self.max_step_m} m",
                )
            if abs(step.tilt_deg) > self.max_tilt_deg:
                raise PlanError(
                    FailureReason.UNSAFE_PLAN,
                    f"line {step.line}: tilt {step.tilt_deg:g} exceeds {self.max_tilt_deg:g} degrees",
                )
            previous = step.position

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
