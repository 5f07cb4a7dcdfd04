"""What the console's pages show, read from the episode database: one function per page.

Every read is bounded: a few rows per campaign, task line or worker, one page of episodes by
keyset (id below a cursor, never OFFSET), and the failure counts from the ``episode_stats``
summary, so a page answers in milliseconds whatever the number of episodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.errors import BlazerError
from models.orm import (
    Campaign,
    Dataset,
    DatasetMember,
    Episode,
    Job,
    ModelVersion,
    SchedulerLease,
    TrainingRun,
    utcnow,
)
from models.queries import EPISODE_COLUMNS, EpisodeFilter
from models.stats import StatRow, episode_stats
from models.types import CampaignState, JobState
from scheduler import campaigns as campaign_records

PAGE_SIZE = 50
RATE_WINDOW = timedelta(minutes=10)  # the successes per minute an ETA is read from
STALL_AFTER = timedelta(minutes=5)  # an active campaign with open work and no episode this long


def aware(t: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes (stored as UTC), PostgreSQL aware ones."""
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


# campaigns ------------------------------------------------------------------------------------
@dataclass
class TaskLine:
    task: str
    robot: str
    successes: int
    target: int
    attempts: int
    rate: float
    ci: tuple[float, float]
    open_jobs: int
    per_minute: float  # successes in the last RATE_WINDOW, per minute
    eta_s: float | None  # None: done, or nothing recent to extrapolate from


@dataclass
class CampaignView:
    name: str
    state: str
    teacher: str
    created_at: datetime
    error: str | None
    lines: list[TaskLine]
    jobs: dict[str, int]
    failed_jobs: list[dict[str, Any]]
    last_episode_at: datetime | None
    stalled: str | None  # why it looks stalled, or None

    @property
    def successes(self) -> int:
        return sum(t.successes for t in self.lines)

    @property
    def target(self) -> int:
        return sum(t.target for t in self.lines)

    @property
    def eta_s(self) -> float | None:
        etas = [t.eta_s for t in self.lines if t.successes < t.target]
        return None if not etas or None in etas else max(e for e in etas if e is not None)


def campaign_names(session: Session) -> list[str]:
    return list(session.scalars(select(Campaign.name).order_by(Campaign.id.desc())))


def campaign_view(session: Session, name: str) -> CampaignView:
    """One campaign's live progress; NotFound (a 404 page) for an unknown name."""
    status = campaign_records.status(session, name)
    campaign = campaign_records.get_campaign(session, name)
    recent = _recent_successes(session, campaign.id)
    minutes = RATE_WINDOW.total_seconds() / 60
    lines = []
    for t in status["tasks"]:
        per_minute = recent.get((t["task"], t["robot"]), 0) / minutes
        left = t["target"] - t["successes"]
        eta = 0.0 if left <= 0 else (60 * left / per_minute if per_minute else None)
        lines.append(
            TaskLine(
                t["task"],
                t["robot"],
                t["successes"],
                t["target"],
                t["attempts"],
                t["success_rate"],
                tuple(t["ci95"]),
                t["open_jobs"],
                per_minute,
                eta,
            )
        )
    last = aware(
        session.scalar(
            select(Episode.created_at)
            .where(Episode.campaign_id == campaign.id)
            .order_by(Episode.id.desc())
            .limit(1)
        )
    )
    open_jobs = sum(status["jobs"][s.value] for s in JobState.open_states())
    stalled = None
    if campaign.state == CampaignState.ACTIVE.value and open_jobs:
        since = last or aware(campaign.created_at)
        idle = utcnow() - since
        if idle > STALL_AFTER:
            stalled = (
                f"no episode for {idle.total_seconds() / 60:.0f} min with {open_jobs} open job(s)"
            )
    return CampaignView(
        campaign.name,
        campaign.state,
        campaign.teacher,
        aware(campaign.created_at),
        campaign.error,
        lines,
        status["jobs"],
        status["failed_jobs"],
        last,
        stalled,
    )


def _recent_successes(session: Session, campaign_id: int) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(Episode.task, Episode.robot, func.count())
        .where(
            Episode.campaign_id == campaign_id,
            Episode.success.is_(True),
            Episode.created_at >= utcnow() - RATE_WINDOW,
        )
        .group_by(Episode.task, Episode.robot)
    )
    return {(task, robot): int(n) for task, robot, n in rows}


# workers and queue ----------------------------------------------------------------------------
@dataclass
class WorkerView:
    name: str
    running_jobs: int
    since: datetime | None
    lease_until: datetime | None
    kind: str = "rollout"

    @property
    def alive(self) -> bool:
        return self.lease_until is not None and self.lease_until > utcnow()


@dataclass
class QueueView:
    workers: list[WorkerView]
    jobs: dict[str, dict[str, int]]  # campaign -> state -> count
    scheduler_holder: str | None
    scheduler_tick_at: datetime | None
    scheduler_alive: bool
    stalled: dict[str, str] = field(default_factory=dict)  # campaign -> why


def queue_view(session: Session) -> QueueView:
    """Live workers from the leases of the jobs and training runs they hold, jobs by state
    per campaign, and the scheduler's lease (renewed at every tick)."""
    workers = [
        WorkerView(w, int(n), aware(since), aware(until))
        for w, n, since, until in session.execute(
            select(
                Job.worker, func.count(), func.min(Job.started_at), func.max(Job.lease_expires_at)
            )
            .where(Job.state == JobState.RUNNING.value)
            .group_by(Job.worker)
            .order_by(Job.worker)
        )
    ]
    for w, since, beat in session.execute(
        select(TrainingRun.worker, TrainingRun.created_at, TrainingRun.heartbeat_at).where(
            TrainingRun.state == "running", TrainingRun.worker.is_not(None)
        )
    ):
        workers.append(WorkerView(w, 1, aware(since), aware(beat), kind="train"))
    names = dict(session.execute(select(Campaign.id, Campaign.name)).all())
    jobs: dict[str, dict[str, int]] = {}
    for cid, state, n in session.execute(
        select(Job.campaign_id, Job.state, func.count()).group_by(Job.campaign_id, Job.state)
    ):
        jobs.setdefault(names.get(cid, str(cid)), {})[state] = int(n)
    lease = session.get(SchedulerLease, "scheduler")
    holder, tick_at, alive = None, None, False
    if lease is not None and lease.expires_at is not None:
        from scheduler.loop import LEASE_S

        expires = aware(lease.expires_at)
        holder, tick_at, alive = (
            lease.holder,
            expires - timedelta(seconds=LEASE_S),
            expires > utcnow(),
        )
    stalled = {}
    for (name,) in session.execute(
        select(Campaign.name).where(Campaign.state == CampaignState.ACTIVE.value)
    ):
        why = campaign_view(session, name).stalled
        if why:
            stalled[name] = why
    return QueueView(workers, jobs, holder, tick_at, alive, stalled)


# failures -------------------------------------------------------------------------------------
def failure_counts(session: Session, campaign: str | None = None) -> list[StatRow]:
    """Outcomes per campaign x task x robot x teacher, from the summary table."""
    return episode_stats(session, campaign)


def failures_by_line(rows: list[StatRow]) -> tuple[list[str], dict[str, dict[str, int]]]:
    """(``task / robot`` labels, reason -> label -> count) summed over campaigns and teachers."""
    labels: list[str] = []
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        label = f"{row.task} / {row.robot}"
        if label not in labels:
            labels.append(label)
        for reason, n in row.failures.items():
            by_label = counts.setdefault(reason, {})
            by_label[label] = by_label.get(label, 0) + n
    return sorted(labels), dict(sorted(counts.items()))


# episodes -------------------------------------------------------------------------------------
LIST_COLUMNS = (
    "id",
    "campaign_id",
    "task",
    "robot",
    "seed",
    "attempt",
    "teacher",
    "success",
    "failure_reason",
    "traj_uri",
    "created_at",
)


@dataclass
class EpisodePage:
    rows: list[dict[str, Any]]
    next_before: int | None  # the cursor of the next (older) page


def episode_page(
    session: Session, flt: EpisodeFilter, before: int | None, size: int = PAGE_SIZE
) -> EpisodePage:
    """Newest first, ``size`` rows with id below ``before``: one index range per page."""
    columns = [getattr(Episode, n) for n in LIST_COLUMNS]
    stmt = flt.apply(select(*columns))
    if before is not None:
        stmt = stmt.where(Episode.id < before)
    rows = session.execute(stmt.order_by(Episode.id.desc()).limit(size + 1)).all()
    page = [dict(zip(LIST_COLUMNS, r, strict=True)) for r in rows[:size]]
    return EpisodePage(page, page[-1]["id"] if len(rows) > size else None)


def campaign_ids(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Campaign.id, Campaign.name)).all())


def episode(session: Session, episode_id: int) -> dict[str, Any] | None:
    names = EPISODE_COLUMNS + tuple(
        n
        for n in ("completion", "plan", "scene", "timings", "worker", "job_id", "checks")
        + ("final_positions", "traj_key", "traj_sha256")
        if n not in EPISODE_COLUMNS
    )
    row = session.execute(
        select(*(getattr(Episode, n) for n in names)).where(Episode.id == episode_id)
    ).first()
    if row is None:
        return None
    data = dict(zip(names, row, strict=True))
    data["campaign"] = session.scalar(
        select(Campaign.name).where(Campaign.id == data["campaign_id"])
    )
    return data


def prompt_messages(ep: dict[str, Any]) -> tuple[list[dict[str, str]], str | None]:
    """The chat the teacher was shown, rendered again from the stored scene by the prompt
    version the episode records (manip.prompt owns the format); or why it cannot be."""
    from manip.prompt import render_messages
    from models.types import SceneState

    if not ep["scene"] or not ep["prompt_version"]:
        return [], None
    try:
        return render_messages(SceneState.from_json(ep["scene"]), ep["prompt_version"]), None
    except (BlazerError, KeyError, TypeError, ValueError) as exc:
        return [], f"cannot render the prompt from the stored scene: {exc}"


# datasets and models --------------------------------------------------------------------------
def datasets(session: Session) -> list[dict[str, Any]]:
    splits: dict[int, dict[str, int]] = {}
    for did, split, n in session.execute(
        select(DatasetMember.dataset_id, DatasetMember.split, func.count()).group_by(
            DatasetMember.dataset_id, DatasetMember.split
        )
    ):
        splits.setdefault(did, {})[split] = int(n)
    return [
        {
            "name": d.name,
            "size": d.size,
            "filter": d.filter_spec,
            "splits": splits.get(d.id, {}),
            "prompt_version": d.prompt_version,
            "hash": d.content_hash[:12],
            "created_at": aware(d.created_at),
        }
        for d in session.scalars(select(Dataset).order_by(Dataset.id.desc()))
    ]


def model_versions(session: Session) -> list[dict[str, Any]]:
    names = dict(session.execute(select(ModelVersion.id, ModelVersion.name)).all())
    dataset_names = dict(session.execute(select(Dataset.id, Dataset.name)).all())
    return [
        {
            "name": v.name,
            "lineage": v.lineage,
            "parent": names.get(v.parent_id),
            "base_model": v.base_model,
            "dataset": dataset_names.get(v.dataset_id),
            "promoted": v.promoted,
            "prompt_version": v.prompt_version,
            "eval": (v.metrics or {}).get("eval") or {},
            "metrics": {k: val for k, val in (v.metrics or {}).items() if k != "eval"},
            "created_at": aware(v.created_at),
        }
        for v in session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc()))
    ]


def bootstrap_lineages(session: Session) -> list[str]:
    """Lineages with bootstrap rounds: the ones ``blazer models lineage`` draws a curve for."""
    return list(
        session.scalars(
            select(TrainingRun.lineage)
            .where(TrainingRun.kind == "bootstrap", TrainingRun.lineage.is_not(None))
            .distinct()
            .order_by(TrainingRun.lineage)
        )
    )
