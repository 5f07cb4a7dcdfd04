"""``blazer artifacts check [--repair]``: the artifact root against the episode rows."""

from __future__ import annotations

import json

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("check")
def check(
    repair: bool = typer.Option(False, "--repair", help="Remove orphan shards (older than 1 h)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every row's shard exists and verifies against its checksum; every shard is referenced.
    Exits 1 when something is missing, corrupt or (without --repair) orphaned."""
    from models.artifact_check import check_artifacts
    from models.artifacts import ArtifactStore
    from models.db import ensure_schema, session_scope
    from models.settings import get_settings

    ensure_schema()
    store = ArtifactStore(get_settings().resolved_artifacts_url())
    with session_scope() as session:
        report = check_artifacts(session, store, repair=repair)
    if as_json:
        typer.echo(json.dumps(report.__dict__ | {"ok": report.ok}, indent=2))
    else:
        typer.echo(f"{report.rows} episode rows with trajectories, {report.shards} shards")
        for eid, uri in report.missing:
            typer.echo(f"missing: episode {eid}: {uri}")
        for eid, uri, why in report.corrupt:
            typer.echo(f"corrupt: episode {eid}: {uri} ({why})")
        for uri in report.orphans:
            typer.echo(("removed orphan: " if uri in report.removed else "orphan: ") + uri)
        for uri in report.recent:
            typer.echo(f"unreferenced but recent (a job may still be recording it): {uri}")
        typer.echo("ok" if report.ok else "problems found")
    if not report.ok:
        raise typer.Exit(1)
