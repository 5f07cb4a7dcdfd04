"""The Typer application behind the ``blazer`` console script (``blazer.cli``): every
command group.

A command's module is imported when that command runs, not when the script starts: the
command table below holds each one's place and one-line help, so ``blazer --help`` and
``blazer stats`` start without the ORM, alembic, Celery, torch or ManiSkill that other
commands need (measured with ``python -X importtime -m blazer.cli stats``).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from models.errors import BlazerError

# name -> (module, attribute, help). The attribute is a Typer app (a command group) or a
# command function.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "db": ("blazer.commands.db", "app", "Create or upgrade the episode database schema."),
    "episodes": ("blazer.commands.episodes", "app", "Query recorded episodes."),
    "campaign": (
        "blazer.commands.campaign",
        "app",
        "Create, run and control generation campaigns.",
    ),
    "sim": ("blazer.commands.sim", "app", "Run single episodes in the simulator."),
    "artifacts": (
        "blazer.commands.artifacts",
        "app",
        "Check recorded trajectories against their rows; remove orphan shards.",
    ),
    "plan": ("blazer.commands.plan", "app", "Check completions against the plan language."),
    "tasks": (
        "blazer.commands.tasks",
        "app",
        "The task registry: groups (train, unseen), robots, descriptions.",
    ),
    "dataset": ("blazer.commands.training", "dataset_app", "Build and export dataset snapshots."),
    "train": ("blazer.commands.training", "train_app", "Fine-tune models (LoRA SFT, DPO)."),
    "models": ("blazer.commands.training", "models_app", "The model registry."),
    "robot": (
        "blazer.commands.robot",
        "app",
        "Deploy a model on the arm or its simulated stand-in.",
    ),
    "eval": ("blazer.commands.training", "evaluate_command", "Evaluate a model on held-out seeds."),
    "experiment": (
        "blazer.commands.experiment",
        "experiment",
        "The BLAZER loop in one command: data, training, evaluation.",
    ),
    "stats": (
        "blazer.commands.stats",
        "stats",
        "Attempts, successes, success rate (95% CI) and failure reasons.",
    ),
    "demo": (
        "blazer.commands.campaign",
        "demo",
        "A small campaign on the embedded default (SQLite, in-process).",
    ),
    "scheduler": (
        "blazer.commands.campaign",
        "scheduler",
        "Run the scheduler: plan seed blocks and publish them.",
    ),
    "worker": ("blazer.commands.worker", "worker", "Start a Celery worker on the rollout queue."),
    "ui": ("blazer.commands.ui", "ui", "Serve the web console (campaigns, episodes, videos)."),
}


class LazyGroup(TyperGroup):
    """Commands from COMMANDS, each built from its module on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in COMMANDS:
            return None
        module, attribute, short_help = COMMANDS[name]
        target = getattr(importlib.import_module(module), attribute)
        command: Any  # a click command of the click typer carries
        if isinstance(target, typer.Typer):  # a group, even of one command (`plan check`)
            command = typer.main.get_group(target)
        else:
            app = typer.Typer(add_completion=False)
            app.command(name)(target)
            command = typer.main.get_command(app)
        command.name = name
        command.short_help = short_help
        if isinstance(command, TyperGroup):
            command.no_args_is_help = True
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Plain help: rich's would build every command to list them."""
        super(TyperGroup, self).format_help(ctx, formatter)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list from the table, no command built."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, _, text) in COMMANDS.items()])


app = typer.Typer(
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="blazer: simulator-verified manipulation data from LLM teachers, and the models it trains.",
)

_state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", help="Full tracebacks on errors, and every library's log lines."
    ),
) -> None:
    import os

    from models.settings import configure_logging, get_settings

    _state["debug"] = debug
    if debug:  # the simulator child reads it too: ManiSkill's own warnings come back
        os.environ["BLAZER_LOG_LEVEL"] = "DEBUG"
        get_settings.cache_clear()
    configure_logging()


def main() -> None:
    try:
        app()
    except BlazerError as exc:
        if _state["debug"]:
            raise
        typer.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        sys.exit(130)
