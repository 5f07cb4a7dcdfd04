"""``blazer tasks list``: the task registry (group, robots, description template)."""

from __future__ import annotations

import json

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_tasks(
    group: str = typer.Option(None, help="Only this group: train or unseen."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every task: its group (``unseen`` ones are kept out of training snapshots), the robots
    it runs on, and its instruction ({...} marks words drawn per episode)."""
    from manip.sim.tasks import GROUPS, ROBOTS, TASKS
    from models.errors import ConfigError

    if group is not None and group not in set(GROUPS.values()):
        raise ConfigError(f"unknown group {group!r}; groups: train, unseen")
    rows = [
        {
            "id": task,
            "group": GROUPS[task],
            "robots": list(ROBOTS[task]),
            "description": record.description,
        }
        for task, record in TASKS.items()
        if group in (None, GROUPS[task])
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "group", "robots", "description")
    for r in rows:
        table.add_row(str(r["id"]), str(r["group"]), ", ".join(r["robots"]), str(r["description"]))
    Console().print(table)
