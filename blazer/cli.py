"""The ``blazer`` console script: one entry point for every command group."""

from __future__ import annotations

import logging
import sys

import typer

from blazer.commands import campaign, db, episodes, experiment, plan, robot, sim, training, worker
from models.errors import BlazerError
from models.settings import get_settings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="blazer: simulator-verified manipulation data from LLM teachers, and the models it trains.",
)
app.add_typer(db.app, name="db", help="Create or upgrade the episode database schema.")
app.add_typer(episodes.app, name="episodes", help="Query recorded episodes.")
app.add_typer(campaign.app, name="campaign", help="Create, run and control generation campaigns.")
app.add_typer(sim.app, name="sim", help="Run single episodes in the simulator.")
app.add_typer(plan.app, name="plan", help="Check completions against the plan language.")
app.add_typer(training.dataset_app, name="dataset", help="Build and export dataset snapshots.")
app.add_typer(training.train_app, name="train", help="Fine-tune models (LoRA SFT, DPO).")
app.add_typer(training.models_app, name="models", help="The model registry.")
app.add_typer(robot.app, name="robot", help="Deploy a model on the arm or its simulated stand-in.")
app.command("eval")(training.evaluate_command)
app.command("experiment")(experiment.experiment)
app.command("stats")(episodes.stats)
app.command("demo")(campaign.demo)
app.command("scheduler")(campaign.scheduler)
app.command("worker")(worker.worker)

_state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _state["debug"] = debug
    logging.basicConfig(
        level=get_settings().log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


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


if __name__ == "__main__":
    main()
