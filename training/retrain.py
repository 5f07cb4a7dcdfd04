"""Retraining when new data arrives: a campaign's ``retrain`` policy says "after K new
successes since this lineage's last run, fine-tune, evaluate, and promote if better".

The scheduler's ``due_retrains`` (scheduler/retrain_policy.py) creates a pending run and hands
it to the ``train`` queue (or, embedded, to the ``run_retrain`` it was given); this does the work.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select

from models.db import session_scope
from models.orm import Campaign, CampaignTask, ModelVersion
from models.registry import current_version, promote
from scheduler.retrain_policy import RetrainPolicy
from training.datasets import DatasetSpec, build_dataset
from training.evaluate import evaluate
from training.recipes import recipe
from training.runs import claim_pending, finish_run
from training.sft import run_sft

log = logging.getLogger(__name__)


def run_retrain(trigger_id: int, run=None) -> dict[str, Any]:
    """Build a snapshot, fine-tune, evaluate against the current version, promote if better."""
    with session_scope() as session:
        trigger = claim_pending(session, trigger_id)
        if trigger is None:
            return {"skipped": True}
        campaign = session.get(Campaign, trigger.campaign_id)
        policy = RetrainPolicy.from_spec(campaign.spec["retrain"])
        current = current_version(session, policy.lineage)
        current_name = current.name if current else policy.base
        n = (
            session.scalar(
                select(func.count())
                .select_from(ModelVersion)
                .where(ModelVersion.lineage == policy.lineage)
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
            lineage=policy.lineage,
        )
        table = evaluate([current_name, version], sorted(set(tasks)), policy.eval_episodes,
                         max_new_tokens=policy.max_new_tokens, run=run)  # fmt: skip
        better = table.average(version) > table.average(current_name)
        with session_scope() as session:
            if better:
                promote(session, version)
        metrics = {"version": version, "candidate": table.average(version), "current": current_name,
                   "current_score": table.average(current_name), "promoted": better}  # fmt: skip
        finish_run(trigger_id, metrics=metrics)
        return metrics
    except BaseException as exc:
        finish_run(trigger_id, error=f"{exc.__class__.__name__}: {exc}")
        raise
