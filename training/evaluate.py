"""Evaluation campaigns: each model as the teacher on the same held-out evaluation seeds,
reported in the paper's Table I shape (tasks x models, success % with 95% Wilson intervals).

Each model is prompted with the version it was trained on (the registry says; an
unregistered model gets the teacher prompt v1), so a student is never asked in a format it
has not seen.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from manip.sim.tasks import GROUPS
from manip.teachers import teacher_for_model
from models.db import session_scope
from models.errors import ConfigError
from models.orm import Campaign, CampaignTask, ModelVersion
from models.settings import get_settings
from models.stats import wilson_interval
from models.types import SEED_SPLIT_SIZE, CampaignState, SeedSplit
from scheduler import campaigns
from scheduler.runner import run_campaign
from scheduler.spec import CampaignSpec

EVAL_FIRST = SeedSplit.EVAL.offset
EVAL_LAST = EVAL_FIRST + SEED_SPLIT_SIZE - 1


def parse_eval_seeds(text: str, flag: str = "--seeds") -> range:
    """``A-B`` (inclusive) inside the evaluation split, or one clear error."""
    m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text or "")
    if m is None:
        raise ConfigError(
            f"{flag} must look like A-B (e.g. {EVAL_FIRST}-{EVAL_FIRST + 49}), got {text!r}"
        )
    a, b = int(m.group(1)), int(m.group(2))
    if a > b:
        raise ConfigError(f"{flag} {text}: the first seed is after the last")
    if a < EVAL_FIRST or b > EVAL_LAST:
        raise ConfigError(
            f"{flag} {text} leaves the evaluation split: evaluation seeds are {EVAL_FIRST}-{EVAL_LAST} "
            "(training and validation seeds are never used to evaluate)"
        )
    return range(a, b + 1)


def default_eval_seeds(episodes: int) -> range:
    return range(EVAL_FIRST, EVAL_FIRST + episodes)


@dataclass
class EvalTable:
    tasks: list[str]
    models: list[str]
    successes: dict[str, dict[str, int]] = field(default_factory=dict)  # model -> task -> n
    attempts: dict[str, dict[str, int]] = field(default_factory=dict)
    campaigns: dict[str, str] = field(default_factory=dict)
    seeds: range | None = None

    def rate(self, model: str, task: str) -> float:
        n = self.attempts[model].get(task, 0)
        return self.successes[model].get(task, 0) / n if n else 0.0

    def summaries(self) -> dict[str, list[str]]:
        """The average rows: all tasks, and, when the table mixes them, the seen (``train``
        group) and unseen tasks apart: transfer is read off the unseen row."""
        out = {"average": list(self.tasks)}
        seen = [t for t in self.tasks if GROUPS.get(t, "train") == "train"]
        unseen = [t for t in self.tasks if t not in seen]
        if seen and unseen:
            out |= {"average (seen)": seen, "average (unseen)": unseen}
        return out

    def _tasks(self, key: str | None) -> list[str]:
        """A task, a summary row's name, or ``None`` (every task)."""
        if key is None:
            return list(self.tasks)
        return self.summaries().get(key, [key]) if key not in self.tasks else [key]

    def average(self, model: str, key: str | None = None) -> float:
        """The paper's average: the mean of the per-task rates (of a summary row's tasks)."""
        values = [self.rate(model, t) for t in self._tasks(key)]
        return sum(values) / len(values) if values else 0.0

    def value(self, model: str, key: str | None) -> float:
        """One task's rate, or a summary row's average (``None``: every task)."""
        return self.rate(model, key) if key in self.tasks else self.average(model, key)

    def counts(self, model: str, key: str | None) -> tuple[int, int]:
        """(successes, attempts) of one task, or of a summary row's tasks pooled."""
        tasks = self._tasks(key)
        k = sum(self.successes[model].get(t, 0) for t in tasks)
        return k, sum(self.attempts[model].get(t, 0) for t in tasks)

    def interval(self, model: str, key: str | None = None) -> tuple[float, float]:
        """95% Wilson interval of one task, or of a summary row's episodes pooled."""
        return wilson_interval(*self.counts(model, key))

    def cell(self, model: str, key: str | None) -> str:
        lo, hi = self.interval(model, key)
        return f"{100 * self.value(model, key):.1f} [{100 * lo:.0f}-{100 * hi:.0f}]"

    def keys(self) -> list[str]:
        """Row keys in table order: the tasks, then the summary rows."""
        return [*self.tasks, *self.summaries()]

    def rows(self) -> list[list[str]]:
        """Table I: tasks x models, success % [95% interval], then the averages."""
        return [
            ["task", *self.models],
            *([k, *(self.cell(m, k) for m in self.models)] for k in self.keys()),
        ]

    def long_rows(self) -> list[list]:
        out: list[list] = [["task", "model", "successes", "attempts", "rate", "ci_low", "ci_high"]]
        for m in self.models:
            for key in self.keys():
                lo, hi = self.interval(m, key)
                k, n = self.counts(m, key)
                out.append([key, m, k, n, round(self.value(m, key), 4), round(lo, 4), round(hi, 4)])
        return out


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60]


def evaluate(
    models: list[str],
    tasks: list[str],
    episodes: int | None = None,
    *,
    seeds: range | None = None,
    robot: str = "panda",
    max_new_tokens: int = 384,
    block_size: int = 8,
    teachers: dict[str, dict] | None = None,
    run: Callable[[str], str] = run_campaign,
    name_prefix: str | None = None,
    scene: str = "true",
    seed_split: str = "eval",
    engine: str = "hf",
) -> EvalTable:
    """One evaluation campaign per model on the same seeds (``seeds``, else the first
    ``episodes`` evaluation seeds); ``teachers`` may give a model's teacher config outright.
    With ``name_prefix`` the campaigns have fixed names and an existing one is resumed
    (or just read, when it is done) instead of run again. ``scene`` is the prompt's scene
    (``true`` or ``perceived[:segmenter]``); the simulator judges success on the truth.
    ``seed_split``: ``eval`` (held-out) or ``val`` (a bootstrap's promotion decision)."""
    seeds = seeds if seeds is not None else default_eval_seeds(episodes or 0)
    if len(seeds) == 0:
        raise ConfigError("evaluation needs at least one seed")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    table = EvalTable(tasks, models, seeds=seeds)
    for model in models:
        label = slug(model) if scene == "true" else f"{slug(model)}-{slug(scene)}"
        name = f"{name_prefix}-{label}" if name_prefix else f"eval-{label}-{stamp}"
        teacher = (teachers or {}).get(model) or teacher_for_model(model, max_new_tokens, engine)
        spec = CampaignSpec.from_dict(
            {
                "name": name,
                "tasks": tasks,
                "robots": [robot],
                "teacher": teacher,
                "successes": len(seeds),
                "attempt_cap": len(seeds),
                "seed_split": seed_split,
                "seed_start": seeds.start,
                "block_size": min(block_size, len(seeds)),
                "scene": scene,
            }
        )
        with session_scope() as session:
            existing = session.scalar(select(Campaign.state).where(Campaign.name == name))
            if existing is None:
                campaigns.create_campaign(session, spec)
            elif existing == CampaignState.PAUSED.value:  # an interrupted run: go on with it
                campaigns.set_state(session, name, CampaignState.ACTIVE)
        if existing in (None, CampaignState.ACTIVE.value, CampaignState.PAUSED.value):
            run(name)
        table.campaigns[model] = name
        with session_scope() as session:
            c = campaigns.get_campaign(session, name)
            lines = session.scalars(
                select(CampaignTask).where(CampaignTask.campaign_id == c.id)
            ).all()
            table.successes[model] = {t.task: t.successes for t in lines}
            table.attempts[model] = {t.task: t.attempts for t in lines}
            if scene == "true" and seed_split == "eval":  # registry scores: true scene, held out
                _store_metrics(session, model, table)
    return table


def side_by_side(tables: dict[str, EvalTable]) -> EvalTable:
    """One table whose columns are each model under each scene: ``expert [true]``,
    ``expert [perceived:blocks]``, … (BLAZER's Fig. 4 comparison)."""
    first = next(iter(tables.values()))
    out = EvalTable(first.tasks, [], seeds=first.seeds)
    for model in first.models:
        for scene, table in tables.items():
            column = f"{model} [{scene}]"
            out.models.append(column)
            out.successes[column] = table.successes[model]
            out.attempts[column] = table.attempts[model]
            out.campaigns[column] = table.campaigns.get(model, "")
    return out


def _store_metrics(session, model: str, table: EvalTable) -> None:
    name = model.removeprefix("policy:")  # a learned policy's column is policy:<version>
    version = session.scalars(select(ModelVersion).where(ModelVersion.name == name)).one_or_none()
    if version is not None:
        metrics = dict(version.metrics or {})
        metrics["eval"] = {
            **{t: table.rate(model, t) for t in table.tasks},
            **{key: table.average(model, key) for key in table.summaries()},
            "seeds": [table.seeds.start, table.seeds.stop - 1] if table.seeds else None,
        }
        version.metrics = metrics


def save_table(table: EvalTable, out_dir: Path | None = None) -> tuple[Path, Path]:
    """Write the table as CSV (one row per task x model) and a bar chart PNG with intervals."""
    out_dir = out_dir or get_settings().data_dir / "eval" / time.strftime("%Y%m%d-%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / "table.csv", out_dir / "table.png"
    with csv_path.open("w", newline="") as fh:
        csv.writer(fh).writerows(table.long_rows())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = table.keys()
    width = 0.8 / max(1, len(table.models))
    fig, ax = plt.subplots(figsize=(max(6, 1.5 * len(labels)), 4))
    for i, model in enumerate(table.models):
        keys = table.keys()
        values = [100 * table.value(model, t) for t in keys]
        bounds = [table.interval(model, t) for t in keys]
        err = [
            [max(0.0, v - 100 * lo) for v, (lo, _) in zip(values, bounds, strict=True)],
            [max(0.0, 100 * hi - v) for v, (_, hi) in zip(values, bounds, strict=True)],
        ]
        xs = [x + i * width for x in range(len(labels))]
        ax.bar(xs, values, width, yerr=err, capsize=2, label=model)
    ax.set_xticks(
        [x + width * (len(table.models) - 1) / 2 for x in range(len(labels))], labels, rotation=20
    )
    seeds = f", seeds {table.seeds.start}-{table.seeds.stop - 1}" if table.seeds else ""
    ax.set_title(f"success on held-out seeds (95% Wilson intervals){seeds}", fontsize=9)
    ax.set_ylabel("success %")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return csv_path, png_path
