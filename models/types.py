"""Domain types shared by scheduler, workers, training and the robot runtime.

They are plain dataclasses that travel as JSON (Celery messages, database JSON columns).
"""

from __future__ import annotations

import enum
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from operator import attrgetter
from typing import Any

from models.errors import ConfigError


class CampaignState(str, enum.Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"
    FAILED = "failed"  # every job failed: the campaign's error says why


class TrainingRunState(str, enum.Enum):
    PENDING = "pending"  # a retrain trigger, waiting for a train worker
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobState(str, enum.Enum):
    PENDING = "pending"  # written, not yet published
    QUEUED = "queued"  # published to the broker
    RUNNING = "running"  # claimed by a worker, lease held
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @classmethod
    def open_states(cls) -> tuple[JobState, ...]:
        return (cls.PENDING, cls.QUEUED, cls.RUNNING)


class FailureReason(str, enum.Enum):
    """The closed set of reasons an episode failed."""

    NO_CODE = "no_code"
    PARSE_ERROR = "parse_error"
    UNSAFE_PLAN = "unsafe_plan"
    PLAN_UNREACHABLE = "plan_unreachable"
    MOTION_FAILED = "motion_failed"
    TASK_FAILED = "task_failed"
    TIMEOUT = "timeout"
    SIM_ERROR = "sim_error"
    TEACHER_ERROR = "teacher_error"
    PERCEPTION_FAILED = "perception_failed"  # cameras could not give the scene the prompt needs


class SeedSplit(str, enum.Enum):
    """Disjoint seed spaces: a training scene is never an evaluation scene."""

    TRAIN = "train"
    VAL = "val"
    EVAL = "eval"

    @property
    def offset(self) -> int:
        return SEED_SPLIT_OFFSETS[self]

    @classmethod
    def of_seed(cls, seed: int) -> SeedSplit:
        for split in (cls.EVAL, cls.VAL, cls.TRAIN):
            if seed >= split.offset:
                return split
        raise ValueError(f"negative seed {seed}")


SEED_SPLIT_SIZE = 1_000_000_000
SEED_SPLIT_OFFSETS = {
    SeedSplit.TRAIN: 0,
    SeedSplit.VAL: SEED_SPLIT_SIZE,
    SeedSplit.EVAL: 2 * SEED_SPLIT_SIZE,
}


@dataclass(frozen=True)
class ObjectState:
    """One object of the scene (the paper's sigma): centre, yaw about z, box dimensions (m)."""

    name: str
    position: tuple[float, float, float]
    yaw_deg: float
    size: tuple[float, float, float]  # length (x), width (y), height (z)
    kind: str = "object"  # object | goal | container
    # part of the instruction (a goal point nobody can see), not measured by a camera; only a
    # perceived scene marks it (``given`` is left out of the JSON when false)
    given: bool = False


@dataclass(frozen=True)
class SceneState:
    task: str
    robot: str
    seed: int
    description: str
    objects: tuple[ObjectState, ...]
    ee_position: tuple[float, float, float]
    ee_yaw_deg: float
    gripper_open: bool
    workspace_min: tuple[float, float, float]
    workspace_max: tuple[float, float, float]
    table_height: float

    def object(self, name: str) -> ObjectState:
        for obj in self.objects:
            if obj.name == name:
                return obj
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for obj in data["objects"]:
            if not obj["given"]:
                del obj["given"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SceneState:
        objects = tuple(
            ObjectState(
                name=o["name"],
                position=tuple(o["position"]),
                yaw_deg=o["yaw_deg"],
                size=tuple(o["size"]),
                kind=o.get("kind", "object"),
                given=bool(o.get("given", False)),
            )
            for o in data["objects"]
        )
        fields = {k: v for k, v in data.items() if k != "objects"}
        for key in ("ee_position", "workspace_min", "workspace_max"):
            fields[key] = tuple(fields[key])
        return cls(objects=objects, **fields)


EPISODE_KEY = (
    "campaign_id",
    "task",
    "robot",
    "seed",
    "attempt",
)  # unique: a re-run writes nothing twice


_KEY_OF = attrgetter(*EPISODE_KEY)


@dataclass(frozen=True)
class EpisodeColumn:
    """How an episode field is stored: its SQL type's name (models.sqltypes.sql_type), and
    whether summary queries show it."""

    sql: str
    nullable: bool = True
    summary: bool = False  # in `blazer episodes query` without --full
    foreign_key: str | None = None
    sql_default: Any = None


def _col(
    sql: str,
    *,
    summary: bool = False,
    nullable: bool = True,
    foreign_key: str | None = None,
    default: Any = MISSING,
    default_factory: Any = MISSING,
    sql_default: Any = None,
) -> Any:
    spec = EpisodeColumn(sql, nullable, summary, foreign_key, sql_default)
    return field(default=default, default_factory=default_factory, metadata={"column": spec})


@dataclass
class EpisodeRecord:
    """One verified attempt, success or failure: the one declaration of the episode. The ORM
    table (models.orm.Episode), the row dict, the JSON form and the query column lists are
    all made from these fields."""

    campaign_id: int = _col("integer", summary=True, nullable=False, foreign_key="campaigns.id")
    task: str = _col("string:64", summary=True, nullable=False)
    robot: str = _col("string:64", summary=True, nullable=False)
    seed: int = _col("bigint", summary=True, nullable=False)
    attempt: int = _col("integer", summary=True, nullable=False, sql_default=0)
    teacher: str = _col("string:200", summary=True, nullable=False)
    success: bool = _col("boolean", summary=True, nullable=False)
    failure_reason: FailureReason | None = _col("string:32", summary=True, default=None)
    failure_detail: str | None = _col("text", summary=True, default=None)
    prompt_version: str | None = _col("string:32", summary=True, default=None)
    completion: str | None = _col("text", default=None)
    plan: list[dict[str, Any]] | None = _col("json", default=None)
    scene: dict[str, Any] | None = _col("json", default=None)
    prompt_tokens: int | None = _col("integer", summary=True, default=None)
    completion_tokens: int | None = _col("integer", summary=True, default=None)
    timings: dict[str, float] = _col("json", default_factory=dict)
    worker: str | None = _col("string:200", default=None)
    job_id: int | None = _col("bigint", default=None)
    checks: dict[str, bool] | None = _col("json", default=None)  # the task's named success parts
    # where each movable actor came to rest (m): what `blazer episodes rerun` compares
    final_positions: dict[str, list[float]] | None = _col("json", default=None)
    # The recorded trajectory (campaigns with ``record:``): the shard that holds it (an
    # fsspec URL under the artifact root), its group there, its size, control steps and
    # checksum (models.artifacts); or why it could not be stored.
    traj_uri: str | None = _col("string:1000", summary=True, default=None)
    traj_key: str | None = _col("string:200", default=None)
    traj_bytes: int | None = _col("bigint", summary=True, default=None)
    traj_steps: int | None = _col("integer", summary=True, default=None)
    traj_sha256: str | None = _col("string:64", default=None)
    traj_error: str | None = _col("text", summary=True, default=None)

    def key(self) -> tuple[int, str, str, int, int]:
        return _KEY_OF(self)

    def outcome(self) -> str:
        return (
            "success" if self.success else (self.failure_reason or FailureReason.TASK_FAILED).value
        )

    def storable(self) -> EpisodeRecord:
        """This record as both databases store it: no NUL character in any text or JSON
        string (PostgreSQL's COPY and jsonb refuse it; it becomes U+FFFD), text no longer than
        its column, and a count that is not an integer in its column's range left out (a
        server's ``"prompt_tokens": "12"``). A value that cannot be stored never fails the
        block it came in."""
        changes: dict[str, Any] = {}
        for f in fields(self):
            value, col = getattr(self, f.name), f.metadata["column"]
            kind, _, size = col.sql.partition(":")
            if value is None or kind == "boolean" or isinstance(value, enum.Enum):
                continue
            if kind in ("string", "text") and isinstance(value, str):
                fixed: Any = value.replace("\x00", "\ufffd")
                if size and len(fixed) > int(size):
                    fixed = fixed[: int(size)]
            elif kind in ("integer", "bigint") and f.name not in EPISODE_KEY:
                bound = 2**31 if kind == "integer" else 2**63
                ok = isinstance(value, int) and not isinstance(value, bool)
                fixed = value if ok and -bound <= value < bound else None
            elif kind == "json":
                fixed = _without_nul(value)
            else:
                continue
            if fixed is not value:
                changes[f.name] = fixed
        return replace(self, **changes) if changes else self

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["failure_reason"] = self.failure_reason.value if self.failure_reason else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EpisodeRecord:
        data = dict(data)
        if data.get("failure_reason"):
            data["failure_reason"] = FailureReason(data["failure_reason"])
        return cls(**data)


def episode_columns(*, full: bool) -> tuple[str, ...]:
    """Column names an episode query returns: id, the summary fields, created_at, and with
    ``full`` every other field."""
    summary = [f.name for f in fields(EpisodeRecord) if f.metadata["column"].summary]
    rest = [f.name for f in fields(EpisodeRecord) if not f.metadata["column"].summary]
    return ("id", *summary, "created_at", *(rest if full else ()))


CAMERAS = ("base", "wrist")  # third-person and wrist views (BLM1's two cameras)


@dataclass(frozen=True)
class RecordSpec:
    """What a recording campaign keeps per control step (the spec's ``record:`` key).

    The trajectory (joint positions and velocities, end-effector pose, gripper, the action
    sent, the simulator state) is kept at every control step; camera frames every
    ``control_freq / fps`` steps.
    """

    trajectory: bool = True
    cameras: tuple[str, ...] = CAMERAS
    image_size: int = 128
    fps: int = 20
    depth: bool = False

    @classmethod
    def from_spec(cls, data: Any) -> RecordSpec | None:
        """``None`` (no recording) for a missing key; ConfigError names the bad field."""
        if data is None or data is False:
            return None
        if data is True:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"spec: 'record' must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"spec: unknown record field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        cameras = data.get("cameras", list(CAMERAS))
        if isinstance(cameras, str):
            cameras = [cameras]
        if not isinstance(cameras, list | tuple) or any(c not in CAMERAS for c in cameras):
            raise ConfigError(f"spec: record.cameras must be a list of {', '.join(CAMERAS)}")
        for key, lo, hi in (("image_size", 16, 1024), ("fps", 1, 1000)):
            value = data.get(key, getattr(cls, key))
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise ConfigError(f"spec: record.{key} must be an integer {lo}-{hi}, got {value!r}")
        for key in ("trajectory", "depth"):
            if not isinstance(data.get(key, True), bool):
                raise ConfigError(f"spec: record.{key} must be true or false")
        if not data.get("trajectory", True) and not cameras:
            raise ConfigError("spec: record: with trajectory false and no cameras records nothing")
        return cls(
            trajectory=data.get("trajectory", True),
            cameras=tuple(dict.fromkeys(cameras)),
            image_size=data.get("image_size", cls.image_size),
            fps=data.get("fps", cls.fps),
            depth=data.get("depth", False),
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["cameras"] = list(self.cameras)
        return data


def _without_nul(value: Any) -> Any:
    """A JSON value with every NUL in its strings (keys included) made U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value
