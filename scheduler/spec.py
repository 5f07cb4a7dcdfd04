"""Campaign specs: a YAML file or CLI flags, validated before anything is written or queued."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from models.errors import ConfigError
from models.types import SEED_SPLIT_SIZE, RecordSpec, SeedSplit
from scheduler.retrain_policy import RetrainPolicy
from worker.prompt import check_version
from worker.sim.tasks import check_task_robot
from worker.teachers import TEACHERS

SIMULATORS = ("maniskill", "noop")
# Upper bounds: sane sizes, and what both databases store (INTEGER columns: < 2**31).
LIMITS = {"successes": 100_000_000, "block_size": 1_000, "samples_per_seed": 64}
MAX_ATTEMPT_CAP = 2**31 - 1


@dataclass
class CampaignSpec:
    name: str
    tasks: list[str]
    robots: list[str] = field(default_factory=lambda: ["panda"])
    teacher: dict[str, Any] = field(default_factory=lambda: {"kind": "expert"})
    successes: int = 10  # N successes wanted per task x robot (the paper's N)
    attempt_cap: int | None = None  # attempts per task x robot; default 20 x N
    seed_split: str = "train"
    seed_start: int | None = None  # first seed (inside the split); default the split's first
    block_size: int = 8  # seeds per job
    samples_per_seed: int = 1  # teacher samples per scene (attempts 0..k-1; for a sampling teacher)
    priority: int = 0
    simulator: str = "maniskill"
    retrain: dict[str, Any] | None = None  # see scheduler.retrain_policy.RetrainPolicy
    # per-step trajectories and cameras: {trajectory, cameras, image_size, fps} (RecordSpec)
    record: dict[str, Any] | None = None
    # the prompt's scene: "true" (the simulator's state) or "perceived[:segmenter]" (three
    # simulated RGB-D cameras through worker.perception; the simulator still judges success)
    scene: str = "true"

    def validate(self) -> CampaignSpec:
        """Raise ConfigError naming the bad field; fill defaults."""
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError("spec: 'name' must be a non-empty string")
        if not self.tasks:
            raise ConfigError("spec: 'tasks' must list at least one task")
        if not self.robots:
            raise ConfigError("spec: 'robots' must list at least one robot")
        for task in self.tasks:
            for robot in self.robots:
                check_task_robot(task, robot)
        kind = self.teacher.get("kind") if isinstance(self.teacher, dict) else None
        if kind not in TEACHERS:
            raise ConfigError(f"spec: teacher.kind {kind!r} is not one of {', '.join(TEACHERS)}")
        for key, most in LIMITS.items():
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= most:
                raise ConfigError(
                    f"spec: '{key}' must be a positive integer <= {most:,}, got {value!r}"
                )
        if self.attempt_cap is None:
            self.attempt_cap = min(20 * self.successes, MAX_ATTEMPT_CAP)
        if (
            not isinstance(self.attempt_cap, int)
            or isinstance(self.attempt_cap, bool)
            or not self.successes <= self.attempt_cap <= MAX_ATTEMPT_CAP
        ):
            raise ConfigError(
                f"spec: 'attempt_cap' must be an integer from successes ({self.successes}) "
                f"to {MAX_ATTEMPT_CAP:,}, got {self.attempt_cap!r}"
            )
        if self.seed_split not in {s.value for s in SeedSplit}:
            raise ConfigError(
                f"spec: 'seed_split' must be train, val or eval, got {self.seed_split!r}"
            )
        if self.seed_start is not None:
            lo = SeedSplit(self.seed_split).offset
            hi = lo + SEED_SPLIT_SIZE - 1
            if not isinstance(self.seed_start, int) or not lo <= self.seed_start <= hi:
                raise ConfigError(
                    f"spec: 'seed_start' {self.seed_start!r} is outside the {self.seed_split} "
                    f"seeds {lo}-{hi}"
                )
        prompt = self.teacher.get("prompt")
        if prompt is not None:
            try:
                check_version(prompt)
            except ConfigError as exc:
                raise ConfigError(f"spec: teacher.prompt: {exc}") from None
        if self.simulator not in SIMULATORS:
            raise ConfigError(f"spec: 'simulator' must be one of {', '.join(SIMULATORS)}")
        if self.retrain is not None:
            RetrainPolicy.from_spec(self.retrain)
        record = RecordSpec.from_spec(self.record)
        if record is not None:
            if self.simulator != "maniskill":
                raise ConfigError("spec: 'record' needs the maniskill simulator")
            self.record = record.to_json()
        self._check_scene()
        return self

    def _check_scene(self) -> None:
        from worker.perception.segmenters import SEGMENTERS
        from worker.sim.envs import ENV_TASKS

        mode, _, segmenter = str(self.scene).partition(":")
        if self.scene == "true":
            return
        if mode != "perceived" or (segmenter and segmenter not in SEGMENTERS):
            raise ConfigError(
                f"spec: 'scene' must be true or perceived[:{'|'.join(SEGMENTERS)}], got {self.scene!r}"
            )
        blind = [t for t in self.tasks if t not in ENV_TASKS]
        if blind:
            raise ConfigError(
                f"spec: scene {self.scene} needs tasks the cameras can see (blazer's own); "
                f"{', '.join(blind)} cannot be perceived"
            )
        if self.simulator != "maniskill":
            raise ConfigError("spec: a perceived scene needs the maniskill simulator")

    @property
    def teacher_kind(self) -> str:
        return self.teacher["kind"]

    @property
    def teacher_config(self) -> dict[str, Any]:
        return {k: v for k, v in self.teacher.items() if k != "kind"}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str = "spec") -> CampaignSpec:
        if not isinstance(data, dict):
            raise ConfigError(
                f"{source}: expected a mapping of campaign fields, got {type(data).__name__}"
            )
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"{source}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        if "name" not in data or "tasks" not in data:
            raise ConfigError(f"{source}: 'name' and 'tasks' are required")
        if isinstance(data.get("tasks"), str):
            data = {**data, "tasks": [data["tasks"]]}
        if isinstance(data.get("robots"), str):
            data = {**data, "robots": [data["robots"]]}
        if isinstance(data.get("teacher"), str):
            data = {**data, "teacher": {"kind": data["teacher"]}}
        return cls(**data).validate()

    @classmethod
    def load(cls, path: Path) -> CampaignSpec:
        try:
            data = yaml.safe_load(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read campaign spec {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"campaign spec {path} is not valid YAML{where}") from None
        return cls.from_dict(data, source=str(path))
