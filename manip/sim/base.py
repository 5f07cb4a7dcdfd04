"""The simulator interface every backend implements, and the result of carrying out a plan."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from manip.plan_language import Step
from models.types import FailureReason, RecordSpec, SceneState


@dataclass(frozen=True)
class SimConfig:
    """The settings the simulator process reads, resolved by its worker (``models.settings``)
    and handed over at start: the child then never loads the settings stack (~9 MB)."""

    asset_cache: str  # a writable copy of the robot assets ManiSkill cannot download
    maniskill_assets: str | None = None
    perception_image_size: int = 256
    faults: str = ""  # test-only fault injection (manip.sim.server)
    fresh_physics: bool = True  # a new PhysX system before every episode (models.settings)
    third_party_logs: bool = False  # ManiSkill's own warnings (BLAZER_LOG_LEVEL=DEBUG, --debug)

    @classmethod
    def from_settings(cls) -> SimConfig:
        from models.settings import get_settings

        s = get_settings()
        return cls(
            str(s.model_cache.parent / "maniskill-assets"),
            str(s.maniskill_assets) if s.maniskill_assets else None,
            s.perception_image_size,
            s.sim_faults,
            s.sim_fresh_physics,
            s.log_level.upper() == "DEBUG",
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimConfig:
        return cls(**data)


@dataclass
class StepOutcome:
    op: str
    line: int
    reached: bool
    detail: str = ""
    sim_steps: int = 0


@dataclass
class ExecutionResult:
    success: bool
    failure_reason: FailureReason | None = None
    detail: str = ""
    steps: list[StepOutcome] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)  # the task's evaluate() parts
    sim_steps: int = 0
    # A recording run: the episode file the simulator wrote ({"path", "steps"}), or why not.
    trajectory: dict[str, Any] | None = None
    record_error: str | None = None
    # where each movable actor came to rest (metres): what a re-run is compared on
    final_positions: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["failure_reason"] = self.failure_reason.value if self.failure_reason else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExecutionResult:
        data = dict(data)
        data["failure_reason"] = (
            FailureReason(data["failure_reason"]) if data.get("failure_reason") else None
        )
        data["steps"] = [StepOutcome(**s) for s in data.get("steps", [])]
        return cls(**data)


class SimulatorError(Exception):
    """The simulator crashed or hung; ``reason`` is sim_error or timeout."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self):  # crosses process pools: rebuilt from both arguments, not args
        return type(self), (self.reason, str(self))


class SimulatorStartError(SimulatorError):
    """The simulator could not start at all: no episode can run, so the job fails (not the
    episode), and after a few deliveries the job is marked failed with this reason."""


class Simulator(Protocol):
    """Reset a task on a robot with a seed, carry out a plan, ask the task's own check.

    With ``record``, the next ``execute`` records the episode (``ExecutionResult.trajectory``).
    """

    def reset(
        self, task: str, robot: str, seed: int, record: RecordSpec | None = None
    ) -> SceneState: ...

    def execute(self, steps: list[Step]) -> ExecutionResult: ...

    def run_policy(self, path: str) -> ExecutionResult:
        """Run the learned policy saved at ``path`` closed loop from the reset scene."""
        ...

    def perceive(
        self, segmenter: str = "blocks", size: int | None = None, drop: tuple[str, ...] = ()
    ) -> tuple[SceneState, dict]: ...

    def close(self) -> None: ...
