"""The episode database: SQLAlchemy 2.0 typed ORM, the same schema on PostgreSQL and SQLite."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from models.campaign_spec import CampaignSpec
from models.sqltypes import BigId, JSONType, sql_type
from models.types import EPISODE_KEY, EpisodeColumn, EpisodeRecord

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(t: datetime | None) -> datetime | None:
    """A stored time, aware: SQLite hands back naive datetimes (written in UTC), PostgreSQL
    aware ones."""
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="active", index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    teacher_kind: Mapped[str] = mapped_column(String(32))
    teacher: Mapped[str] = mapped_column(
        String(200)
    )  # display name, e.g. "expert", "hf:smollm2-135m"
    teacher_config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    block_size: Mapped[int] = mapped_column(Integer, default=8)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)  # why it failed, one line

    @property
    def typed_spec(self) -> CampaignSpec:
        """The stored spec as its one data type, defaults included."""
        return CampaignSpec.from_stored(self.spec)


class CampaignTask(Base):
    """One (task, robot) line of a campaign, with its success target and seed cursor."""

    __tablename__ = "campaign_tasks"
    __table_args__ = (UniqueConstraint("campaign_id", "task", "robot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(64))
    robot: Mapped[str] = mapped_column(String(64))
    target_successes: Mapped[int] = mapped_column(Integer)
    attempt_cap: Mapped[int] = mapped_column(Integer)
    seed_split: Mapped[str] = mapped_column(String(8), default="train")
    next_seed: Mapped[int] = mapped_column(BigInteger)
    successes: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    surplus_discarded: Mapped[int] = mapped_column(Integer, default=0)


class Job(Base):
    """A block of consecutive seeds of one campaign task: the unit a worker runs."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_campaign", "state", "campaign_id"),
        UniqueConstraint("campaign_task_id", "seed_start"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    campaign_task_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_tasks.id", ondelete="CASCADE")
    )
    seed_start: Mapped[int] = mapped_column(BigInteger)
    seed_count: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    publishes: Mapped[int] = mapped_column(Integer, default=0)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def _episode_namespace() -> dict[str, Any]:
    """The episodes table, its columns made from the one declaration (EpisodeRecord's fields):
    adding an episode field touches that declaration, a migration and the code that fills it."""
    columns: dict[str, Any] = {}
    for f in fields(EpisodeRecord):
        spec: EpisodeColumn = f.metadata["column"]
        args = [ForeignKey(spec.foreign_key, ondelete="CASCADE")] if spec.foreign_key else []
        columns[f.name] = mapped_column(
            sql_type(spec.sql), *args, nullable=spec.nullable, default=spec.sql_default
        )
    return {
        "__tablename__": "episodes",
        "__doc__": "One verified attempt, success or failure (see models.types.EpisodeRecord).",
        "__table_args__": (
            UniqueConstraint(*EPISODE_KEY, name="uq_episodes_key"),
            Index("ix_episodes_task_robot_success", "task", "robot", "success"),
            Index("ix_episodes_created_at", "created_at"),
            Index("ix_episodes_job_id", "job_id"),
            # newest-first pages by filter (migration 0007)
            Index("ix_episodes_campaign_id_id", "campaign_id", "id"),
            Index("ix_episodes_teacher_id", "teacher", "id"),
            Index("ix_episodes_robot_id", "robot", "id"),
            Index("ix_episodes_seed", "seed"),
            Index(
                "ix_episodes_failure_reason_id",
                "failure_reason",
                "id",
                postgresql_where=text("failure_reason IS NOT NULL"),
                sqlite_where=text("failure_reason IS NOT NULL"),
            ),
        ),
        "id": mapped_column(BigId, primary_key=True),
        **columns,
        "created_at": mapped_column(DateTime(timezone=True), nullable=False, default=utcnow),
    }


# typed as Any to the checker: its columns come from the one episode declaration at run time
Episode: type[Any] = type("Episode", (Base,), _episode_namespace())


class EpisodeStat(Base):
    """Counts per (campaign, task, robot, teacher, outcome), kept in step by the recorder.

    ``blazer stats`` reads this table, so it answers in milliseconds at millions of episodes.
    """

    __tablename__ = "episode_stats"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    task: Mapped[str] = mapped_column(String(64), primary_key=True)
    robot: Mapped[str] = mapped_column(String(64), primary_key=True)
    teacher: Mapped[str] = mapped_column(String(200), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class SchedulerLease(Base):
    """At most one active scheduler: whoever holds the unexpired lease plans and publishes."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    broker_run_id: Mapped[str | None] = mapped_column(String(64))


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    filter_spec: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer, default=0)
    # the prompt its examples are rendered with (manip.prompt); a student is trained on it
    prompt_version: Mapped[str] = mapped_column(String(16), default="v1", server_default="v1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DatasetMember(Base):
    __tablename__ = "dataset_members"
    __table_args__ = (Index("ix_dataset_members_episode_id", "episode_id"),)

    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    episode_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("episodes.id", ondelete="CASCADE"), primary_key=True
    )
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    split: Mapped[str] = mapped_column(String(8), default="train")


class TrainingRun(Base):
    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # sft | dpo
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id"))
    # retraining: the lineage this run continues, and the campaign successes it was started at
    lineage: Mapped[str | None] = mapped_column(String(200), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    source_successes: Mapped[int | None] = mapped_column(Integer)
    base_model: Mapped[str] = mapped_column(String(400))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    output_dir: Mapped[str | None] = mapped_column(String(1000))
    error: Mapped[str | None] = mapped_column(Text)
    # a retrain trigger's lease: the train worker running it and its last sign of progress
    worker: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ModelVersion(Base):
    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    base_model: Mapped[str] = mapped_column(String(400))
    adapter_path: Mapped[str | None] = mapped_column(String(1000))
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id"))
    training_run_id: Mapped[int | None] = mapped_column(ForeignKey("training_runs.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    promoted: Mapped[bool] = mapped_column(Boolean, default=False)
    lineage: Mapped[str | None] = mapped_column(String(200), index=True)  # retraining family
    # the prompt version it was trained on: evaluation and deployment prompt it the same way
    prompt_version: Mapped[str] = mapped_column(String(16), default="v1", server_default="v1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
