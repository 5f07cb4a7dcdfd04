"""A campaign's retraining policy (the ``retrain:`` block of a campaign spec) and its
trigger: the scheduler creates a pending training run when K new successes arrived, and
hands it on; what runs it (training.retrain) is given to the scheduler, never imported."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.errors import ConfigError
from models.orm import Campaign, CampaignTask, TrainingRun, utcnow
from models.types import TrainingRunState

log = logging.getLogger(__name__)


@dataclass
class RetrainPolicy:
    every: int  # new successes since the lineage's last run
    lineage: str
    base: str = "smollm2-135m"
    per_task: int | None = None
    eval_episodes: int = 10
    max_new_tokens: int = 384
    recipe: str = "auto"  # training.recipes: cpu, or paper where a CUDA GPU is
    train: dict[str, Any] | None = None  # recipe overrides, e.g. {"max_steps": 50}

    @classmethod
    def from_spec(cls, data: dict[str, Any]) -> RetrainPolicy:
        try:
            policy = cls(**data)
        except TypeError as exc:
            raise ConfigError(f"spec: retrain: {exc}") from None
        if policy.every <= 0 or not policy.lineage:
            raise ConfigError("spec: retrain needs every > 0 and a lineage name")
        return policy


def due_retrains(session: Session, campaign: Campaign) -> list[int]:
    """Create a pending TrainingRun when the campaign has K new successes; return their ids."""
    data = (campaign.spec or {}).get("retrain")
    if not data:
        return []
    policy = RetrainPolicy.from_spec(data)
    busy = session.scalar(
        select(func.count()).select_from(TrainingRun).where(
            TrainingRun.lineage == policy.lineage, TrainingRun.state.in_([TrainingRunState.PENDING.value, TrainingRunState.RUNNING.value]))
    )  # fmt: skip
    if busy:
        return []
    successes = session.scalar(
        select(func.coalesce(func.sum(CampaignTask.successes), 0)).where(
            CampaignTask.campaign_id == campaign.id
        )
    )
    last = session.scalar(
        select(func.max(TrainingRun.source_successes)).where(
            TrainingRun.lineage == policy.lineage, TrainingRun.campaign_id == campaign.id)
    )  # fmt: skip
    if successes - (last or 0) < policy.every:
        return []
    run = TrainingRun(kind="sft", base_model=policy.base, state=TrainingRunState.PENDING.value, lineage=policy.lineage,
                      campaign_id=campaign.id, source_successes=int(successes), hyperparameters={"policy": data})  # fmt: skip
    session.add(run)
    session.flush()
    log.warning(
        "retrain due for lineage %s at %d successes (run %d)", policy.lineage, successes, run.id
    )
    return [run.id]


def stale_retrains(session: Session, lease_s: float) -> list[int]:
    """Retrain triggers whose train worker stopped heart-beating (killed, machine lost) go
    back to pending, to be handed out again; the next worker resumes from the checkpoint."""
    cutoff = utcnow() - timedelta(seconds=lease_s)
    runs = session.scalars(
        select(TrainingRun)
        .where(
            TrainingRun.campaign_id.is_not(None),
            TrainingRun.state == TrainingRunState.RUNNING.value,
            TrainingRun.heartbeat_at < cutoff,
        )
        .with_for_update()
    ).all()
    for run in runs:
        log.warning("retrain %d lost its worker %s; handing it out again", run.id, run.worker)
        run.state, run.worker = TrainingRunState.PENDING.value, None
    return [run.id for run in runs]
