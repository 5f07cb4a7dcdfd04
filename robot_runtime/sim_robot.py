"""A simulated stand-in for the arm: the ManiSkill backend behind the robot interface, so the
deployment path (observe -> model -> plan -> envelope -> execute) runs without hardware.

It observes through three simulated RGB-D cameras (``manip.perception``) for every task
the cameras can see (blazer's own), so no true state reaches the model; ManiSkill's BLM1
tasks (invisible goal markers) are observed from the simulator's state."""

from __future__ import annotations

from manip.plan_language import Step
from manip.sim.isolated import IsolatedSimulator
from models.types import SceneState


class SimRobot:
    def __init__(
        self, task: str = "PickCube-v1", seed: int = 0, robot: str = "panda", scene: str = "auto"
    ) -> None:
        from manip.sim.tasks import ENV_TASKS

        self.name = f"sim:{robot}"
        self.task, self.seed, self.robot = task, seed, robot
        if scene == "auto":
            scene = "perceived:blocks" if task in ENV_TASKS else "true"
        self.scene_source = scene
        self.confidence: dict[str, float] = {}  # per perceived object, for the envelope
        self._sim: IsolatedSimulator | None = None
        self._scene: SceneState | None = None

    def connect(self) -> None:
        self._sim = IsolatedSimulator()
        self._scene = self._sim.reset(self.task, self.robot, self.seed)
        if self.scene_source != "true":
            segmenter = self.scene_source.partition(":")[2] or "blocks"
            self._scene, report = self._sim.perceive(segmenter)
            self.confidence = {n: o["confidence"] for n, o in report["objects"].items()}
            self.confidence |= {n: 0.0 for n in report["missing"]}

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
