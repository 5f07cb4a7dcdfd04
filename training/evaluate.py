"""Evaluation campaigns: each model as the teacher on the same held-out evaluation seeds,
reported in the paper's Table I shape (tasks x models, success %, average)."""

from __future__ import annotations

import csv
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from blazer.settings import get_settings
from models.db import session_scope
from models.orm import CampaignTask, ModelVersion
from scheduler import campaigns
from scheduler.spec import CampaignSpec


@dataclass
class EvalTable:
    tasks: list[str]
    models: list[str]
    rates: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> task -> rate
    attempts: dict[str, dict[str, int]] = field(default_factory=dict)
    campaigns: dict[str, str] = field(default_factory=dict)

    def average(self, model: str) -> float:
        values = [self.rates[model][t] for t in self.tasks]
        return sum(values) / len(values) if values else 0.0

    def rows(self) -> list[list[str]]:
        out = [["task", *self.models]]
        for t in self.tasks:
            out.append([t, *(f"{100 * self.rates[m][t]:.1f}" for m in self.models)])
        out.append(["average", *(f"{100 * self.average(m):.1f}" for m in self.models)])
        return out


def teacher_for(model: str, max_new_tokens: int) -> dict:
    if model == "expert":
        return {"kind": "expert"}
    return {"kind": "hf", "model": model, "max_new_tokens": max_new_tokens}


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60]


def evaluate(
    models: list[str], tasks: list[str], episodes: int, *, robot: str = "panda",
    max_new_tokens: int = 384, block_size: int = 8, run=None,
) -> EvalTable:  # fmt: skip
    """Run one evaluation campaign per model (``episodes`` attempts per task, eval seeds)."""
    if run is None:
        from blazer.commands.campaign import run_with_progress as run
    stamp = time.strftime("%Y%m%d-%H%M%S")
    table = EvalTable(tasks, models)
    for model in models:
        name = f"eval-{slug(model)}-{stamp}"
        spec = CampaignSpec.from_dict({
            "name": name, "tasks": tasks, "robots": [robot], "teacher": teacher_for(model, max_new_tokens),
            "successes": episodes, "attempt_cap": episodes, "seed_split": "eval",
            "block_size": min(block_size, episodes),
        })  # fmt: skip
        with session_scope() as session:
            campaigns.create_campaign(session, spec)
        run(name)
        table.campaigns[model] = name
        with session_scope() as session:
            c = campaigns.get_campaign(session, name)
            lines = session.scalars(
                select(CampaignTask).where(CampaignTask.campaign_id == c.id)
            ).all()
            table.rates[model] = {
                t.task: (t.successes / t.attempts if t.attempts else 0.0) for t in lines
            }
            table.attempts[model] = {t.task: t.attempts for t in lines}
            _store_metrics(session, model, table)
    return table


def _store_metrics(session, model: str, table: EvalTable) -> None:
    version = session.scalars(select(ModelVersion).where(ModelVersion.name == model)).one_or_none()
    if version is not None:
        metrics = dict(version.metrics or {})
        metrics["eval"] = {**table.rates[model], "average": table.average(model)}
        version.metrics = metrics


def save_table(table: EvalTable, out_dir: Path | None = None) -> tuple[Path, Path]:
    """Write the table as CSV and a grouped bar chart PNG."""
    out_dir = out_dir or get_settings().data_dir / "eval" / time.strftime("%Y%m%d-%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / "table.csv", out_dir / "table.png"
    with csv_path.open("w", newline="") as fh:
        csv.writer(fh).writerows(table.rows())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [*table.tasks, "average"]
    width = 0.8 / max(1, len(table.models))
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(labels)), 4))
    for i, model in enumerate(table.models):
        values = [100 * table.rates[model][t] for t in table.tasks] + [100 * table.average(model)]
        ax.bar([x + i * width for x in range(len(labels))], values, width, label=model)
    ax.set_xticks(
        [x + width * (len(table.models) - 1) / 2 for x in range(len(labels))], labels, rotation=20
    )
    ax.set_ylabel("success %")
    ax.set_ylim(0, 100)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return csv_path, png_path
