"""``blazer episodes query/show/replay/rerun``.

``query`` and ``show`` import neither SQLAlchemy nor rich up front: with ``--limit`` on
PostgreSQL they read through the DBAPI driver (models.dbapi), so a page of the newest
episodes answers in under 300 ms as a whole process at ten million rows
(benchmarks/bench_db_scale.py); everything else takes the full path through models.db.
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from blazer.commands.fast_reads import FULL_COLUMNS, episode_json, fast_rows, show_text
from blazer.commands.text import for_rich, printable
from models.episode_filter import EpisodeFilter
from models.errors import ConfigError
from models.types import FailureReason, episode_columns

EPISODE_COLUMNS = episode_columns(full=False)

app = typer.Typer(no_args_is_help=True)


class Format(str, Enum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


@app.command("query")
def query(
    campaign: str = typer.Option(None, help="Campaign name."),
    task: str = typer.Option(None, help="Task id, e.g. PickCube-v1."),
    robot: str = typer.Option(None, help="Robot uid, e.g. panda."),
    teacher: str = typer.Option(None, help="Teacher name as recorded, e.g. expert."),
    success: bool = typer.Option(None, "--success/--failure", help="Only successes / failures."),
    reason: str = typer.Option(None, help="Failure reason, e.g. parse_error."),
    seed_min: int = typer.Option(None, help="Smallest seed."),
    seed_max: int = typer.Option(None, help="Largest seed."),
    since: datetime = typer.Option(None, help="Recorded at or after (ISO time)."),
    limit: int = typer.Option(None, help="At most this many rows."),
    newest: bool = typer.Option(False, "--newest", help="Newest first (default: oldest first)."),
    before: int = typer.Option(
        None, help="Only ids below this (the next page of --newest: its last id)."
    ),
    fmt: Format = typer.Option(Format.table, "--format", help="Output format."),
    full: bool = typer.Option(False, help="Include completion, plan, scene and timings."),
    columns: str = typer.Option(None, help="Comma-separated columns to show (table format)."),
) -> None:
    """Stream matching episodes (a million rows stream; nothing is loaded whole)."""
    if reason is not None and reason not in {r.value for r in FailureReason}:
        known = ", ".join(r.value for r in FailureReason)
        raise ConfigError(f"--reason {reason!r} is not a failure reason; known: {known}")
    for flag, value in (("--seed-min", seed_min), ("--seed-max", seed_max)):
        if value is not None and not 0 <= value <= MAX_SEED:
            raise ConfigError(f"{flag} must be a seed from 0 to {MAX_SEED}, got {value}")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {limit}")
    if before is not None and not newest:
        raise ConfigError("--before pages through --newest results; add --newest")
    names = FULL_COLUMNS if full else EPISODE_COLUMNS
    shown = _table_columns(columns, names) if fmt is Format.table else names
    flt = EpisodeFilter(
        campaign, task, robot, teacher, success, reason, seed_min, seed_max, since, limit
    )
    fast = _fast_page(flt, names, newest, before) if limit is not None else None
    if fast is not None:
        _print_rows(_Counted(iter(fast)), names, shown, fmt, newest, limit)
        return
    from models.db import ensure_schema, session_scope
    from models.queries import stream_episodes

    ensure_schema()
    with session_scope() as session:
        rows = _Counted(stream_episodes(session, flt, full=full, newest=newest, before=before))
        _print_rows(rows, names, shown, fmt, newest, limit)


def _fast_page(
    flt: EpisodeFilter, names: tuple[str, ...], newest: bool, before: int | None
) -> list[dict[str, Any]] | None:
    """One bounded page through the DBAPI driver on PostgreSQL; None: take the full path."""
    where, params = flt.where_sql()
    if before is not None:
        where += " AND id < {p}"
        params.append(before)
    sql = (
        f"SELECT {', '.join(names)} FROM episodes WHERE {where} "
        f"ORDER BY id {'DESC' if newest else 'ASC'} LIMIT {{p}}"
    )
    rows = fast_rows(sql, (*params, flt.limit))
    return None if rows is None else [dict(zip(names, r, strict=True)) for r in rows]


def _print_rows(rows, names, shown, fmt: Format, newest: bool, limit: int | None) -> None:
    last_id = None
    if fmt is Format.jsonl:
        for row in rows:
            last_id = row["id"]
            sys.stdout.write(json.dumps(row, default=str) + "\n")
    elif fmt is Format.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=names)
        writer.writeheader()
        for row in rows:
            last_id = row["id"]
            writer.writerow(
                {
                    k: json.dumps(v)
                    if isinstance(v, dict | list)
                    else printable(v)
                    if isinstance(v, str)
                    else v
                    for k, v in row.items()
                }
            )
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*shown)
        for row in rows:
            last_id = row["id"]
            table.add_row(*("" if row[n] is None else for_rich(str(row[n])) for n in shown))
        if rows.n:
            Console().print(table)
    # the count goes to stderr for machine formats, so their stdout stays parseable
    more = f"; next page: --newest --before {last_id}" if newest and rows.n == limit else ""
    typer.echo(f"{rows.n} episode{'' if rows.n == 1 else 's'}{more}", err=fmt is not Format.table)


@app.command("show")
def show(episode_id: int = typer.Argument(..., help="The episode's id.")) -> None:
    """One episode, every field, as JSON (model text as stored: JSON escapes control characters)."""
    text = episode_json(episode_id)  # blazer.cli answers this before Typer loads, where it can
    if text is None:
        from models.db import ensure_schema, session_scope
        from models.orm import Episode

        ensure_schema()
        with session_scope() as session:
            ep = session.get(Episode, episode_id)
            if ep is None:
                raise ConfigError(f"no episode {episode_id}")
            text = show_text({n: getattr(ep, n) for n in FULL_COLUMNS})
    typer.echo(text)


class _Counted:
    """Rows passed through, counted (a streamed query has no length up front)."""

    def __init__(self, rows) -> None:
        self.rows, self.n = rows, 0

    def __iter__(self):
        for row in self.rows:
            self.n += 1
            yield row


MAX_SEED = 2**63 - 1  # seeds are 64-bit integers in both databases
TABLE_COLUMNS = ("id", "campaign_id", "task", "seed", "attempt", "success", "failure_reason")


def _table_columns(columns: str | None, names: tuple[str, ...]) -> tuple[str, ...]:
    """``--columns`` checked against what the query returns; else the ones that fit 80 wide."""
    if not columns:
        return TABLE_COLUMNS if names == EPISODE_COLUMNS else names
    chosen = tuple(c.strip() for c in columns.split(",") if c.strip())
    unknown = [c for c in chosen if c not in names]
    if unknown or not chosen:
        raise ConfigError(
            f"--columns: unknown {', '.join(unknown) or '(none given)'}; known: {', '.join(names)}"
        )
    return chosen


@app.command("replay")
def replay(
    episode_id: int = typer.Argument(..., help="The episode's id (`blazer episodes query`)."),
    video: Path = typer.Option(
        None,
        "--video",
        help="Write the replay's cameras to this mp4.",
        resolve_path=True,  # against the caller's folder: the simulator child runs elsewhere
    ),
) -> None:
    """Re-run a recorded episode from its trajectory; say whether the outcome reproduces."""
    from manip.sim.replay import replay_episode
    from models.db import ensure_schema, session_scope
    from models.orm import Episode

    ensure_schema()
    with session_scope() as session:
        ep = session.get(Episode, episode_id)
        if ep is None:
            raise ConfigError(f"no episode {episode_id}")
        if ep.traj_uri is None:
            why = f" ({ep.traj_error})" if ep.traj_error else ""
            raise ConfigError(
                f"episode {episode_id} has no recorded trajectory{why}; "
                "record one with the campaign spec key record:"
            )
        uri, key, digest, success = ep.traj_uri, ep.traj_key, ep.traj_sha256, ep.success
    report = replay_episode(uri, key, digest, str(video) if video else None)
    verdict = "reproduced" if report.reproduced else "NOT reproduced"
    typer.echo(
        f"episode {episode_id}: {report.steps} steps; recorded "
        f"{'success' if report.recorded_success else 'failure'} (row: "
        f"{'success' if success else 'failure'}), replayed "
        f"{'success' if report.replayed_success else 'failure'}: {verdict}; "
        f"objects end within {report.max_object_drift_m * 1000:.1f} mm of the recording"
    )
    if report.video:
        typer.echo(f"video: {report.video}")
    if not report.reproduced:
        raise typer.Exit(1)


# episodes that reached the simulator: a success, or a failure the simulator decided
SIM_REASONS = tuple(
    r.value
    for r in (
        FailureReason.PLAN_UNREACHABLE,
        FailureReason.MOTION_FAILED,
        FailureReason.TASK_FAILED,
    )
)


@app.command("rerun")
def rerun_command(
    campaign: str = typer.Option(..., "--campaign", help="Re-run this campaign's episodes."),
    limit: int = typer.Option(None, help="At most this many (oldest first)."),
    shuffle: int = typer.Option(
        None, help="Re-run in a random order from this seed (a history unlike the recording's)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Re-execute stored episodes from their rows (task, robot, seed, plan) in a fresh
    simulator and report how many reproduce the recorded verdict and how far actors drift."""
    from sqlalchemy import select

    from manip.rerun import RerunSummary, StoredEpisode, rerun
    from manip.sim.base import SimConfig
    from manip.sim.isolated import IsolatedSimulator
    from models.db import ensure_schema, session_scope
    from models.orm import Campaign, Episode

    if limit is not None and limit < 1:
        raise ConfigError("--limit must be at least 1")
    ensure_schema()
    with session_scope() as session:
        cid = session.scalar(select(Campaign.id).where(Campaign.name == campaign))
        if cid is None:
            raise ConfigError(f"no campaign named {campaign!r}")
        stmt = (
            select(Episode)
            .where(Episode.campaign_id == cid, Episode.plan.is_not(None))
            .where(Episode.failure_reason.is_(None) | Episode.failure_reason.in_(SIM_REASONS))
            .order_by(Episode.id)
            .limit(limit)
        )
        stored = [
            StoredEpisode(e.id, e.task, e.robot, e.seed, e.plan, e.success, e.final_positions)
            for e in session.scalars(stmt)
        ]
    if shuffle is not None:
        import random

        random.Random(shuffle).shuffle(stored)
    summary = RerunSummary()
    sim = IsolatedSimulator(config=SimConfig.from_settings())
    try:
        for r in rerun(stored, sim):
            summary.add(r)
            if not r.reproduced and not as_json:
                typer.echo(
                    f"episode {r.id} ({r.task} seed {r.seed}): recorded "
                    f"{'success' if r.recorded_success else 'failure'}, re-run "
                    f"{'error' if r.success is None else 'success' if r.success else 'failure'}"
                    + (f", drift {1000 * r.drift_m:.2f} mm" if r.drift_m is not None else "")
                    + (f" ({r.detail})" if r.detail else "")
                )
    finally:
        sim.close()
    data = summary.to_json()
    if as_json:
        typer.echo(json.dumps(data))
        return
    typer.echo(
        f"{data['reproduced']}/{data['episodes']} reproduced ({100 * data['reproduced_rate']:.1f}%); "
        f"same verdict {data['same_verdict']}; drift median {data['drift_mm_median']} mm, "
        f"max {data['drift_mm_max']} mm over {data['with_final_positions']} episodes"
    )
