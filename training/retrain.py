"""Retraining when new data arrives: a campaign's ``retrain`` policy says "after K new
successes since this lineage's last run, fine-tune, evaluate, and promote if better".

The scheduler's ``due_retrains`` (scheduler/retrain_policy.py) creates a pending run and hands
it to the ``train`` queue (or, embedded, to the ``run_retrain`` it was given); this does the work.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.db import session_scope
from models.orm import Campaign, CampaignTask, ModelVersion, TrainingRun
from scheduler.retrain_policy import RetrainPolicy
from training.datasets import DatasetSpec, build_dataset
from training.evaluate import evaluate
from training.recipes import recipe
from training.sft import run_sft

log = logging.getLogger(__name__)


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
        config, lora = recipe(policy.recipe, **(policy.train or {}))
        run_sft(
            ds_name,
            policy.base,
            config,
            lora,
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
