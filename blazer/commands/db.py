"""``blazer db``: schema management."""

from __future__ import annotations

import typer

from models import db as database

app = typer.Typer(no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Build or upgrade the schema (Alembic) on the configured database."""
    database.upgrade(revision=revision)
    typer.echo(f"database at {database.redact(database.database_url())} is at {revision}")


@app.command("downgrade")
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base.")) -> None:
    """Downgrade the schema (drops data of removed tables)."""
    database.downgrade(revision=revision)
    typer.echo(f"database downgraded to {revision}")


@app.command("current")
def current() -> None:
    """Print the schema revision the database is at and the one this blazer needs."""
    engine = database.get_engine()
    typer.echo(f"current: {database.current_revision(engine)}  head: {database.head_revision()}")


@app.command("vacuum")
def vacuum(
    full: bool = typer.Option(False, help="Rewrite the tables (PostgreSQL: locks them)."),
) -> None:
    """Reclaim the space of deleted rows and refresh the planner's statistics (after a
    `campaign delete`). PostgreSQL's autovacuum does this in time; SQLite has none."""
    from models.upkeep import vacuum as run_vacuum

    seconds = run_vacuum(full=full)
    typer.echo(f"vacuumed {database.redact(database.database_url())} in {seconds:.1f} s")
