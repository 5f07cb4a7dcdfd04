"""The BLAZER experiment as one function: expert campaign -> dataset snapshot (student
prompt) -> LoRA SFT under a time budget -> Table I on held-out seeds (base vs student).

Every stage is named after the experiment and reused when it already exists, so a rerun
after a kill resumes where it stopped (the campaign from the database, SFT from its last
checkpoint, each evaluation campaign from its recorded episodes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import select

from models.db import session_scope
from models.errors import ConfigError, NotFound
from models.orm import Dataset
from models.registry import find_model_version
from models.settings import get_settings
from models.types import CampaignState
from scheduler import campaigns
from scheduler.runner import run_campaign
from scheduler.spec import CampaignSpec
from training.datasets import DatasetSpec, build_dataset
from training.evaluate import EvalTable, evaluate, save_table
from training.recipes import recipe
from training.sft import run_sft
from worker.prompt import STUDENT_PROMPT_VERSION
from worker.teachers.models import DEFAULT_MODEL

SIX_TASKS = ["PickCube-v1", "PushCube-v1", "PullCube-v1", "StackCube-v1", "PlaceSphere-v1",
             "LiftPegUpright-v1"]  # fmt: skip


@dataclass
class ExperimentConfig:
    name: str = "blazer-exp"  # prefix of every campaign, dataset and model it makes
    tasks: list[str] = field(default_factory=lambda: list(SIX_TASKS))
    per_task: int = 50  # verified expert successes per task (training seeds)
    minutes: float = 28.0  # SFT training-time budget (the issue allows 30 on this CPU)
    recipe: str = "auto"  # training.recipes: cpu here, paper on a CUDA GPU
    eval_seeds: range = field(default_factory=lambda: range(2_000_000_000, 2_000_000_050))
    base: str = DEFAULT_MODEL
    max_new_tokens: int = 320  # covers the longest expert completion (~250 tokens) with margin
    out: Path | None = None  # table.csv, table.png, experiment.json


@dataclass
class ExperimentResult:
    table: EvalTable
    student: str
    stage_s: dict[str, float]
    data: dict
    csv: Path
    png: Path


def run_experiment(
    cfg: ExperimentConfig, *, progress: Callable[[int, int, float], None] | None = None
) -> ExperimentResult:
    stage_s: dict[str, float] = {}
    out = cfg.out or get_settings().data_dir / "experiments" / cfg.name

    t0 = time.monotonic()
    gen = f"{cfg.name}-gen"
    _ensure_campaign(CampaignSpec.from_dict({
        "name": gen, "tasks": cfg.tasks, "teacher": {"kind": "expert"}, "successes": cfg.per_task,
        "seed_split": "train", "block_size": 10,
    }))  # fmt: skip
    stage_s["generate"] = time.monotonic() - t0

    t0 = time.monotonic()
    dataset = f"{cfg.name}-data"
    with session_scope() as session:
        ds = session.scalars(select(Dataset).where(Dataset.name == dataset)).one_or_none()
        if ds is None:
            ds = build_dataset(session, DatasetSpec(dataset, [gen], balance="equal",
                                                    prompt_version=STUDENT_PROMPT_VERSION))  # fmt: skip
        data = {"dataset": dataset, "examples": ds.size, "prompt": ds.prompt_version}
    stage_s["snapshot"] = time.monotonic() - t0

    t0 = time.monotonic()
    student = f"{cfg.name}-student"
    if _model_metrics(student) is None:
        config, lora = recipe(cfg.recipe, max_minutes=cfg.minutes)
        run_sft(dataset, cfg.base, config, lora, name=student, progress=progress)
    data["train"] = _model_metrics(student)
    stage_s["train"] = time.monotonic() - t0

    t0 = time.monotonic()
    table = evaluate([cfg.base, student], cfg.tasks, seeds=cfg.eval_seeds,
                     max_new_tokens=cfg.max_new_tokens, name_prefix=f"{cfg.name}-eval")  # fmt: skip
    stage_s["evaluate"] = time.monotonic() - t0

    csv_path, png_path = save_table(table, out)
    summary = {"config": {**asdict(cfg), "eval_seeds": [cfg.eval_seeds.start, cfg.eval_seeds.stop - 1],
                          "out": str(out)},
               "data": data, "stage_s": {k: round(v, 1) for k, v in stage_s.items()},
               "table": table.long_rows()}  # fmt: skip
    (out / "experiment.json").write_text(json.dumps(summary, indent=2, default=str))
    return ExperimentResult(table, student, stage_s, data, csv_path, png_path)


def _ensure_campaign(spec: CampaignSpec) -> None:
    """Create the campaign, or resume the one of that name; run it to its end."""
    with session_scope() as session:
        try:
            campaign = campaigns.get_campaign(session, spec.name)
        except NotFound:
            campaign = campaigns.create_campaign(session, spec)
        state = campaign.state
    if state == CampaignState.ACTIVE.value:
        state = run_campaign(spec.name)
    if state != CampaignState.DONE.value:
        raise ConfigError(
            f"campaign {spec.name!r} ended {state}; see `blazer campaign status {spec.name}`"
        )


def _model_metrics(name: str) -> dict | None:
    """The registered student's training metrics, or None before it is trained."""
    version = find_model_version(name)
    if version is None:
        return None
    return {k: v for k, v in (version.metrics or {}).items() if k != "eval"} | {
        "hyperparameters": version.hyperparameters,
        "prompt": version.prompt_version,
    }
