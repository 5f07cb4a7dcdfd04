"""The BLAZER experiment as one function: teacher campaign -> dataset snapshot (student
prompt) -> LoRA SFT under a time budget [-> DPO] -> Table I on held-out seeds.

Two teachers: ``expert`` (Result 1: the scripted expert's verified plans) and ``fewshot``
(Result 2: the base model itself, shown worked examples from validation scenes (prompt
v2fs) and sampled ``samples`` times per training scene; only its verified successes become
the student's data, rendered with the zero-shot prompt v2). The table then has base
(zero-shot), the few-shot teacher (greedy, one answer per scene, like every model in the
table) and the student side by side on the same held-out seeds.

Every stage is named after the experiment and reused when it already exists, so a rerun
after a kill resumes where it stopped (the campaign from the database, SFT from its last
checkpoint, each evaluation campaign from its recorded episodes).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import select

from manip.prompt import STUDENT_PROMPT_VERSION
from manip.sim.tasks import BLM1_TASKS, UNSEEN
from manip.teachers.models import DEFAULT_MODEL
from models.db import session_scope
from models.errors import ConfigError, NotFound
from models.names import check_name
from models.orm import CampaignTask, Dataset
from models.registry import find_model_version
from models.settings import get_settings
from models.types import CampaignState
from scheduler import campaigns
from scheduler.runner import run_campaign
from scheduler.spec import CampaignSpec
from training.child import run_sft_in_child
from training.datasets import DatasetSpec, build_dataset
from training.dpo import dpo_from_student
from training.evaluate import EvalTable, evaluate, save_table
from training.recipes import recipe

TEACHERS = ("expert", "fewshot")
FEWSHOT_PROMPT = "v2fs"
MIN_PASSES = 240  # example passes SFT makes at least, whatever the dataset's size

SIX_TASKS = list(BLM1_TASKS)


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
    teacher: str = "expert"  # expert | fewshot (see the module docstring)
    samples: int = 1  # teacher samples per training seed
    temperature: float = 0.7  # the few-shot teacher's sampling temperature
    attempts: int | None = None  # attempt cap per task (default: the campaign's, 20 x per_task)
    dpo_minutes: float = 0.0  # > 0: also SFT+DPO from the student, on success/failure pairs
    unseen: bool = False  # also evaluate on the unseen group's tasks (never trained on)

    @property
    def eval_tasks(self) -> list[str]:
        extra = [t for t in UNSEEN if t not in self.tasks] if self.unseen else []
        return [*self.tasks, *extra]

    def validate(self) -> ExperimentConfig:
        check_name("experiment", self.name)
        if self.teacher not in TEACHERS:
            raise ConfigError(
                f"--teacher must be one of {', '.join(TEACHERS)}, got {self.teacher!r}"
            )
        if self.samples < 1:
            raise ConfigError(f"--samples must be at least 1, got {self.samples}")
        if self.teacher == "expert" and self.samples != 1:
            raise ConfigError("--samples > 1 needs a sampling teacher (--teacher fewshot)")
        return self

    @property
    def teacher_label(self) -> str:
        """The teacher's name in the table."""
        return "expert" if self.teacher == "expert" else f"{self.base} few-shot (llama.cpp)"

    def teacher_spec(self, temperature: float) -> dict:
        if self.teacher == "expert":
            return {"kind": "expert"}
        # llama.cpp runs the same SmolLM2 weights (the GGUF, Q4_1), ~3x faster than transformers
        return {
            "kind": "llamacpp",
            "model": self.base,
            "prompt": FEWSHOT_PROMPT,
            "temperature": temperature,
            "max_new_tokens": self.max_new_tokens,
        }


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
    cfg.validate()
    stage_s: dict[str, float] = {}
    out = cfg.out or get_settings().data_dir / "experiments" / cfg.name

    t0 = time.monotonic()
    gen = f"{cfg.name}-gen"
    _ensure_campaign(
        CampaignSpec.from_dict(
            {
                "name": gen,
                "tasks": cfg.tasks,
                "teacher": cfg.teacher_spec(cfg.temperature),
                "successes": cfg.per_task,
                "attempt_cap": cfg.attempts,
                "seed_split": "train",
                "block_size": 10 if cfg.teacher == "expert" else 4,
                "samples_per_seed": cfg.samples,
            }
        )
    )
    stage_s["generate"] = time.monotonic() - t0

    t0 = time.monotonic()
    dataset = f"{cfg.name}-data"
    with session_scope() as session:
        ds = session.scalars(select(Dataset).where(Dataset.name == dataset)).one_or_none()
        if ds is None:
            ds = build_dataset(
                session,
                DatasetSpec(dataset, [gen], balance="equal", prompt_version=STUDENT_PROMPT_VERSION),
            )
        data = {
            "dataset": dataset,
            "examples": ds.size,
            "prompt": ds.prompt_version,
            "generation": _campaign_counts(session, gen),
        }
    stage_s["snapshot"] = time.monotonic() - t0

    t0 = time.monotonic()
    student = f"{cfg.name}-student"
    if _model_metrics(student) is None:
        config, lora = recipe(cfg.recipe, max_minutes=cfg.minutes)
        # a small dataset (an LLM teacher's few successes) still gets MIN_PASSES example passes
        examples = int(data["examples"])  # type: ignore[call-overload]
        config.epochs = max(config.epochs, math.ceil(MIN_PASSES / max(1, examples)))
        run_sft_in_child(dataset, cfg.base, config, lora, name=student, progress=progress)
    data["train"] = _model_metrics(student)
    stage_s["train"] = time.monotonic() - t0

    models, teachers = [cfg.base], {}
    if cfg.teacher != "expert":  # the expert's rate is known from its campaign; an LLM's is not
        models.append(cfg.teacher_label)
        teachers[cfg.teacher_label] = cfg.teacher_spec(temperature=0.0)
    models.append(student)
    if cfg.dpo_minutes > 0:
        t0 = time.monotonic()
        models.append(_dpo_stage(cfg, gen, student, progress))
        data["dpo"] = _model_metrics(models[-1])
        stage_s["dpo"] = time.monotonic() - t0

    t0 = time.monotonic()
    table = evaluate(
        models,
        cfg.eval_tasks,
        seeds=cfg.eval_seeds,
        teachers=teachers,
        max_new_tokens=cfg.max_new_tokens,
        name_prefix=f"{cfg.name}-eval",
    )
    stage_s["evaluate"] = time.monotonic() - t0

    csv_path, png_path = save_table(table, out)
    summary = {
        "config": {
            **asdict(cfg),
            "eval_seeds": [cfg.eval_seeds.start, cfg.eval_seeds.stop - 1],
            "out": str(out),
        },
        "data": data,
        "stage_s": {k: round(v, 1) for k, v in stage_s.items()},
        "table": table.long_rows(),
    }
    (out / "experiment.json").write_text(json.dumps(summary, indent=2, default=str))
    return ExperimentResult(table, student, stage_s, data, csv_path, png_path)


def _dpo_stage(cfg: ExperimentConfig, gen: str, student: str, progress) -> str:
    """SFT+DPO on the same data as SFT: the teacher's own samples of the training scenes."""
    return dpo_from_student(
        student,
        [gen],
        name=f"{cfg.name}-dpo",
        pairs=f"{cfg.name}-pairs",
        base=cfg.base,
        recipe_name=cfg.recipe,
        minutes=cfg.dpo_minutes,
        progress=progress,
    )


def _campaign_counts(session, name: str) -> dict:
    """Successes and attempts per task of a campaign (the teacher's rate on training seeds)."""
    c = campaigns.get_campaign(session, name)
    lines = session.scalars(select(CampaignTask).where(CampaignTask.campaign_id == c.id)).all()
    return {t.task: [t.successes, t.attempts] for t in lines}


def _ensure_campaign(spec: CampaignSpec) -> None:
    """Create the campaign, or resume the one of that name; run it to its end."""
    with session_scope() as session:
        try:
            campaign = campaigns.get_campaign(session, spec.name)
        except NotFound:
            campaign = campaigns.create_campaign(session, spec)
        if campaign.state == CampaignState.PAUSED.value:  # interrupted: this run resumes it
            campaigns.set_state(session, spec.name, CampaignState.ACTIVE)
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
