"""A bootstrap lineage's curve: per round, the data, the training, validation and held-out
success per task with 95% intervals, and whether the round promoted its version. Read from
the bootstrap training runs' metrics (``training.bootstrap``) and the round campaigns."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.errors import NotFound
from models.orm import Campaign, CampaignTask, TrainingRun, as_utc
from models.stats import wilson_interval


@dataclass
class Round:
    round: int
    version: str
    state: str  # the training run's: pending, running, done, failed
    campaign: str
    generation: dict[str, list[int]]  # task -> [successes, attempts] of the round's teacher
    metrics: dict[str, Any] = field(default_factory=dict)
    wall_minutes: float | None = None  # the round's campaign created -> its training run ended

    def heldout(self, model: str | None = None) -> dict[str, list[int]]:
        return self.metrics.get("heldout", {}).get(model or self.version, {})

    def validation(self, model: str | None = None) -> dict[str, list[int]]:
        return self.metrics.get("validation", {}).get(model or self.version, {})

    @property
    def train_minutes(self) -> float | None:
        seconds = self.metrics.get("train", {}).get("train_seconds")
        return None if seconds is None else seconds / 60


def pooled(counts: dict[str, list[int]]) -> tuple[float, float, float]:
    """Average success over the tasks' episodes pooled, with its 95% interval."""
    k = sum(c[0] for c in counts.values())
    n = sum(c[1] for c in counts.values())
    lo, hi = wilson_interval(k, n)
    return (k / n if n else 0.0), lo, hi


def complete(counts: dict[str, list[int]], tasks: list[str]) -> bool:
    """Every task evaluated on the same number of episodes (a cancelled or unfinished
    evaluation is not a point of the curve)."""
    attempts = {counts.get(t, [0, 0])[1] for t in tasks}
    return len(attempts) == 1 and attempts != {0}


def cell(counts: list[int] | None) -> str:
    if not counts or not counts[1]:
        return "-"
    lo, hi = wilson_interval(*counts)
    return f"{100 * counts[0] / counts[1]:.0f} [{100 * lo:.0f}-{100 * hi:.0f}]"


def lineage_rounds(session: Session, lineage: str) -> list[Round]:
    runs = session.scalars(
        select(TrainingRun)
        .where(TrainingRun.lineage == lineage, TrainingRun.kind == "bootstrap")
        .order_by(TrainingRun.id)
    ).all()
    if not runs:
        raise NotFound(f"no bootstrap rounds for lineage {lineage!r} (yet)")
    out = []
    for i, run in enumerate(runs):
        campaign = session.get(Campaign, run.campaign_id) if run.campaign_id else None
        lines: list[CampaignTask] = (
            list(
                session.scalars(select(CampaignTask).where(CampaignTask.campaign_id == campaign.id))
            )
            if campaign
            else []
        )
        metrics = dict(run.metrics or {})
        wall = None
        if campaign is not None and run.finished_at is not None:
            wall = (as_utc(run.finished_at) - as_utc(campaign.created_at)).total_seconds() / 60
        out.append(
            Round(
                round=int(metrics.get("round", i)),
                version=metrics.get("version", f"{lineage}-v{i + 1}"),
                state=run.state,
                campaign=campaign.name if campaign else "-",
                generation={t.task: [t.successes, t.attempts] for t in lines},
                metrics=metrics,
                wall_minutes=wall,
            )
        )
    return out


def lineage_table(rounds: list[Round]) -> list[list[str]]:
    """Rows for a terminal or CSV: one per round (round 0's incumbent, the few-shot base, first)."""
    tasks = sorted({t for r in rounds for t in r.generation})
    head = ["round", "model", "data", "steps", "SFT min", "round min", "teacher rate", "val avg"]
    head += [f"held-out {t.removesuffix('-v1')}" for t in tasks] + ["held-out avg", "promoted"]
    rows = [head]
    first = rounds[0]
    base = first.metrics.get("incumbent")
    if base and (first.heldout(base) or first.validation(base)):
        row = _row("base", base, first, first.heldout(base), first.validation(base), tasks)
        if first.heldout(base) and not complete(first.heldout(base), tasks):
            row[-2] = "incomplete"
        rows.append(row)
    for r in rounds:
        gen = pooled(r.generation)
        row = _row(str(r.round + 1), r.version, r, r.heldout(), r.validation(), tasks)
        row[2] = str(r.metrics.get("examples", "-"))
        row[3] = str(r.metrics.get("train", {}).get("steps", "-"))
        row[4] = f"{r.train_minutes:.1f}" if r.train_minutes is not None else "-"
        row[5] = f"{r.wall_minutes:.0f}" if r.wall_minutes is not None else "-"
        row[6] = f"{100 * gen[0]:.0f}%"
        sign = r.metrics.get("sign_test", {})
        row[-1] = (
            ("yes" if r.metrics.get("promoted") else "no") + f" (p={sign['p']:.3f})"
            if sign
            else r.state
        )
        rows.append(row)
    return rows


def _row(label, model, r: Round, heldout, validation, tasks) -> list[str]:
    avg, lo, hi = pooled(heldout)
    val = pooled(validation)[0] if validation else None
    return [
        label,
        model,
        "-",
        "-",
        "-",
        "-",
        "-",
        f"{100 * val:.0f}%" if val is not None else "-",
        *(cell(heldout.get(t)) for t in tasks),
        f"{100 * avg:.1f} [{100 * lo:.0f}-{100 * hi:.0f}]" if heldout else "-",
        "-",
    ]


def save_lineage(rounds: list[Round], out_dir: Path) -> tuple[Path, Path]:
    """The table as CSV and the curve (held-out average and per task, by round) as PNG."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / "lineage.csv", out_dir / "lineage.png"
    with csv_path.open("w", newline="") as fh:
        csv.writer(fh).writerows(lineage_table(rounds))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = []  # (x, label, counts by task): complete evaluations only
    tasks_all = sorted({t for r in rounds for t in r.generation})
    base = rounds[0].metrics.get("incumbent")
    if base and complete(rounds[0].heldout(base), tasks_all):
        points.append((0, "base few-shot", rounds[0].heldout(base)))
    points += [
        (r.round + 1, r.version, r.heldout()) for r in rounds if complete(r.heldout(), tasks_all)
    ]
    fig, ax = plt.subplots(figsize=(7, 4))
    tasks = sorted({t for _, _, counts in points for t in counts})
    for task in tasks:
        xs = [x for x, _, c in points if task in c]
        ys = [100 * c[task][0] / max(1, c[task][1]) for _, _, c in points if task in c]
        ax.plot(xs, ys, marker=".", linewidth=1, alpha=0.6, label=task.removesuffix("-v1"))
    avg = [pooled(c) for _, _, c in points]
    ax.errorbar(
        [x for x, _, _ in points],
        [100 * a for a, _, _ in avg],
        yerr=[
            [100 * (a - lo) for a, lo, _ in avg],
            [100 * (hi - a) for a, _, hi in avg],
        ],
        color="black",
        linewidth=2,
        capsize=3,
        label="average (95% CI)",
    )
    ax.set_xticks([x for x, _, _ in points], [label for _, label, _ in points], rotation=15)
    ax.set_ylabel("held-out success %")
    ax.set_ylim(0, 105)
    ax.set_title("bootstrap lineage: held-out success by round", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return csv_path, png_path
