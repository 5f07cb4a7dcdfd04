"""Campaign records: create from a spec, change state, report progress."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from manip.teachers import teacher_name
from models import jobs
from models.db import rowcount
from models.errors import ConfigError, NotFound
from models.orm import (
    Campaign,
    CampaignTask,
    Dataset,
    DatasetMember,
    Episode,
    EpisodeStat,
    Job,
    utcnow,
)
from models.stats import wilson_interval
from models.types import CampaignState, JobState, SeedSplit
from scheduler.spec import CampaignSpec

INTERRUPTED = "interrupted: the process running it embedded stopped; rerun the command to resume"


def create_campaign(session: Session, spec: CampaignSpec) -> Campaign:
    if session.scalar(select(Campaign.id).where(Campaign.name == spec.name)) is not None:
        raise ConfigError(
            f"campaign {spec.name!r} exists; pick another name or `blazer campaign resume {spec.name}`"
        )
    campaign = Campaign(
        name=spec.name,
        state=CampaignState.ACTIVE.value,
        priority=spec.priority,
        teacher_kind=spec.teacher_kind,
        teacher=teacher_name(spec.teacher_kind, spec.teacher_config),
        teacher_config=spec.teacher_config,
        spec=spec.to_json(),
        block_size=spec.block_size,
    )
    session.add(campaign)
    try:
        session.flush()
    except IntegrityError:
        raise ConfigError(f"campaign {spec.name!r} exists") from None
    offset = SeedSplit(spec.seed_split).offset if spec.seed_start is None else spec.seed_start
    for task in spec.tasks:
        for robot in spec.robots:
            session.add(
                CampaignTask(
                    campaign_id=campaign.id,
                    task=task,
                    robot=robot,
                    target_successes=spec.for_task(task, "successes"),
                    attempt_cap=spec.for_task(task, "attempt_cap"),
                    seed_split=spec.seed_split,
                    next_seed=offset,
                )
            )
    session.flush()
    return campaign


def get_campaign(session: Session, name: str) -> Campaign:
    campaign = session.scalars(select(Campaign).where(Campaign.name == name)).one_or_none()
    if campaign is None:
        known = session.scalars(select(Campaign.name).order_by(Campaign.id.desc()).limit(10)).all()
        hint = (
            f"; recent campaigns: {', '.join(known)}" if known else "; there are no campaigns yet"
        )
        raise NotFound(f"no campaign named {name!r}{hint}")
    return campaign


def set_state(session: Session, name: str, state: CampaignState) -> Campaign:
    """Pause, resume or cancel a campaign by name (the user's verbs)."""
    campaign = get_campaign(session, name)
    ended = (CampaignState.DONE.value, CampaignState.FAILED.value)
    if campaign.state in ended and state != CampaignState.CANCELLED:
        raise ConfigError(f"campaign {name!r} is {campaign.state}")
    campaign.state = state.value
    if state == CampaignState.ACTIVE and campaign.error == INTERRUPTED:
        campaign.error = None
    if state == CampaignState.CANCELLED:
        jobs.cancel_open(session, campaign_id=campaign.id, why="campaign cancelled")
        campaign.finished_at = utcnow()
    return campaign


def finish_campaign(campaign: Campaign, state: CampaignState, error: str | None = None) -> None:
    """The planner's verdict: done (every task has N successes or hit its cap) or failed."""
    campaign.state = state.value
    campaign.error = error[:2000] if error else None
    campaign.finished_at = utcnow()


@dataclass
class TaskProgress:
    task: str
    robot: str
    successes: int
    target: int
    attempts: int
    cap: int
    open_jobs: int
    surplus: int = 0  # successes past the target: counted, not stored

    @property
    def rate(self) -> float:
        """Every attempt that ran: surplus successes are successes too."""
        return (self.successes + self.surplus) / self.attempts if self.attempts else 0.0

    @property
    def finished(self) -> bool:
        return self.successes >= self.target or self.attempts >= self.cap

    def to_json(self) -> dict[str, Any]:
        low, high = wilson_interval(self.successes + self.surplus, self.attempts)
        return {
            "task": self.task,
            "robot": self.robot,
            "successes": self.successes,
            "target": self.target,
            "attempts": self.attempts,
            "attempt_cap": self.cap,
            "surplus": self.surplus,
            "success_rate": round(self.rate, 4),
            "ci95": [round(low, 4), round(high, 4)],
            "open_jobs": self.open_jobs,
        }


def progress(session: Session, campaign: Campaign) -> list[TaskProgress]:
    open_counts = jobs.open_seed_counts(session, campaign.id)
    tasks = session.scalars(
        select(CampaignTask)
        .where(CampaignTask.campaign_id == campaign.id)
        .order_by(CampaignTask.id)
    )
    return [
        TaskProgress(
            t.task,
            t.robot,
            t.successes,
            t.target_successes,
            t.attempts,
            t.attempt_cap,
            open_counts.get(t.id, (0, 0))[0],
            t.surplus_discarded,
        )
        for t in tasks
    ]


def status(session: Session, name: str) -> dict[str, Any]:
    campaign = get_campaign(session, name)
    counts = dict(
        session.execute(
            select(Job.state, func.count())
            .where(Job.campaign_id == campaign.id)
            .group_by(Job.state)
        ).all()
    )
    return {
        "name": campaign.name,
        "state": campaign.state,
        "error": campaign.error,
        "teacher": campaign.teacher,
        "priority": campaign.priority,
        "tasks": [p.to_json() for p in progress(session, campaign)],
        "jobs": {s.value: int(counts.get(s.value, 0)) for s in JobState},
        "failed_jobs": failed_jobs(session, campaign.id),
    }


def failed_jobs(session: Session, campaign_id: int) -> list[dict[str, Any]]:
    """The campaign's first FAILED_JOBS_SHOWN failed jobs with their reasons."""
    failed = session.execute(
        select(Job.id, CampaignTask.task, CampaignTask.robot, Job.seed_start, Job.error)
        .join(CampaignTask, CampaignTask.id == Job.campaign_task_id)
        .where(Job.campaign_id == campaign_id, Job.state == JobState.FAILED.value)
        .order_by(Job.id)
        .limit(FAILED_JOBS_SHOWN)
    ).all()
    return [
        {"job": j, "task": t, "robot": r, "seed_start": s, "error": e} for j, t, r, s, e in failed
    ]


FAILED_JOBS_SHOWN = 20


def list_campaigns(session: Session) -> list[Campaign]:
    return list(session.scalars(select(Campaign).order_by(Campaign.id)))


@dataclass
class DeleteReport:
    campaign: str
    episodes: int  # removed
    jobs: int
    shards: list[str]  # artifact shards no kept episode needs: removed after the commit
    kept: int  # episodes kept because snapshots hold them (--keep-datasets)


def referencing_datasets(session: Session, campaign_id: int) -> dict[str, int]:
    """Snapshots holding episodes of a campaign: name -> how many."""
    rows = session.execute(
        select(Dataset.name, func.count())
        .join(DatasetMember, DatasetMember.dataset_id == Dataset.id)
        .join(Episode, Episode.id == DatasetMember.episode_id)
        .where(Episode.campaign_id == campaign_id)
        .group_by(Dataset.name)
    )
    return {n: int(c) for n, c in rows}


def delete_campaign(
    session: Session, name: str, *, keep_datasets: bool = False, dry_run: bool = False
) -> DeleteReport:
    """Remove a campaign's rows in the caller's one transaction: its jobs, task lines, counts
    and episodes, and the campaign itself. A snapshot holding some of its episodes blocks this
    (one line naming it) unless ``keep_datasets``: then those episodes, the shards they live in
    and the campaign row (cancelled, saying so) stay, and the rest goes. The shard files are
    for the caller to remove once this commits (a kill in between leaves orphans that
    ``blazer artifacts check --repair`` lists and removes)."""
    campaign = get_campaign(session, name)
    if campaign.state in (CampaignState.ACTIVE.value, CampaignState.PAUSED.value):
        raise ConfigError(
            f"campaign {name!r} is {campaign.state}; cancel it first (`blazer campaign cancel {name}`)"
        )
    refs = referencing_datasets(session, campaign.id)
    if refs and not keep_datasets:
        holders = ", ".join(f"{d} ({n})" for d, n in sorted(refs.items()))
        raise ConfigError(
            f"campaign {name!r}: snapshot(s) {holders} hold its episodes; delete them first "
            "(`blazer dataset delete NAME`) or pass --keep-datasets to keep those episodes"
        )
    mine = Episode.campaign_id == campaign.id
    held = exists().where(DatasetMember.episode_id == Episode.id)
    uris = select(Episode.traj_uri).where(mine, Episode.traj_uri.is_not(None)).distinct()
    kept_uris = set(session.scalars(uris.where(held))) if refs else set()
    shards = sorted(set(session.scalars(uris)) - kept_uris)
    kept = int(session.scalar(select(func.count()).where(mine, held)) or 0) if refs else 0
    if dry_run:
        total = session.scalar(select(func.count()).where(mine)) or 0
        n = session.scalar(select(func.count()).where(Job.campaign_id == campaign.id)) or 0
        return DeleteReport(name, int(total) - kept, int(n), shards, kept)
    episodes = rowcount(session.execute(delete(Episode).where(mine, ~held if refs else true())))
    n_jobs = rowcount(session.execute(delete(Job).where(Job.campaign_id == campaign.id)))
    session.execute(delete(EpisodeStat).where(EpisodeStat.campaign_id == campaign.id))
    session.execute(delete(CampaignTask).where(CampaignTask.campaign_id == campaign.id))
    if refs:
        campaign.state = CampaignState.CANCELLED.value
        campaign.error = f"deleted; {kept} episode(s) kept for snapshots {', '.join(sorted(refs))}"
    else:
        session.delete(campaign)
    return DeleteReport(name, episodes, n_jobs, shards, kept)
