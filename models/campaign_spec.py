"""The campaign spec's data type: its fields and their defaults, declared once.

Every layer reads a campaign's spec through this type (``Campaign.typed_spec``), never as raw
JSON with defaults of its own. The checks here are the ones that need no registry (sizes,
seeds, the simulator, the record block); ``scheduler.spec`` adds the checks against the
task, robot, teacher and prompt registries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Self

from models.errors import ConfigError
from models.types import SEED_SPLIT_SIZE, RecordSpec, SeedSplit

SIMULATORS = ("maniskill", "noop")
# Upper bounds: sane sizes, and what both databases store (INTEGER columns: < 2**31).
LIMITS = {"successes": 100_000_000, "block_size": 1_000, "samples_per_seed": 64}
MAX_ATTEMPT_CAP = 2**31 - 1
DEFAULT_ATTEMPTS_PER_SUCCESS = 20


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
    # simulated RGB-D cameras through manip.perception; the simulator still judges success)
    scene: str = "true"

    def validate(self) -> Self:
        """Raise ConfigError naming the bad field; fill defaults. (The registry checks are
        ``scheduler.spec``'s.)"""
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError("spec: 'name' must be a non-empty string")
        if not self.tasks:
            raise ConfigError("spec: 'tasks' must list at least one task")
        if not self.robots:
            raise ConfigError("spec: 'robots' must list at least one robot")
        if not isinstance(self.teacher, dict):
            raise ConfigError("spec: 'teacher' must be a mapping with a 'kind'")
        for key, most in LIMITS.items():
            value = getattr(self, key)
            if not _positive_int(value) or value > most:
                raise ConfigError(
                    f"spec: '{key}' must be a positive integer <= {most:,}, got {value!r}"
                )
        if self.attempt_cap is None:
            self.attempt_cap = min(DEFAULT_ATTEMPTS_PER_SUCCESS * self.successes, MAX_ATTEMPT_CAP)
        if not _positive_int(self.attempt_cap) or not (
            self.successes <= self.attempt_cap <= MAX_ATTEMPT_CAP
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
        if self.simulator not in SIMULATORS:
            raise ConfigError(f"spec: 'simulator' must be one of {', '.join(SIMULATORS)}")
        record = RecordSpec.from_spec(self.record)
        if record is not None:
            if self.simulator != "maniskill":
                raise ConfigError("spec: 'record' needs the maniskill simulator")
            self.record = record.to_json()
        return self

    # typed reads ---------------------------------------------------------------------------
    @property
    def teacher_kind(self) -> str:
        return self.teacher["kind"]

    @property
    def teacher_config(self) -> dict[str, Any]:
        return {k: v for k, v in self.teacher.items() if k != "kind"}

    @property
    def record_spec(self) -> RecordSpec | None:
        return RecordSpec.from_spec(self.record)

    # to and from JSON ----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_stored(cls, data: dict[str, Any] | None) -> Self:
        """A spec as the database stores it (checked when it was written; older rows may lack
        fields added since, which take their defaults here)."""
        data = data or {}
        known = {f.name for f in fields(cls)}
        return cls(**{"name": "", "tasks": [], **{k: v for k, v in data.items() if k in known}})

    @classmethod
    def from_dict(cls, data: Any, source: str = "spec") -> Self:
        if not isinstance(data, dict):
            raise ConfigError(
                f"{source}: expected a mapping of campaign fields, got {type(data).__name__}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"{source}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        if "name" not in data or "tasks" not in data:
            raise ConfigError(f"{source}: 'name' and 'tasks' are required")
        data = dict(data)
        for key in ("tasks", "robots"):
            if isinstance(data.get(key), str):
                data[key] = [data[key]]
        if isinstance(data.get("teacher"), str):
            data["teacher"] = {"kind": data["teacher"]}
        return cls(**data).validate()

    @classmethod
    def load(cls, path: Path) -> Self:
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read campaign spec {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"campaign spec {path} is not valid YAML{where}") from None
        return cls.from_dict(data, source=str(path))


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
