"""``blazer experiment``: generate -> snapshot -> SFT -> evaluation, the BLAZER result in one
command (resumable: rerun it with the same --name after an interruption)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from blazer.commands.training import _progress_bar, _reexec_with_malloc_settings, print_table
from models.db import ensure_writable_schema
from training.experiment import ExperimentConfig

D = ExperimentConfig()  # every flag's default is the config's


def experiment(
    name: str = typer.Option(
        D.name, help="Prefix of the campaign, dataset and model it makes; reuse it to resume."
    ),
    per_task: int = typer.Option(
        D.per_task, help="Verified teacher successes per task (training seeds)."
    ),
    teacher: str = typer.Option(
        D.teacher,
        help="expert (Result 1) or fewshot (Result 2: the base model with worked examples, sampled).",
    ),
    samples: int = typer.Option(
        D.samples, help="Teacher samples per training seed (fewshot: e.g. 4)."
    ),
    temperature: float = typer.Option(
        D.temperature, help="The few-shot teacher's sampling temperature."
    ),
    attempts: int = typer.Option(
        None, help="Attempt cap per task for the teacher campaign (default 20 x --per-task)."
    ),
    dpo_minutes: float = typer.Option(
        D.dpo_minutes, help="> 0: also train SFT+DPO on success/failure pairs of the same scenes."
    ),
    minutes: float = typer.Option(
        D.minutes, help="SFT training-time budget in minutes (<= 30 on 2 CPU cores)."
    ),
    eval_seeds: str = typer.Option(
        f"{D.eval_seeds.start}-{D.eval_seeds.stop - 1}",
        help="Held-out evaluation seeds A-B (inside the eval split).",
    ),
    tasks: str = typer.Option(
        None, help="Comma-separated tasks (default: the six ManiSkill tasks)."
    ),
    unseen: bool = typer.Option(
        False,
        "--unseen",
        help="Also evaluate on the unseen tasks (tasks list --group unseen); the student never trains on them.",
    ),
    recipe: str = typer.Option(D.recipe, help="Training recipe: auto, cpu or paper."),
    max_new_tokens: int = typer.Option(
        D.max_new_tokens, help="Token limit when the models are evaluated."
    ),
    out: Path = typer.Option(
        None, help="Folder for table.csv, table.png and experiment.json.", resolve_path=True
    ),
) -> None:
    """Reproduce a BLAZER result: teacher data -> student (SmolLM2-135M + LoRA) -> Table I."""
    from training.evaluate import parse_eval_seeds
    from training.experiment import run_experiment

    seeds = parse_eval_seeds(eval_seeds, "--eval-seeds")  # a bad range fails before any work
    cfg = ExperimentConfig(
        name=name,
        per_task=per_task,
        minutes=minutes,
        eval_seeds=seeds,
        recipe=recipe,
        max_new_tokens=max_new_tokens,
        out=out,
        teacher=teacher,
        samples=samples,
        temperature=temperature,
        attempts=attempts,
        dpo_minutes=dpo_minutes,
        unseen=unseen,
    ).validate()
    if tasks:
        cfg.tasks = tasks.split(",")
    _reexec_with_malloc_settings()
    ensure_writable_schema()
    with _progress_bar() as bars:
        bar = bars.add_task("sft", total=None, loss=float("nan"))
        result = run_experiment(
            cfg, progress=lambda s, t, loss: bars.update(bar, completed=s, total=t, loss=loss)
        )
    print_table(result.table)
    typer.echo("data: " + json.dumps({k: v for k, v in result.data.items() if k != "train"}))
    train = result.data.get("train") or {}
    typer.echo(
        f"training: {train.get('steps')} steps in {train.get('train_seconds')} s, "
        f"loss {train.get('first_loss')} -> {train.get('final_loss')}"
    )
    typer.echo("stage seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in result.stage_s.items()))
    typer.echo(f"saved {result.csv} and {result.png}")
