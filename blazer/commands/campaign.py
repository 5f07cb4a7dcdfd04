"""``blazer campaign ...``, ``blazer scheduler`` and ``blazer demo``."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import select

from blazer.commands.stats import print_stats
from models.db import ensure_schema, ensure_writable_schema, session_scope
from models.errors import ConfigError
from models.settings import get_settings
from models.stats import episode_stats
from models.types import CampaignState
from scheduler import campaigns
from scheduler.runner import run_campaign
from scheduler.spec import CampaignSpec
from training.triggers import run_training

app = typer.Typer(no_args_is_help=True)
log = logging.getLogger(__name__)


def _spec_from(
    spec: Path | None, name, tasks, robots, teacher, successes, block_size
) -> CampaignSpec:
    if spec is not None:
        loaded = CampaignSpec.load(spec)
        if name:
            loaded.name = name
        return loaded
    if not name or not tasks:
        raise ConfigError("give a SPEC file, or --name and --tasks")
    return CampaignSpec.from_dict(
        {
            "name": name,
            "tasks": tasks.split(","),
            "robots": robots.split(","),
            "teacher": {"kind": teacher},
            "successes": successes,
            "block_size": block_size,
        },
        source="flags",
    )


SPEC_ARG = typer.Argument(None, help="Campaign spec YAML (or use the flags).", resolve_path=True)
NAME_OPT = typer.Option(None, "--name", help="Campaign name (overrides the spec's).")
TASKS_OPT = typer.Option(None, help="Comma-separated task ids.")
ROBOTS_OPT = typer.Option("panda", help="Comma-separated robot uids.")
TEACHER_OPT = typer.Option("expert", help="Teacher kind.")
N_OPT = typer.Option(10, "--successes", "-n", help="Successes wanted per task x robot.")
BLOCK_OPT = typer.Option(8, help="Seeds per job.")


@app.command("create")
def create(
    spec: Path = SPEC_ARG,
    name: str = NAME_OPT,
    tasks: str = TASKS_OPT,
    robots: str = ROBOTS_OPT,
    teacher: str = TEACHER_OPT,
    successes: int = N_OPT,
    block_size: int = BLOCK_OPT,
) -> None:
    """Validate a spec and record the campaign (the scheduler then runs it)."""
    parsed = _spec_from(spec, name, tasks, robots, teacher, successes, block_size)
    ensure_writable_schema()
    with session_scope() as session:
        campaign = campaigns.create_campaign(session, parsed)
        typer.echo(
            f"created campaign {campaign.name!r} (id {campaign.id}): "
            f"{len(parsed.tasks) * len(parsed.robots)} task lines x {parsed.successes} successes"
        )


@app.command("run")
def run(
    spec: Path = SPEC_ARG,
    name: str = NAME_OPT,
    tasks: str = TASKS_OPT,
    robots: str = ROBOTS_OPT,
    teacher: str = TEACHER_OPT,
    successes: int = N_OPT,
    block_size: int = BLOCK_OPT,
) -> None:
    """Create (or resume) a campaign and run it to completion with live progress."""
    parsed = _spec_from(spec, name, tasks, robots, teacher, successes, block_size)
    ensure_writable_schema()
    with session_scope() as session:
        try:
            campaigns.create_campaign(session, parsed)
        except ConfigError:
            campaign = campaigns.get_campaign(session, parsed.name)
            if campaign.state == CampaignState.PAUSED.value:
                campaigns.set_state(session, parsed.name, CampaignState.ACTIVE)
            typer.echo(f"resuming campaign {parsed.name!r} ({campaign.state})")
    current: str | None = parsed.name
    while current is not None:  # a bootstrap lineage: round after round
        final = run_with_progress(current)
        with session_scope() as session:
            print_stats(episode_stats(session, current))
            error = campaigns.get_campaign(session, current).error
        typer.echo(f"campaign {current!r}: {final}" + (f" ({error})" if error else ""))
        if final == CampaignState.FAILED.value:
            raise typer.Exit(1)
        current = next_round(current) if parsed.bootstrap else None


def next_round(campaign: str) -> str | None:
    """The campaign of the lineage's next round once this round's training run has ended
    (waiting for a ``train`` worker when a broker is configured); None when the lineage
    stops here (rounds done, or the candidate was not promoted)."""
    from models.orm import Campaign, TrainingRun
    from models.types import TrainingRunState

    ended = (TrainingRunState.DONE.value, TrainingRunState.FAILED.value)
    while True:
        with session_scope() as session:
            run = session.scalars(
                select(TrainingRun)
                .join(Campaign, Campaign.id == TrainingRun.campaign_id)
                .where(Campaign.name == campaign, TrainingRun.kind == "bootstrap")
            ).first()
            state, metrics, error = (run.state, run.metrics, run.error) if run else (None, {}, None)
        if state in ended:
            break
        time.sleep(2.0)  # the train worker is at it (or the scheduler has yet to hand it out)
    if state == TrainingRunState.FAILED.value:
        raise ConfigError(f"bootstrap round of {campaign} failed: {error}")
    nxt = (metrics or {}).get("next_campaign")
    typer.echo(
        f"round {metrics.get('round')}: {metrics.get('version')} "
        f"{'promoted' if metrics.get('promoted') else 'not promoted'}"
        + (f"; next round {nxt}" if nxt else "; the lineage stops here")
    )
    return nxt


def run_with_progress(name: str) -> str:
    """Run a campaign here (embedded) or drive the scheduler (broker), drawing progress bars."""
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.completed:>5.0f}/{task.total:<5.0f}"),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bars:
        rows: dict[str, TaskID] = {}
        started = time.monotonic()

        def refresh() -> None:
            with session_scope() as session:
                lines = campaigns.progress(session, campaigns.get_campaign(session, name))
            elapsed = max(time.monotonic() - started, 1e-6)
            for p in lines:
                key = f"{p.task}/{p.robot}"
                if key not in rows:
                    rows[key] = bars.add_task(key, total=p.target, info="")
                info = f"{p.attempts} att  {100 * p.rate:5.1f}%  {p.attempts / elapsed:5.2f} ep/s"
                bars.update(rows[key], completed=p.successes, info=info)

        refresh()
        state = run_campaign(name, on_progress=refresh, retrain=run_training)
        refresh()
    return state


@app.command("status")
def status(name: str, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Per-task progress and job counts of a campaign."""
    ensure_schema()
    with session_scope() as session:
        data = campaigns.status(session, name)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(
        f"campaign {data['name']}: {data['state']}  teacher {data['teacher']}  jobs {data['jobs']}"
    )
    table = Table("task", "robot", "successes", "attempts", "rate", "95% CI", "open jobs")
    for t in data["tasks"]:
        table.add_row(
            t["task"],
            t["robot"],
            f"{t['successes']}/{t['target']}",
            f"{t['attempts']}/{t['attempt_cap']}",
            f"{100 * t['success_rate']:.1f}%",
            f"{100 * t['ci95'][0]:.1f}-{100 * t['ci95'][1]:.1f}%",
            str(t["open_jobs"]),
        )
    Console().print(table)
    if data["error"]:
        typer.echo(f"failed: {data['error']}")
    for j in data["failed_jobs"]:
        typer.echo(
            f"failed job {j['job']} ({j['task']}/{j['robot']}, seeds from {j['seed_start']}): {j['error']}"
        )


def _set_state(name: str, state: CampaignState) -> None:
    ensure_schema()
    with session_scope() as session:
        campaigns.set_state(session, name, state)
    typer.echo(f"campaign {name!r} is {state.value}")


@app.command("pause")
def pause(name: str) -> None:
    """Stop issuing work; running jobs hand back their remaining seeds."""
    _set_state(name, CampaignState.PAUSED)


@app.command("resume")
def resume(name: str) -> None:
    """Continue a paused campaign."""
    _set_state(name, CampaignState.ACTIVE)


@app.command("cancel")
def cancel(name: str) -> None:
    """Cancel a campaign: open jobs are cancelled, recorded episodes stay."""
    _set_state(name, CampaignState.CANCELLED)


@app.command("delete")
def delete(
    name: str,
    keep_datasets: bool = typer.Option(
        False, "--keep-datasets", help="Keep the episodes (and shards) snapshots hold."
    ),
    yes: bool = typer.Option(False, "--yes", help="Delete (without it: say what would go)."),
) -> None:
    """Remove a finished or cancelled campaign: its jobs, episodes and artifact shards, in one
    transaction (a kill leaves all or nothing); a snapshot holding its episodes blocks it."""
    from models.artifacts import ArtifactStore

    ensure_writable_schema()
    with session_scope() as session:
        report = campaigns.delete_campaign(
            session, name, keep_datasets=keep_datasets, dry_run=not yes
        )
    what = (
        f"{report.episodes} episode(s), {report.jobs} job(s) and {len(report.shards)} shard(s)"
        f" of campaign {name!r}"
        + (f"; {report.kept} episode(s) kept for snapshots" if report.kept else "")
    )
    if not yes:
        typer.echo(f"would delete {what}; run again with --yes")
        raise typer.Exit(1)
    store, failed = ArtifactStore(get_settings().resolved_artifacts_url()), []
    for uri in report.shards:
        try:
            store.remove(uri)
        except FileNotFoundError:
            pass
        except OSError as exc:
            failed.append(f"{uri}: {exc}")
    typer.echo(f"deleted {what}")
    if failed:
        typer.echo(
            f"{len(failed)} shard(s) could not be removed (`blazer artifacts check --repair` "
            f"removes orphans): {failed[0]}",
            err=True,
        )


@app.command("list")
def list_() -> None:
    """All campaigns with their state."""
    ensure_schema()
    with session_scope() as session:
        rows = campaigns.list_campaigns(session)
        table = Table("id", "name", "state", "teacher", "priority", "created", "note")
        for c in rows:
            table.add_row(
                str(c.id),
                c.name,
                c.state,
                c.teacher,
                str(c.priority),
                c.created_at.strftime("%Y-%m-%d %H:%M"),
                (c.error or "")[:60],
            )
    Console().print(table)


def scheduler(
    campaign: str = typer.Option(None, help="Only this campaign (default: all active)."),
    once: bool = typer.Option(False, help="Run one tick and exit."),
) -> None:
    """Run the scheduler: plan seed blocks and publish them to the rollout queue."""
    if not get_settings().broker_url:
        raise ConfigError(
            "`blazer scheduler` needs BLAZER_BROKER_URL; without one, use `blazer campaign run`"
        )
    ensure_schema()
    from scheduler.loop import Scheduler
    from scheduler.publishers import CeleryPublisher

    # a long-running service: what it does (top-ups, publishes, recoveries, completions) is
    # shown at INFO even when the rest of blazer logs warnings only
    logging.getLogger("scheduler").setLevel(min(logging.INFO, logging.getLogger().level))
    sched = Scheduler(CeleryPublisher(), campaign=campaign)
    if once:
        typer.echo("ticked" if sched.tick() else "another scheduler holds the lease")
        sched.release_lease()
        return
    sched.run()


DEMO_SPEC = Path(__file__).resolve().parents[2] / "examples" / "demo.yaml"


def demo(
    name: str = typer.Option(None, help="Campaign name (default: demo-<time>)."),
    successes: int = typer.Option(10, "--successes", "-n", help="Successes per task."),
) -> None:
    """A small campaign on the embedded default: 3 tasks x 10 successes, scripted expert."""
    spec = CampaignSpec.load(DEMO_SPEC) if DEMO_SPEC.exists() else None
    data: dict[str, Any] = (
        spec.to_json() if spec else {"tasks": ["PickCube-v1", "PushCube-v1", "StackCube-v1"]}
    )
    data.update(
        name=name or time.strftime("demo-%Y%m%d-%H%M%S"), successes=successes, attempt_cap=None
    )
    run(
        None,
        data["name"],
        ",".join(data["tasks"]),
        "panda",
        "expert",
        successes,
        data.get("block_size", 4),
    )
