"""Benchmark-only simulator: no physics; every plan succeeds. Measures platform overhead."""

from __future__ import annotations

from manip.plan_language import Step
from manip.sim.base import ExecutionResult
from models.types import ObjectState, RecordSpec, SceneState


class NoopSimulator:
    def reset(
        self, task: str, robot: str, seed: int, record: RecordSpec | None = None
    ) -> SceneState:
        cube = ObjectState("cube", (0.0, 0.0, 0.02), 0.0, (0.04, 0.04, 0.04))
        return SceneState(
            task,
            robot,
            seed,
            "noop",
            (cube,),
            (0.0, 0.0, 0.2),
            0.0,
            True,
            (-0.5, -0.5, 0.0),
            (0.5, 0.5, 0.5),
            0.0,
        )

    def execute(self, steps: list[Step]) -> ExecutionResult:
        return ExecutionResult(success=True, checks={"success": True})

    def run_policy(self, path: str) -> ExecutionResult:
        return ExecutionResult(success=True, checks={"success": True})

    def close(self) -> None:
        pass
