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
from models.names import check_name
from models.types import SEED_SPLIT_SIZE, RecordSpec, SeedSplit

SIMULATORS = ("maniskill", "noop")
# Upper bounds: sane sizes, and what both databases store (INTEGER columns: < 2**31).
LIMITS = {"successes": 100_000_000, "block_size": 1_000, "samples_per_seed": 64}
MAX_ATTEMPT_CAP = 2**31 - 1
DEFAULT_ATTEMPTS_PER_SUCCESS = 20
# what a task's line may set apart from the campaign's (the bootstrap's sampling rule uses them)
TASK_OVERRIDES = ("samples_per_seed", "temperature", "attempt_cap", "successes")


@dataclass
class BootstrapPolicy:
    """The ``bootstrap:`` block: this campaign is round 0 of a self-improving lineage.

    Each round's verified plans (all rounds so far, no expert text) train a new version from
    the base model; it is compared with the incumbent on validation seeds and promoted only
    when a one-sided exact sign test on the seeds where the two disagree gives p <= ``alpha``;
    the promoted version is the teacher of the next round. It stops after ``rounds`` rounds
    or at the first round that does not promote.
    """

    lineage: str
    round: int = 0  # which round this campaign is (the rounds after 0 are made by training)
    rounds: int = 4
    base: str = "smollm2-135m"
    scenes: int = 40  # training scenes per task and round (fresh seeds every round)
    samples: int = 2  # teacher samples per scene (the sampling rule raises it where it fails)
    temperature: float = 0.5
    # sampling goes where the model fails: the next round's samples (``samples`` per scene
    # and task on average: the same budget) are shared out by weight 1 + 3 (1 - p), p the
    # incumbent's validation rate on the task (at most max_samples), and its temperature is
    # temperature + 0.3 (1 - p) (at most 1.0)
    focus: bool = True
    max_samples: int = 8
    minutes: float = 12.0  # SFT training-time budget per round
    # > 0: SFT+DPO, the candidate is the SFT model trained on, for dpo_minutes, every failure
    # of a round's scene against a success of the same scene (the ablation of the loop)
    dpo_minutes: float = 0.0
    val_seeds: int = 10  # validation seeds per task (promotion only)
    heldout_seeds: int = 25  # evaluation seeds per task (the curve; never used to promote)
    heldout_base: bool = True  # round 0 also evaluates the few-shot base on the held-out seeds
    alpha: float = 0.1  # the promotion test's level
    max_new_tokens: int = 320
    recipe: str = "auto"
    train: dict[str, Any] | None = None  # recipe overrides, e.g. {"max_steps": 4} in tests

    @classmethod
    def from_spec(cls, data: Any) -> BootstrapPolicy:
        if not isinstance(data, dict):
            raise ConfigError("spec: 'bootstrap' must be a mapping with at least a lineage")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"spec: unknown bootstrap field(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        try:
            policy = cls(**data)
        except TypeError as exc:
            raise ConfigError(f"spec: bootstrap: {exc}") from None
        if not isinstance(policy.lineage, str) or not policy.lineage.strip():
            raise ConfigError("spec: bootstrap.lineage must be a non-empty name")
        check_name("bootstrap lineage", policy.lineage)
        for key in ("rounds", "scenes", "samples", "max_samples", "val_seeds", "heldout_seeds"):
            if not _positive_int(getattr(policy, key)):
                raise ConfigError(f"spec: bootstrap.{key} must be a positive integer")
        if not 0 < policy.alpha < 1:
            raise ConfigError("spec: bootstrap.alpha must be between 0 and 1")
        return policy


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
    # per task: {samples_per_seed, temperature, attempt_cap, successes} apart from the above
    task_overrides: dict[str, dict[str, Any]] | None = None
    bootstrap: dict[str, Any] | None = None  # BootstrapPolicy: round 0 of a lineage

    def validate(self) -> Self:
        """Raise ConfigError naming the bad field; fill defaults. (The registry checks are
        ``scheduler.spec``'s.)"""
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError("spec: 'name' must be a non-empty string")
        check_name("campaign", self.name)
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
        self._check_overrides()
        if self.bootstrap is not None:
            policy = BootstrapPolicy.from_spec(self.bootstrap)
            if self.retrain is not None:
                raise ConfigError("spec: a campaign has either a retrain or a bootstrap block")
            # a round samples every scene k times and keeps every verified plan
            if policy.round == 0:
                self.samples_per_seed = policy.samples
                self.successes = self.attempt_cap = policy.scenes * policy.samples
        return self

    def _check_overrides(self) -> None:
        for task, over in (self.task_overrides or {}).items():
            if task not in self.tasks or not isinstance(over, dict):
                raise ConfigError(f"spec: task_overrides: {task!r} is not one of the tasks")
            unknown = sorted(set(over) - set(TASK_OVERRIDES))
            if unknown:
                raise ConfigError(
                    f"spec: task_overrides.{task}: unknown {', '.join(unknown)}; "
                    f"known: {', '.join(TASK_OVERRIDES)}"
                )
            samples = over.get("samples_per_seed", 1)
            if not _positive_int(samples) or samples > LIMITS["samples_per_seed"]:
                raise ConfigError(f"spec: task_overrides.{task}.samples_per_seed: {samples!r}")
            temperature = over.get("temperature", 0.0)
            if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
                raise ConfigError(f"spec: task_overrides.{task}.temperature must be 0-2")
            successes = over.get("successes", self.successes)
            cap = over.get("attempt_cap", self.attempt_cap)
            if not _positive_int(successes) or not _positive_int(cap) or successes > cap:
                raise ConfigError(
                    f"spec: task_overrides.{task}: successes and attempt_cap must be positive, "
                    "successes <= attempt_cap"
                )

    # per task -------------------------------------------------------------------------------
    def for_task(self, task: str, key: str) -> Any:
        """A task's value of ``key``: its override, else the campaign's."""
        return (self.task_overrides or {}).get(task, {}).get(key, getattr(self, key))

    def teacher_config_for(self, task: str) -> dict[str, Any]:
        """The teacher config a task's jobs use (its temperature override applied)."""
        config = self.teacher_config
        temperature = (self.task_overrides or {}).get(task, {}).get("temperature")
        return config if temperature is None else {**config, "temperature": temperature}

    @property
    def bootstrap_policy(self) -> BootstrapPolicy | None:
        return None if self.bootstrap is None else BootstrapPolicy.from_spec(self.bootstrap)

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
