"""``blazer plan check``: parse one completion file against the plan language."""

from __future__ import annotations

from pathlib import Path

import typer

from blazer.commands.text import printable
from manip.plan_language import PlanError, check_plan, check_workspace, parse_plan
from manip.sim.robots import default_workspace
from models.errors import ConfigError

app = typer.Typer(no_args_is_help=True)


@app.command("check")
def check(
    file: Path = typer.Argument(..., help="A completion (teacher output) file.", resolve_path=True),
    task: str = typer.Option(None, help="Also check against this task's scene..."),
    seed: int = typer.Option(0, help="...reset with this seed."),
    robot: str = typer.Option("panda", help="Robot for the scene."),
) -> None:
    """Print the parsed steps, or the refusal reason. Exit 0 if safe, 1 if refused."""
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}") from None
    try:
        steps = parse_plan(text)
        if task is None:  # no scene: the robot's reach still bounds every target
            check_workspace(steps, *default_workspace(robot))
        else:
            from manip.sim import make_simulator

            sim = make_simulator("maniskill")
            try:
                check_plan(steps, sim.reset(task, robot, seed))
            finally:
                sim.close()
    except PlanError as exc:
        typer.echo(f"refused ({exc.reason.value}): {printable(exc.message)}")
        raise typer.Exit(1) from None
    for step in steps:
        typer.echo(f"line {step.line:>3}: {step}")
    typer.echo(f"ok: {len(steps)} steps")
