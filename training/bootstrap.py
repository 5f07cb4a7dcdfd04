"""A bootstrap round: the verified plans of a lineage's rounds so far -> a new version ->
validation against the incumbent -> promotion -> the next round's campaign.

A campaign spec with a ``bootstrap:`` block (``models.campaign_spec.BootstrapPolicy``) is
round 0; its teacher is the base model shown worked examples (prompt ``v2fs``). When a
round's campaign is done, the scheduler creates a ``bootstrap`` training run, and a train
worker runs ``run_bootstrap_round``:

1. snapshot every successful episode of the lineage's round campaigns (rendered with the
   student prompt; a campaign whose teacher is the scripted expert is refused: no expert text
   enters the data),
2. fine-tune the base model on it (STaR's choice: from the base each round, on all data so far),
   and, with ``dpo_minutes``, DPO from that adapter on the rounds' same-scene success/failure
   pairs (the SFT model is then ``<version>-sft``, the candidate ``<version>``),
3. evaluate candidate and incumbent on the same validation seeds (llama.cpp, greedy),
4. promote the candidate when it wins a one-sided exact sign test on the seeds where the two
   disagree (p <= alpha), and record both on held-out seeds (never used to decide),
5. if promoted and rounds remain, create round r+1: teacher ``llamacpp`` with the lineage's
   name as its model (the promoted version, looked up when each job runs), fresh training
   seeds, and more samples and temperature where the incumbent fails (the sampling rule).

Every stage has a fixed name and is skipped when done, so a killed train worker's successor
resumes the round (SFT from its last checkpoint, evaluations from their recorded episodes).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from sqlalchemy import select

from manip.prompt import STUDENT_PROMPT_VERSION
from models.campaign_spec import BootstrapPolicy
from models.db import session_scope
from models.errors import ConfigError
from models.orm import Campaign, CampaignTask, Dataset, Episode, TrainingRun
from models.registry import current_version, find_model_version, promote
from models.settings import get_settings
from models.training_runs import claim_trigger
from models.types import SeedSplit
from scheduler import campaigns
from scheduler.runner import run_campaign
from scheduler.spec import CampaignSpec
from training.child import run_sft_in_child
from training.datasets import DatasetSpec, build_dataset
from training.dpo import dpo_from_student
from training.evaluate import EvalTable, evaluate
from training.held import run_held
from training.recipes import recipe

log = logging.getLogger(__name__)

FEWSHOT_PROMPT = "v2fs"
MIN_PASSES = 240  # example passes SFT makes at least, whatever the snapshot's size
ROUND_SEED_STRIDE = 1_000_000  # round r samples training seeds from offset + r * stride
VAL_SEED_START = SeedSplit.VAL.offset + 1_000  # past the few-shot examples' validation seeds
TEACHER_KINDS = {"llamacpp", "hf", "openai", "vllm"}  # an LLM; never the scripted expert


def round_campaign_name(lineage: str, round_: int) -> str:
    return f"{lineage}-r{round_}"


def base_teacher(policy: BootstrapPolicy, temperature: float = 0.0) -> dict[str, Any]:
    """Round 0's teacher, and the incumbent before any promotion: the base model few-shot."""
    return {
        "kind": "llamacpp",
        "model": policy.base,
        "prompt": FEWSHOT_PROMPT,
        "temperature": temperature,
        "max_new_tokens": policy.max_new_tokens,
    }


def student_teacher(model: str, policy: BootstrapPolicy, temperature: float = 0.0) -> dict:
    """A version (or, as a round's teacher, the lineage) asked with its own training prompt."""
    return {
        "kind": "llamacpp",
        "model": model,
        "temperature": temperature,
        "max_new_tokens": policy.max_new_tokens,
    }


# the promotion test -------------------------------------------------------------------------
def sign_test_p(wins: int, losses: int) -> float:
    """One-sided exact sign test: P(X >= wins) for X ~ Binomial(wins + losses, 1/2)."""
    n = wins + losses
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(wins, n + 1)) / 2**n


def paired_outcomes(session, candidate: str, incumbent: str) -> tuple[int, int]:
    """(candidate wins, incumbent wins) over the (task, seed) episodes the two disagree on."""

    def outcomes(name: str) -> dict[tuple[str, int], bool]:
        campaign = campaigns.get_campaign(session, name)
        rows = session.execute(
            select(Episode.task, Episode.seed, Episode.success).where(
                Episode.campaign_id == campaign.id
            )
        )
        return {(task, seed): bool(ok) for task, seed, ok in rows}

    a, b = outcomes(candidate), outcomes(incumbent)
    shared = a.keys() & b.keys()
    return (
        sum(a[k] and not b[k] for k in shared),
        sum(b[k] and not a[k] for k in shared),
    )


# the sampling rule --------------------------------------------------------------------------
def focus_overrides(policy: BootstrapPolicy, rates: dict[str, float]) -> dict[str, dict]:
    """Per task: the round's samples (``samples`` per scene and task on average, the same
    budget either way) shared out by weight 1 + 3 (1 - p), p the incumbent's validation rate,
    and temperature + 0.3 (1 - p); every task the same without the rule (``focus: false``)."""
    miss = {t: (1.0 - p if policy.focus else 0.0) for t, p in rates.items()}
    weight = {t: 1 + 3 * m for t, m in miss.items()}
    budget = policy.samples * len(rates)
    out = {}
    for task in rates:
        share = budget * weight[task] / sum(weight.values())
        k = min(policy.max_samples, max(1, round(share)))
        out[task] = {
            "samples_per_seed": k,
            "temperature": round(min(1.0, policy.temperature + 0.3 * miss[task]), 3),
            "successes": policy.scenes * k,
            "attempt_cap": policy.scenes * k,
        }
    return out


def next_round_spec(spec: CampaignSpec, policy: BootstrapPolicy, rates: dict) -> CampaignSpec:
    r = policy.round + 1
    data = spec.to_json()
    data.update(
        name=round_campaign_name(policy.lineage, r),
        # the lineage's promoted version, with round 0's serving settings (threads, tokens)
        teacher={
            **{k: v for k, v in spec.teacher.items() if k != "prompt"},
            **student_teacher(policy.lineage, policy, policy.temperature),
        },
        seed_split="train",
        seed_start=SeedSplit.TRAIN.offset + r * ROUND_SEED_STRIDE,
        task_overrides=focus_overrides(policy, rates),
        bootstrap={**spec.bootstrap, "round": r},
        retrain=None,
    )
    data["samples_per_seed"] = policy.samples
    data["successes"] = data["attempt_cap"] = policy.scenes * policy.samples
    return CampaignSpec.from_dict(data, source=f"bootstrap round {r}")


# the round ----------------------------------------------------------------------------------
def run_bootstrap_round(trigger_id: int, run=None, worker: str | None = None) -> dict[str, Any]:
    """Run (or resume) the round whose campaign created trigger ``trigger_id``."""
    import os
    import socket

    worker = worker or f"train-{os.getpid()}@{socket.gethostname()}"
    with session_scope() as session:
        trigger = claim_trigger(session, trigger_id, worker, get_settings().train_lease_s)
        if trigger is None:
            return {"skipped": True}
        campaign = session.get(Campaign, trigger.campaign_id)
        spec = CampaignSpec.from_stored(campaign.spec)
        policy = spec.bootstrap_policy
        assert policy is not None, "a bootstrap trigger's campaign has a bootstrap block"
        sources = _round_campaigns(session, policy.lineage, campaign)
        incumbent = current_version(session, policy.lineage)
        incumbent_name = incumbent.name if incumbent else None
        tasks = [t.task for t in campaign_tasks(session, campaign.id)]
    log.warning("bootstrap %s round %d claimed by %s", policy.lineage, policy.round, worker)

    run = run or (lambda name, on_progress=None: run_campaign(name, on_progress))
    return run_held(
        trigger_id,
        worker,
        lambda beat: _round(policy, spec, sources, incumbent_name, tasks, beat, run),
    )


def _round(
    policy: BootstrapPolicy,
    spec: CampaignSpec,
    sources: list[str],
    incumbent: str | None,
    tasks: list[str],
    beat,
    run,
) -> dict[str, Any]:
    version = f"{policy.lineage}-v{policy.round + 1}"
    stage_s: dict[str, float] = {}

    t0 = time.monotonic()
    dataset = f"{version}-data"
    with session_scope() as session:
        check_provenance(session, sources)
        ds = session.scalars(select(Dataset).where(Dataset.name == dataset)).one_or_none()
        if ds is None:
            ds = build_dataset(
                session,
                DatasetSpec(
                    dataset, sources, balance="equal", prompt_version=STUDENT_PROMPT_VERSION
                ),
            )
        examples = ds.size
    stage_s["snapshot"] = time.monotonic() - t0

    t0 = time.monotonic()
    sft = f"{version}-sft" if policy.dpo_minutes > 0 else version
    if find_model_version(sft) is None:
        config, lora = recipe(policy.recipe, max_minutes=policy.minutes, **(policy.train or {}))
        config.epochs = max(config.epochs, math.ceil(MIN_PASSES / max(1, examples)))
        run_sft_in_child(
            dataset,
            policy.base,
            config,
            lora,
            name=sft,
            parent=incumbent,
            lineage=policy.lineage,
            progress=beat,
        )
    train = _train_metrics(sft)
    stage_s["train"] = time.monotonic() - t0
    dpo = None
    if policy.dpo_minutes > 0:
        t0 = time.monotonic()
        dpo_from_student(
            sft,
            sources,
            name=version,
            pairs=f"{version}-pairs",
            base=policy.base,
            recipe_name=policy.recipe,
            minutes=policy.dpo_minutes,
            overrides=policy.train,
            progress=beat,
        )
        dpo = _train_metrics(version)
        stage_s["dpo"] = time.monotonic() - t0

    t0 = time.monotonic()
    inc_label = incumbent or f"{policy.base}-fewshot"
    serving = {k: v for k, v in spec.teacher.items() if k == "threads"}  # round 0's
    teachers = {
        inc_label: {
            **(student_teacher(incumbent, policy) if incumbent else base_teacher(policy)),
            **serving,
        },
        version: {**student_teacher(version, policy), **serving},
    }
    val = evaluate(
        [inc_label, version],
        tasks,
        seeds=range(VAL_SEED_START, VAL_SEED_START + policy.val_seeds),
        teachers=teachers,
        run=lambda name: run(name, beat),
        name_prefix=f"{policy.lineage}-val",
        seed_split="val",
    )
    with session_scope() as session:
        wins, losses = paired_outcomes(session, val.campaigns[version], val.campaigns[inc_label])
    p = sign_test_p(wins, losses)
    promoted = wins > losses and p <= policy.alpha
    stage_s["validate"] = time.monotonic() - t0

    t0 = time.monotonic()
    heldout = evaluate(
        [inc_label, version] if policy.round == 0 and policy.heldout_base else [version],
        tasks,
        seeds=range(SeedSplit.EVAL.offset, SeedSplit.EVAL.offset + policy.heldout_seeds),
        teachers=teachers,
        run=lambda name: run(name, beat),
        name_prefix=f"{policy.lineage}-heldout",
    )
    stage_s["heldout"] = time.monotonic() - t0

    next_campaign = None
    if promoted:
        with session_scope() as session:
            promote(session, version)
            if policy.round + 1 < policy.rounds:
                rates = {t: val.rate(version, t) for t in tasks}
                nxt = next_round_spec(spec, policy, rates)
                if session.scalar(select(Campaign.id).where(Campaign.name == nxt.name)) is None:
                    campaigns.create_campaign(session, nxt)
                next_campaign = nxt.name
    log.warning(
        "bootstrap %s round %d: %s %s (val %d wins / %d losses, p=%.3f)",
        policy.lineage,
        policy.round,
        version,
        "promoted" if promoted else "not promoted",
        wins,
        losses,
        p,
    )
    return {
        "bootstrap": True,
        "round": policy.round,
        "version": version,
        "incumbent": inc_label,
        "sources": sources,
        "examples": examples,
        "train": train,
        **({"dpo": dpo} if dpo is not None else {}),
        "validation": _rates(val),
        "heldout": _rates(heldout),
        "sign_test": {"wins": wins, "losses": losses, "p": p, "alpha": policy.alpha},
        "promoted": promoted,
        "next_campaign": next_campaign,
        "focus": policy.focus,
        "stage_s": {k: round(v, 1) for k, v in stage_s.items()},
    }


def _train_metrics(version: str) -> dict[str, Any]:
    return {k: v for k, v in (find_model_version(version).metrics or {}).items() if k != "eval"}


def _rates(table: EvalTable) -> dict[str, dict[str, list[int]]]:
    """model -> task -> [successes, attempts] (intervals are computed where shown)."""
    return {m: {t: list(table.counts(m, t)) for t in table.tasks} for m in table.models}


def campaign_tasks(session, campaign_id: int) -> list[CampaignTask]:
    return list(
        session.scalars(select(CampaignTask).where(CampaignTask.campaign_id == campaign_id))
    )


def _round_campaigns(session, lineage: str, current: Campaign) -> list[str]:
    """The lineage's round campaigns up to ``current``: those earlier bootstrap runs came
    from, and this one."""
    ids = set(
        session.scalars(
            select(TrainingRun.campaign_id).where(
                TrainingRun.lineage == lineage,
                TrainingRun.kind == "bootstrap",
                TrainingRun.campaign_id.is_not(None),
            )
        )
    ) | {current.id}
    rows = session.scalars(select(Campaign).where(Campaign.id.in_(ids)).order_by(Campaign.id))
    return [c.name for c in rows]


def check_provenance(session, names: list[str]) -> None:
    """Refuse a snapshot that could hold a scripted expert's completion: every source is an
    LLM teacher's campaign, and every successful episode in it was written by an LLM."""
    for c in session.scalars(select(Campaign).where(Campaign.name.in_(names))):
        if c.teacher_kind not in TEACHER_KINDS:
            raise ConfigError(
                f"bootstrap data must come from an LLM teacher; campaign {c.name} was taught "
                f"by {c.teacher_kind}"
            )
        expert = session.scalar(
            select(Episode.id)
            .where(Episode.campaign_id == c.id, Episode.teacher == "expert")
            .limit(1)
        )
        if expert is not None:
            raise ConfigError(f"campaign {c.name} holds an expert episode ({expert})")
