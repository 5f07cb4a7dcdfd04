"""``blazer stats``: the campaign summary, fast at any number of episodes.

The query goes through the DBAPI driver (models.dbapi), without SQLAlchemy, so the whole
process answers in under 300 ms; anything unusual takes the full path through models.db.
rich is imported for the table only.
"""

from __future__ import annotations

import json

import typer


def stats(
    campaign: str = typer.Option(None, help="Only this campaign."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    storage: bool = typer.Option(False, "--storage", help="Table sizes instead (rows, bytes)."),
) -> None:
    """Attempts, successes, success rate (95% Wilson interval) and failure reasons."""
    if storage:
        print_storage(as_json)
        return
    from models.settings import get_settings
    from models.stats import episode_stats, episode_stats_fast

    rows = episode_stats_fast(get_settings().resolved_database_url(), campaign)
    if rows is None:  # no schema, an old one, a server away: the full path says which
        from models.db import ensure_schema

        with ensure_schema().connect() as conn:
            rows = episode_stats(conn, campaign)
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in rows], indent=2))
        return
    print_stats(rows)


def print_stats(rows) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        "campaign",
        "task",
        "robot",
        "teacher",
        "attempts",
        "successes",
        "surplus",
        "rate",
        "95% CI",
        "failures",
    )
    for r in rows:
        low, high = r.interval
        fails = ", ".join(f"{k}={v}" for k, v in sorted(r.failures.items()))
        table.add_row(
            r.campaign,
            r.task,
            r.robot,
            r.teacher,
            str(r.attempts),
            str(r.successes),
            str(r.surplus),
            f"{100 * r.rate:.1f}%",
            f"{100 * low:.1f}-{100 * high:.1f}%",
            fails,
        )
    Console(width=160).print(table)


def print_storage(as_json: bool) -> None:
    """Each table's rows and bytes (indexes included), and bytes per episode."""
    from models.db import ensure_schema, session_scope
    from models.upkeep import table_sizes

    ensure_schema()
    with session_scope() as session:
        sizes = table_sizes(session)
    episodes = next((n for name, n, _ in sizes if name == "episodes"), 0)
    total = sum(size for _, _, size in sizes)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "tables": [{"table": t, "rows": n, "bytes": b} for t, n, b in sizes],
                    "total_bytes": total,
                    "bytes_per_episode": round(total / episodes, 1) if episodes else None,
                },
                indent=2,
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("table", "rows", "MB")
    for name, n, size in sizes:
        table.add_row(name, f"{n:,}", f"{size / 1e6:,.1f}")
    Console().print(table)
    per = f", {total / episodes:,.0f} bytes per episode" if episodes else ""
    typer.echo(f"total {total / 1e6:,.1f} MB{per}")
