"""``blazer dataset``, ``blazer train``, ``blazer eval`` and ``blazer models``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import select

from models.db import ensure_schema, ensure_writable_schema, retry_database, session_scope
from models.errors import ConfigError
from models.orm import Dataset, ModelVersion
from models.settings import get_settings
from training.loop import TrainConfig
from training.lora import LoraSettings
from training.recipes import DPO_DEFAULTS, RECIPES

dataset_app = typer.Typer(no_args_is_help=True)
train_app = typer.Typer(no_args_is_help=True)
models_app = typer.Typer(no_args_is_help=True)


@dataset_app.command("build")
def dataset_build(
    name: str = typer.Option(..., help="Snapshot name (immutable)."),
    sources: list[str] = typer.Option(..., "--from", help="Campaign(s) to draw from."),
    success_only: bool = typer.Option(
        True, "--success-only/--all-outcomes", help="Successes only (SFT) or all (DPO)."
    ),
    per_task: int = typer.Option(None, help="At most N examples per campaign x task x robot."),
    balance: str = typer.Option(
        "proportional", help="equal (each source the same weight) or proportional."
    ),
    split: str = typer.Option("train", help="Seed split: train, val or eval."),
    seed: int = typer.Option(0, help="Seed for the per-task sample."),
    prompt: str = typer.Option(
        "v2", help="Prompt version the examples are rendered with (v1 teacher, v2 student)."
    ),
    include_unseen: bool = typer.Option(
        False,
        "--include-unseen",
        help="Also take tasks of the unseen group (kept for evaluation by default).",
    ),
) -> None:
    """Snapshot episodes into a dataset: members, filter and content hash, deduplicated."""
    from training.datasets import DatasetSpec, build_dataset

    ensure_schema()
    spec = DatasetSpec(
        name, sources, success_only, per_task, balance, split, seed, prompt, include_unseen
    )

    def build():  # one transaction: a database restart mid-way rolls it back, then it reruns
        with session_scope() as session:
            return build_dataset(session, spec)

    ds = retry_database(build, waiting_for=f"dataset {name}")
    typer.echo(
        f"dataset {ds.name!r}: {ds.size} examples, prompt {ds.prompt_version}, hash {ds.content_hash[:12]}"
    )


@dataset_app.command("export")
def dataset_export(
    name: str,
    fmt: str = typer.Option(
        "jsonl",
        "--format",
        help="jsonl, hf (SFT chat examples), lerobot (LeRobot v3.0) or maniskill-h5 (RecordEpisode layout).",
    ),
    out: Path = typer.Option(
        None, help="Output file (jsonl) or folder (the others).", resolve_path=True
    ),
    data_file_mb: float = typer.Option(
        None, help="lerobot: start a new data file past this size (default lerobot's 100 MB)."
    ),
    video_file_mb: float = typer.Option(
        None, help="lerobot: start a new video file past this size (default lerobot's 200 MB)."
    ),
) -> None:
    """Export a snapshot: chat JSONL or a Hugging Face datasets folder (SFT), or LeRobot v3.0
    or ManiSkill h5 (policy learning; needs episodes recorded with the spec key record:)."""
    from models.settings import get_settings
    from training.datasets import export_dataset

    ensure_schema()
    from models.names import check_name

    check_name("dataset", name)
    out = out or get_settings().data_dir / "exports" / (f"{name}.jsonl" if fmt == "jsonl" else name)
    seen = [0]

    def progress(total: int) -> None:  # one line per 10% on a long policy-learning export
        seen[0] += 1
        if total >= 20 and seen[0] % max(1, total // 10) == 0:
            typer.echo(f"  {seen[0]}/{total} episodes", err=True)

    with session_scope() as session:
        notes: list[str] = []
        path = export_dataset(
            session, name, fmt, out, progress, (data_file_mb, video_file_mb), notes.append
        )
    typer.echo(f"exported {name!r} as {fmt} to {path}")
    for note in notes:
        typer.echo(f"  {note}")


def _made(datasets) -> None:
    for d in datasets:
        typer.echo(f"dataset {d.name!r}: {d.size} examples, hash {d.content_hash[:12]}")


@dataset_app.command("merge")
def dataset_merge(
    sources: list[str] = typer.Argument(..., help="Two or more snapshots."),
    name: str = typer.Option(..., help="The new snapshot's name."),
) -> None:
    """A new snapshot holding every member of the given ones (each episode once)."""
    from training.dataset_ops import merge_datasets

    ensure_schema()
    with session_scope() as session:
        _made([merge_datasets(session, sources, name)])


@dataset_app.command("split")
def dataset_split(
    source: str = typer.Argument(..., help="The snapshot to split."),
    fractions: str = typer.Option(..., help="Comma-separated shares summing to 1, e.g. 0.8,0.2."),
    names: str = typer.Option(None, help="Comma-separated part names (default NAME-0, NAME-1…)."),
    seed: int = typer.Option(0, help="Seed for dealing scenes to parts."),
) -> None:
    """New snapshots in the given shares, disjoint by scene (task, seed): no scene is in two."""
    from training.dataset_ops import split_dataset

    try:
        shares = [float(f) for f in fractions.split(",")]
    except ValueError:
        raise ConfigError(f"--fractions must be numbers like 0.8,0.2, got {fractions!r}") from None
    ensure_schema()
    with session_scope() as session:
        parts = split_dataset(session, source, shares, seed, names.split(",") if names else None)
        _made(parts)


@dataset_app.command("filter")
def dataset_filter(
    source: str = typer.Argument(..., help="The snapshot to filter."),
    name: str = typer.Option(..., help="The new snapshot's name."),
    task: str = typer.Option(None, help="Only this task."),
    robot: str = typer.Option(None, help="Only this robot."),
    success: bool = typer.Option(None, "--success/--failure", help="Only successes / failures."),
    reason: str = typer.Option(None, help="Only this failure reason."),
    check: list[str] = typer.Option(None, help="A named success check that must hold (repeat)."),
    min_steps: int = typer.Option(None, help="At least this many recorded control steps."),
    max_steps: int = typer.Option(None, help="At most this many recorded control steps."),
) -> None:
    """A new snapshot with the members of SOURCE that pass every given filter."""
    from training.dataset_ops import MemberFilter, filter_dataset

    flt = MemberFilter(task, robot, success, reason, tuple(check or ()), min_steps, max_steps)
    ensure_schema()
    with session_scope() as session:
        _made([filter_dataset(session, source, name, flt)])


@dataset_app.command("delete")
def dataset_delete(name: str) -> None:
    """Remove a snapshot (the episodes stay)."""
    from training.dataset_ops import delete_dataset

    ensure_schema()
    with session_scope() as session:
        size = delete_dataset(session, name)
    typer.echo(f"deleted dataset {name!r} ({size} members; the episodes stay)")


@dataset_app.command("list")
def dataset_list() -> None:
    """All dataset snapshots."""
    ensure_schema()
    table = Table("id", "name", "size", "hash", "filter")
    with session_scope() as session:
        for d in session.scalars(select(Dataset).order_by(Dataset.id)):
            table.add_row(
                str(d.id), d.name, str(d.size), d.content_hash[:12], json.dumps(d.filter_spec)
            )
    Console(width=160).print(table)


def _reexec_with_malloc_settings() -> None:
    """glibc's allocator slows CPU LoRA steps 4x unless tuned before the process starts."""
    from training.runs import MALLOC_ENV, malloc_env_missing

    if malloc_env_missing() and not get_settings().no_reexec:
        os.execve(
            sys.executable,
            [sys.executable, "-m", "blazer.cli", *sys.argv[1:]],
            {**os.environ, **MALLOC_ENV},
        )


def _progress_bar():
    return Progress(
        TextColumn("training"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def _config(
    epochs, lr, effective_batch, micro_batch, max_steps, max_len, ckpt_every, seed, **extra
) -> TrainConfig:
    return TrainConfig(
        lr=lr,
        epochs=epochs,
        effective_batch=effective_batch,
        micro_batch=micro_batch,
        max_steps=max_steps,
        max_len=max_len,
        ckpt_every=ckpt_every,
        seed=seed,
        extra=extra,
    )


def _per_recipe(attr: str) -> str:
    """A TrainConfig or LoraSettings field's value in each recipe ("paper 5, cpu 2"; one value
    when they agree), so a flag's help never repeats a default by hand."""
    values = {
        name: getattr(lora if attr.startswith("lora_") else config, attr.removeprefix("lora_"))
        for name, (config, lora) in RECIPES.items()
    }
    if len(set(values.values())) == 1:
        return str(next(iter(values.values())))
    return ", ".join(f"{name} {value}" for name, value in values.items())


DPO_LORA = LoraSettings()
EFF = typer.Option(DPO_DEFAULTS.effective_batch, help="Effective batch via gradient accumulation.")
MAX_STEPS = typer.Option(None, help="Stop after this many optimizer steps.")
MAX_LEN = typer.Option(DPO_DEFAULTS.max_len, help="Tokens per example.")
CKPT = typer.Option(
    DPO_DEFAULTS.ckpt_every, help="Checkpoint every N steps (resume picks up the latest)."
)
RANK = typer.Option(DPO_LORA.r, help="LoRA rank.")
ALPHA = typer.Option(DPO_LORA.alpha, help="LoRA alpha.")
SEED = typer.Option(DPO_DEFAULTS.seed, help="Seed.")


@train_app.command("sft")
def train_sft(
    dataset: str = typer.Option(..., help="Dataset snapshot."),
    base: str = typer.Option("smollm2-135m", help="Base model: alias, folder or hub id."),
    name: str = typer.Option(None, help="Model version name (default: <dataset>-sft)."),
    parent: str = typer.Option(None, help="Parent model version (lineage)."),
    out: Path = typer.Option(
        None, help="Run folder (default under the data dir); rerun to resume.", resolve_path=True
    ),
    recipe: str = typer.Option(
        "auto", help="auto (paper on a CUDA GPU, else cpu), paper or cpu; flags below override it."
    ),
    minutes: float = typer.Option(
        None,
        help=f"Training-time budget, minutes; the schedule is fitted into it ({_per_recipe('max_minutes')}).",
    ),
    epochs: int = typer.Option(None, help=f"Epochs ({_per_recipe('epochs')})."),
    lr: float = typer.Option(None, help=f"Peak learning rate, cosine ({_per_recipe('lr')})."),
    effective_batch: int = typer.Option(
        None, help=f"Effective batch ({_per_recipe('effective_batch')})."
    ),
    micro_batch: int = typer.Option(
        None, help=f"Examples per forward pass ({_per_recipe('micro_batch')})."
    ),
    max_steps: int = MAX_STEPS,
    max_len: int = typer.Option(None, help=f"Tokens per example ({_per_recipe('max_len')})."),
    ckpt_every: int = typer.Option(
        None, help=f"Checkpoint every N steps ({_per_recipe('ckpt_every')}); a rerun resumes."
    ),
    lora_r: int = typer.Option(None, help=f"LoRA rank ({_per_recipe('lora_r')})."),
    lora_alpha: int = typer.Option(None, help=f"LoRA alpha ({_per_recipe('lora_alpha')})."),
    seed: int = typer.Option(None, help=f"Seed ({_per_recipe('seed')})."),
) -> None:
    """LoRA SFT on a snapshot with a named recipe; registers a model version."""
    _reexec_with_malloc_settings()
    from training.recipes import recipe as make_recipe
    from training.sft import run_sft

    ensure_schema()
    config, lora = make_recipe(
        recipe,
        max_minutes=minutes,
        epochs=epochs,
        lr=lr,
        effective_batch=effective_batch,
        micro_batch=micro_batch,
        max_steps=max_steps,
        max_len=max_len,
        ckpt_every=ckpt_every,
        seed=seed,
        lora_r=lora_r,
        lora_alpha=lora_alpha,
    )
    with _progress_bar() as bars:
        bar = bars.add_task("sft", total=None, loss=float("nan"))
        version = run_sft(
            dataset,
            base,
            config,
            lora,
            name=name,
            parent=parent,
            out_dir=out,
            progress=lambda s, t, loss: bars.update(bar, completed=s, total=t, loss=loss),
        )
    _print_version(version)


@train_app.command("policy")
def train_policy_command(
    dataset: str = typer.Option(
        ..., help="Snapshot of recorded demonstrations of one task on one robot."
    ),
    name: str = typer.Option(None, help="Model version name (default: <dataset>-policy)."),
    minutes: float = typer.Option(30.0, help="Training-time budget; the schedule fits into it."),
    max_iterations: int = typer.Option(30_000, help="Iterations at most (the baseline's)."),
    batch_size: int = typer.Option(256, help="Windows per iteration."),
    demos: int = typer.Option(None, help="Use only the first N successful demonstrations."),
    relative: bool = typer.Option(
        True, "--relative/--absolute", help="Arm targets as offsets from the measured joints."
    ),
    seed: int = typer.Option(0, help="Seed."),
) -> None:
    """Diffusion Policy (state) on recorded demonstrations; evaluate it with
    `blazer eval --model policy:NAME`. Rerun with the same name to resume."""
    from training.policy import PolicyTraining, train_policy

    ensure_schema()
    spec = PolicyTraining(
        minutes=minutes,
        max_iterations=max_iterations,
        batch_size=batch_size,
        relative=relative,
        seed=seed,
    )
    with _progress_bar() as bars:
        bar = bars.add_task("policy", total=None, loss=float("nan"))
        version = train_policy(
            dataset,
            name or f"{dataset}-policy",
            spec,
            progress=lambda i, n, loss: bars.update(bar, completed=i, total=n, loss=loss),
            demo_limit=demos,
        )
    with session_scope() as session:
        v = session.scalars(select(ModelVersion).where(ModelVersion.name == version)).one()
        typer.echo(
            f"registered policy {v.name!r}: {v.adapter_path}, trained {json.dumps(v.metrics['train'])}"
        )


@train_app.command("dpo")
def train_dpo(
    dataset: str = typer.Option(..., help="Dataset snapshot built with --all-outcomes."),
    base: str = typer.Option("smollm2-135m", help="Base model."),
    init_adapter: Path = typer.Option(
        None, help="Start from this LoRA adapter (e.g. an SFT result).", resolve_path=True
    ),
    name: str = typer.Option(None, help="Model version name (default: <dataset>-dpo)."),
    parent: str = typer.Option(None, help="Parent model version."),
    out: Path = typer.Option(None, help="Run folder; rerun to resume.", resolve_path=True),
    beta: float = typer.Option(DPO_DEFAULTS.extra["beta"], help="DPO beta."),
    epochs: int = typer.Option(DPO_DEFAULTS.epochs, help="Epochs."),
    lr: float = typer.Option(DPO_DEFAULTS.lr, help="Peak learning rate."),
    effective_batch: int = EFF,
    micro_batch: int = typer.Option(DPO_DEFAULTS.micro_batch, help="Pairs per forward pass."),
    max_steps: int = MAX_STEPS,
    max_len: int = MAX_LEN,
    ckpt_every: int = CKPT,
    lora_r: int = RANK,
    lora_alpha: int = ALPHA,
    seed: int = SEED,
) -> None:
    """DPO on (success, failure) pairs of the same scene; registers a model version."""
    _reexec_with_malloc_settings()
    from training.dpo import run_dpo

    ensure_schema()
    config = _config(
        epochs, lr, effective_batch, micro_batch, max_steps, max_len, ckpt_every, seed, beta=beta
    )
    with _progress_bar() as bars:
        bar = bars.add_task("dpo", total=None, loss=float("nan"))
        version = run_dpo(
            dataset,
            base,
            config,
            LoraSettings(r=lora_r, alpha=lora_alpha),
            name=name,
            init_adapter=init_adapter,
            parent=parent,
            out_dir=out,
            progress=lambda s, t, loss: bars.update(bar, completed=s, total=t, loss=loss),
        )
    _print_version(version)


def _print_version(name: str) -> None:
    with session_scope() as session:
        v = session.scalars(select(ModelVersion).where(ModelVersion.name == name)).one()
        typer.echo(
            f"registered model version {v.name!r}: adapter {v.adapter_path}, metrics {json.dumps(v.metrics)}"
        )


def evaluate_command(
    model: list[str] = typer.Option(
        ...,
        "--model",
        help="Model(s): expert, smollm2-135m, a version name, a folder, policy:<version>.",
    ),
    tasks: str = typer.Option(
        "PickCube-v1,PushCube-v1,PullCube-v1,StackCube-v1,PlaceSphere-v1,LiftPegUpright-v1",
        help="Comma-separated tasks.",
    ),
    episodes: int = typer.Option(
        100, help="Episodes per task and model: the first N evaluation seeds."
    ),
    seeds: str = typer.Option(None, help="Evaluation seeds A-B (inclusive) instead of --episodes."),
    max_new_tokens: int = typer.Option(384, help="Token limit for LLM teachers."),
    out: Path = typer.Option(None, help="Folder for table.csv and table.png.", resolve_path=True),
    scene: str = typer.Option(
        "true",
        help="true, or perceived[:blocks|oracle|sam]: each model also on the scene three simulated RGB-D cameras see (true vs perceived side by side).",
    ),
    engine: str = typer.Option(
        "hf",
        help="hf (transformers, full precision) or llamacpp (Q4_1 base + GGUF LoRA, ~3.7x faster on a CPU).",
    ),
    name: str = typer.Option(
        None,
        help="Campaigns named NAME-<model> (default: eval-<model>-<time>): a rerun resumes an interrupted evaluation.",
    ),
) -> None:
    """Evaluate models on held-out seeds: the paper's Table I (tasks x models), CSV and PNG."""
    from scheduler.spec import CampaignSpec
    from training.evaluate import evaluate, parse_eval_seeds, save_table, side_by_side

    seed_range = parse_eval_seeds(seeds) if seeds else None
    task_list = tasks.split(",")
    CampaignSpec.from_dict(
        {"name": "check", "tasks": task_list, "scene": scene}
    )  # bad flags fail first
    ensure_writable_schema()
    scenes = ["true"] if scene == "true" else ["true", scene]
    tables = {
        s: evaluate(
            list(model),
            task_list,
            episodes,
            seeds=seed_range,
            max_new_tokens=max_new_tokens,
            scene=s,
            engine=engine,
            name_prefix=name,
        )
        for s in scenes
    }
    table = tables["true"] if len(tables) == 1 else side_by_side(tables)
    print_table(table)
    csv_path, png_path = save_table(table, out)
    typer.echo(f"saved {csv_path} and {png_path}")


def print_table(table) -> None:
    """Table I on the terminal: success % [95% Wilson interval] per task and model."""
    seeds = f" (seeds {table.seeds.start}-{table.seeds.stop - 1})" if table.seeds else ""
    from rich.markup import escape  # column names carry [scene]

    rich_table = Table(
        *map(escape, table.rows()[0]), title=escape(f"success % [95% interval]{seeds}")
    )
    for row in table.rows()[1:]:
        rich_table.add_row(*map(escape, row))
    Console(width=200).print(rich_table)


@models_app.command("list")
def models_list() -> None:
    """Registered model versions."""
    ensure_schema()
    table = Table("id", "name", "base", "dataset", "parent", "promoted", "eval avg")
    with session_scope() as session:
        for v in session.scalars(select(ModelVersion).order_by(ModelVersion.id)):
            avg = (v.metrics or {}).get("eval", {}).get("average")
            table.add_row(
                str(v.id),
                v.name,
                v.base_model,
                str(v.dataset_id),
                str(v.parent_id or ""),
                "yes" if v.promoted else "",
                "" if avg is None else f"{100 * avg:.1f}%",
            )
    Console(width=160).print(table)


@models_app.command("show")
def models_show(name: str) -> None:
    """One version as JSON: lineage, adapter, hyperparameters, metrics."""
    from models.registry import get_model_version

    ensure_schema()
    with session_scope() as session:
        v = get_model_version(session, name)
        typer.echo(
            json.dumps(
                {c.name: getattr(v, c.name) for c in ModelVersion.__table__.columns},
                indent=2,
                default=str,
            )
        )


@models_app.command("promote")
def models_promote(name: str) -> None:
    """Mark a version as the promoted one of its lineage (the default teacher to deploy)."""
    from models.registry import promote

    ensure_schema()
    with session_scope() as session:
        v = promote(session, name)
        typer.echo(f"promoted {name!r} (lineage {v.lineage})")


@models_app.command("lineage")
def models_lineage(
    name: str,
    out: Path = typer.Option(
        None, help="Folder for lineage.csv and lineage.png.", resolve_path=True
    ),
) -> None:
    """A bootstrap lineage round by round: data, steps, minutes, the teacher's rate on its
    training scenes, validation and held-out success per task (95% intervals), promotion."""
    from models.names import check_name
    from training.lineage import lineage_rounds, lineage_table, save_lineage

    check_name("lineage", name)
    ensure_schema()
    with session_scope() as session:
        rounds = lineage_rounds(session, name)
    rows = lineage_table(rounds)
    table = Table(*rows[0])
    for row in rows[1:]:
        table.add_row(*row)
    Console(width=220).print(table)
    csv_path, png_path = save_lineage(rounds, out or get_settings().data_dir / "lineages" / name)
    typer.echo(f"wrote {csv_path} and {png_path}")
