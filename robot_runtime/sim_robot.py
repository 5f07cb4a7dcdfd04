"""A simulated stand-in for the arm: the ManiSkill backend behind the robot interface, so the
deployment path (observe -> model -> plan -> envelope -> execute) runs without hardware."""

from __future__ import annotations

from models.types import SceneState
from worker.plan_language import Step
from worker.sim.isolated import IsolatedSimulator


class SimRobot:
    def __init__(self, task: str = "PickCube-v1", seed: int = 0, robot: str = "panda") -> None:
        self.name = f"sim:{robot}"
        self.task, self.seed, self.robot = task, seed, robot
        self._sim: IsolatedSimulator | None = None
        self._scene: SceneState | None = None

    def connect(self) -> None:
        self._sim = IsolatedSimulator()
        self._scene = self._sim.reset(self.task, self.robot, self.seed)

    def observe(self) -> SceneState:
        assert self._scene is not None, "connect() first"
        return self._scene

    def execute(self, step: Step) -> tuple[bool, str]:
        # the simulator carries out a whole plan; one step at a time keeps the robot contract
        assert self._sim is not None
        result = self._sim.execute([step])
        outcome = result.steps[0] if result.steps else None
        self.last_checks = result.checks
        return (outcome.reached if outcome else False), (
            outcome.detail if outcome else result.detail
        )

    def task_success(self) -> bool:
        return bool(getattr(self, "last_checks", {}).get("success"))

    def disconnect(self) -> None:
        if self._sim is not None:
            self._sim.close()
            self._sim = None
