"""Retraining when new data arrives: a campaign's ``retrain`` policy says "after K new
successes since this lineage's last run, fine-tune, evaluate, and promote if better".

The scheduler calls ``due_retrains`` every tick and hands each due run to the ``train``
queue (or runs it in-process in embedded mode); ``run_retrain`` does the work.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.db import session_scope
from models.orm import Campaign, CampaignTask, ModelVersion, TrainingRun
from training.datasets import DatasetSpec, build_dataset
from training.evaluate import evaluate
from training.loop import TrainConfig
from training.lora import LoraSettings
from training.policy import RetrainPolicy
from training.sft import run_sft

log = logging.getLogger(__name__)


def due_retrains(session: Session, campaign: Campaign) -> list[int]:
    """Create a pending TrainingRun when the campaign has K new successes; return their ids."""
    data = (campaign.spec or {}).get("retrain")
    if not data:
        return []
    policy = RetrainPolicy.from_spec(data)
    busy = session.scalar(
        select(func.count()).select_from(TrainingRun).where(
            TrainingRun.lineage == policy.lineage, TrainingRun.state.in_(["pending", "running"]))
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
    run = TrainingRun(kind="sft", base_model=policy.base, state="pending", lineage=policy.lineage,
                      campaign_id=campaign.id, source_successes=int(successes), hyperparameters={"policy": data})  # fmt: skip
    session.add(run)
    session.flush()
    log.warning(
        "retrain due for lineage %s at %d successes (run %d)", policy.lineage, successes, run.id
    )
    return [run.id]


def current_version(session: Session, lineage: str) -> ModelVersion | None:
    return session.scalars(
        select(ModelVersion).where(ModelVersion.name.like(f"{lineage}-v%"), ModelVersion.promoted.is_(True))
        .order_by(ModelVersion.id.desc())
    ).first()  # fmt: skip


def run_retrain(trigger_id: int, run=None) -> dict[str, Any]:
    """Build a snapshot, fine-tune, evaluate against the current version, promote if better."""
    with session_scope() as session:
        trigger = session.get(TrainingRun, trigger_id)
        if trigger is None or trigger.state != "pending":
            return {"skipped": True}
        trigger.state = "running"
        campaign = session.get(Campaign, trigger.campaign_id)
        policy = RetrainPolicy.from_spec(campaign.spec["retrain"])
        current = current_version(session, policy.lineage)
        current_name = current.name if current else policy.base
        n = (
            session.scalar(
                select(func.count())
                .select_from(ModelVersion)
                .where(ModelVersion.name.like(f"{policy.lineage}-v%"))
            )
            + 1
        )
        tasks = [
            t.task
            for t in session.scalars(
                select(CampaignTask).where(CampaignTask.campaign_id == campaign.id)
            )
        ]
        campaign_name = campaign.name
    version = f"{policy.lineage}-v{n}"
    try:
        with session_scope() as session:
            ds = build_dataset(
                session, DatasetSpec(f"{version}-data", [campaign_name], per_task=policy.per_task)
            )
            ds_name = ds.name
        config = TrainConfig(**(policy.train or {}))
        run_sft(
            ds_name,
            policy.base,
            config,
            LoraSettings(),
            name=version,
            parent=current.name if current else None,
        )
        table = evaluate([current_name, version], sorted(set(tasks)), policy.eval_episodes,
                         max_new_tokens=policy.max_new_tokens, run=run)  # fmt: skip
        better = table.average(version) > table.average(current_name)
        with session_scope() as session:
            if better:
                session.execute(
                    update(ModelVersion)
                    .where(ModelVersion.name.like(f"{policy.lineage}-v%"))
                    .values(promoted=False)
                )
                session.execute(
                    update(ModelVersion).where(ModelVersion.name == version).values(promoted=True)
                )
            t = session.get(TrainingRun, trigger_id)
            t.state = "done"
            t.metrics = {"version": version, "candidate": table.average(version), "current": current_name,
                         "current_score": table.average(current_name), "promoted": better}  # fmt: skip
            return dict(t.metrics)
    except BaseException as exc:
        with session_scope() as session:
            t = session.get(TrainingRun, trigger_id)
            t.state, t.error = "failed", f"{exc.__class__.__name__}: {exc}"
        raise
