"""Reads through the DBAPI driver for commands that must start fast: no Typer, no
SQLAlchemy. Each returns None where the full path must answer (SQLite hands back JSON and
times as text; an unreachable server or another schema; a missing row), and the full path
owns the error messages."""

from __future__ import annotations

import json

from models.types import episode_columns

FULL_COLUMNS = episode_columns(full=True)


def fast_rows(sql: str, params: tuple) -> list[tuple] | None:
    """``sql`` (``{p}`` marks each parameter) on PostgreSQL; None elsewhere."""
    from models.dbapi import fetch_at_head
    from models.settings import get_settings

    url = get_settings().resolved_database_url()
    return fetch_at_head(url, sql, params) if url.startswith("postgresql") else None


def episode_json(episode_id: int) -> str | None:
    """``episodes show``'s output for one episode: every field, as JSON (model text as
    stored: JSON escapes control characters)."""
    rows = fast_rows(
        f"SELECT {', '.join(FULL_COLUMNS)} FROM episodes WHERE id = {{p}}", (episode_id,)
    )
    if not rows:
        return None
    return show_text(dict(zip(FULL_COLUMNS, rows[0], strict=True)))


def show_text(row: dict) -> str:
    return json.dumps(row, default=str, indent=2, ensure_ascii=True)
