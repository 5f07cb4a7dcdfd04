"""A campaign's retraining policy (the ``retrain:`` block of a campaign spec) and its
trigger: the scheduler creates a pending training run when K new successes arrived, and
hands it on; what runs it (training.retrain) is given to the scheduler, never imported."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.errors import ConfigError
from models.names import check_name
from models.orm import Campaign, CampaignTask, TrainingRun
from models.training_runs import create_trigger, requeue_stale
from models.types import CampaignState

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
        check_name("retrain lineage", policy.lineage)
        return policy


def due_retrains(session: Session, campaign: Campaign) -> list[int]:
    """Create a pending TrainingRun when the campaign has K new successes; return their ids."""
    data = campaign.typed_spec.retrain
    if not data:
        return []
    policy = RetrainPolicy.from_spec(data)
    successes = _successes(session, campaign)
    last = session.scalar(
        select(func.max(TrainingRun.source_successes)).where(
            TrainingRun.lineage == policy.lineage, TrainingRun.campaign_id == campaign.id
        )
    )
    if successes - (last or 0) < policy.every:
        return []
    run_id = create_trigger(
        session,
        lineage=policy.lineage,
        campaign_id=campaign.id,
        base=policy.base,
        successes=int(successes),
        policy=data,
    )
    if run_id is None:
        return []  # one is already pending or running for this lineage
    log.warning(
        "retrain due for lineage %s at %d successes (run %d)", policy.lineage, successes, run_id
    )
    return [run_id]


def due_bootstrap(session: Session, campaign: Campaign) -> list[int]:
    """A bootstrap round's campaign that just finished hands its lineage a training run (the
    round's snapshot, fine-tune, validation, promotion, next round: training.bootstrap)."""
    policy = campaign.typed_spec.bootstrap_policy
    if policy is None or campaign.state != CampaignState.DONE.value:
        return []
    if session.scalar(select(TrainingRun.id).where(TrainingRun.campaign_id == campaign.id)):
        return []
    successes = _successes(session, campaign)
    run_id = create_trigger(
        session,
        lineage=policy.lineage,
        campaign_id=campaign.id,
        base=policy.base,
        successes=int(successes),
        policy=campaign.typed_spec.bootstrap,
        kind="bootstrap",
    )
    if run_id is None:
        return []
    log.warning(
        "bootstrap %s: round %d done, training run %d", policy.lineage, policy.round, run_id
    )
    return [run_id]


def _successes(session: Session, campaign: Campaign) -> int:
    """The campaign's stored successes, all tasks."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(CampaignTask.successes), 0)).where(
                CampaignTask.campaign_id == campaign.id
            )
        )
    )


def stale_retrains(session: Session, lease_s: float) -> list[int]:
    """Retrain triggers whose train worker stopped heart-beating (killed, machine lost) go
    back to pending, to be handed out again; the next worker resumes from the checkpoint."""
    ids = requeue_stale(session, lease_s)
    for run_id in ids:
        log.warning("retrain %d lost its worker; handing it out again", run_id)
    return ids
