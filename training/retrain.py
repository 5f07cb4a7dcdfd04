"""Retraining when new data arrives: a campaign's ``retrain`` policy says "after K new
successes since this lineage's last run, fine-tune, evaluate, and promote if better".

The scheduler's ``due_retrains`` (scheduler/retrain_policy.py) creates a pending run and hands
it to the ``train`` queue (or, embedded, to the ``run_retrain`` it was given); this does the work.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from sqlalchemy import func, select

from models.db import session_scope
from models.orm import Campaign, CampaignTask, Dataset, ModelVersion
from models.registry import current_version, find_model_version, promote
from models.settings import get_settings
from models.training_runs import claim_trigger
from scheduler.retrain_policy import RetrainPolicy
from scheduler.runner import run_campaign
from training.child import run_sft_in_child
from training.datasets import DatasetSpec, build_dataset
from training.evaluate import evaluate
from training.held import run_held
from training.recipes import recipe

log = logging.getLogger(__name__)


def run_retrain(trigger_id: int, run=None, worker: str | None = None) -> dict[str, Any]:
    """Build a snapshot, fine-tune, evaluate against the current version, promote if better.

    ``run(name, on_progress)`` runs an evaluation campaign. The trigger is held under a lease
    that training steps and evaluation episodes renew; if this worker dies, the scheduler
    hands the trigger out again and the next worker resumes: same version name, same
    snapshot, the SFT run from its last checkpoint.
    """
    worker = worker or f"train-{os.getpid()}@{socket.gethostname()}"
    with session_scope() as session:
        trigger = claim_trigger(session, trigger_id, worker, get_settings().train_lease_s)
        if trigger is None:
            return {"skipped": True}
        campaign = session.get(Campaign, trigger.campaign_id)
        policy = RetrainPolicy.from_spec(campaign.typed_spec.retrain)
        current = current_version(session, policy.lineage)
        current_name = current.name if current else policy.base
        version = (trigger.hyperparameters or {}).get("version")
        if version is None:  # first claim: name the version once, so a resume reuses it
            n = session.scalar(
                select(func.count())
                .select_from(ModelVersion)
                .where(ModelVersion.lineage == policy.lineage)
            )
            version = f"{policy.lineage}-v{n + 1}"
            trigger.hyperparameters = {**(trigger.hyperparameters or {}), "version": version}
        tasks = [
            t.task
            for t in session.scalars(
                select(CampaignTask).where(CampaignTask.campaign_id == campaign.id)
            )
        ]
        campaign_name = campaign.name
    log.warning("retrain %d claimed by %s: %s", trigger_id, worker, version)

    run = run or (lambda name, on_progress=None: run_campaign(name, on_progress))

    def work(beat) -> dict[str, Any]:
        ds_name = f"{version}-data"
        with session_scope() as session:
            if session.scalar(select(Dataset.id).where(Dataset.name == ds_name)) is None:
                build_dataset(
                    session, DatasetSpec(ds_name, [campaign_name], per_task=policy.per_task)
                )
        config, lora = recipe(policy.recipe, **(policy.train or {}))
        if find_model_version(version) is None:
            run_sft_in_child(
                ds_name,
                policy.base,
                config,
                lora,
                name=version,
                parent=current.name if current else None,
                lineage=policy.lineage,
                progress=beat,
            )
        table = evaluate(
            [current_name, version],
            sorted(set(tasks)),
            policy.eval_episodes,
            max_new_tokens=policy.max_new_tokens,
            run=lambda name: run(name, beat),
            name_prefix=f"{version}-eval",
        )
        better = table.average(version) > table.average(current_name)
        if better:
            with session_scope() as session:
                promote(session, version)
        metrics = {
            "version": version,
            "candidate": table.average(version),
            "current": current_name,
            "current_score": table.average(current_name),
            "promoted": better,
        }
        return metrics

    return run_held(trigger_id, worker, work)
