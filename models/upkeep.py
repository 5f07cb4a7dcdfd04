"""Planner statistics for the tables blazer grows, kept without autovacuum.

A PostgreSQL server may run without autovacuum (this one does), and blazer's tables grow
from empty to millions of rows inside one campaign. With statistics from when a table was
small, the planner's choices for the recorder's duplicate check and the scheduler's job
queries go wrong as it grows (the recording rate halved over 200k rows here). So the
processes that grow a table ANALYZE it themselves once it has about doubled since its last
ANALYZE: a handful of runs over a campaign, each on the columns that queries filter on.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Mapping

from sqlalchemy import text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

MIN_GROWTH_ROWS = 5_000  # never ANALYZE for fewer new rows than this
GROWTH_FRACTION = 1.0  # rows changed since the last ANALYZE, as a fraction of the table
CHECK_EVERY_S = 2.0  # a process looks at the counters at most this often per table set

# The columns the queries filter, join or sort on; None = every column.
EPISODE_FILTER_COLUMNS = (
    "campaign_id",
    "task",
    "robot",
    "seed",
    "attempt",
    "success",
    "failure_reason",
    "teacher",
    "created_at",
    "job_id",
)

_last_check: dict[tuple[str, ...], float] = {}


def analyze_if_grown(
    session: Session, tables: Mapping[str, tuple[str, ...] | None], *, force: bool = False
) -> list[str]:
    """ANALYZE each table that has grown past the threshold since its last ANALYZE (by anyone:
    the server's own counters decide). Runs in the caller's transaction; one process per
    table does it at a time (an advisory lock), the others go on. Returns what it analyzed."""
    if session.get_bind().dialect.name != "postgresql":
        return []  # SQLite: the one unique index is the only plan for the recorder's lookups
    key = tuple(sorted(tables))
    now = time.monotonic()
    if not force and now - _last_check.get(key, float("-inf")) < CHECK_EVERY_S:
        return []
    _last_check[key] = now
    rows = session.execute(
        text(
            "SELECT s.relname, s.n_mod_since_analyze, greatest(c.reltuples, 0) "
            "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
            "WHERE s.schemaname = current_schema() AND s.relname = ANY(:names)"
        ),
        {"names": list(tables)},
    ).all()
    done = []
    for name, changed, reltuples in rows:
        if changed < max(MIN_GROWTH_ROWS, GROWTH_FRACTION * reltuples):
            continue
        lock = zlib.crc32(f"blazer-analyze-{name}".encode())
        if not session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock}):
            continue  # another process is analyzing it now
        columns = tables[name]
        start = time.perf_counter()
        session.execute(text(f"ANALYZE {name}" + (f" ({', '.join(columns)})" if columns else "")))
        log.info(
            "analyzed %s (%d rows changed, ~%d before) in %.2f s",
            name,
            changed,
            reltuples,
            time.perf_counter() - start,
        )
        done.append(name)
    return done


# retention ------------------------------------------------------------------------------------
def vacuum(*, full: bool = False) -> float:
    """VACUUM (ANALYZE) the database: the space of deleted rows is reused (PostgreSQL) or
    given back (SQLite, and PostgreSQL with ``full``). Outside a transaction, as both need.
    Returns the seconds it took."""
    from models.db import get_engine

    engine = get_engine()
    start = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("VACUUM (FULL, ANALYZE)" if full else "VACUUM (ANALYZE)"))
        else:
            conn.execute(text("VACUUM"))
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - start


def table_sizes(session: Session) -> list[tuple[str, int, int]]:
    """(table, rows (estimated on PostgreSQL), bytes with indexes and TOAST) per blazer table,
    largest first; on SQLite the bytes are the pages each table and its indexes use."""
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text(
                "SELECT c.relname, greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY 3 DESC"
            )
        ).all()
        return [(name, int(n), int(size)) for name, n, size in rows]
    names = session.scalars(
        text("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    ).all()
    out = []
    for name in names:
        n = session.scalar(text(f'SELECT count(*) FROM "{name}"')) or 0
        try:  # the dbstat virtual table, where SQLite was built with it
            size = session.scalar(
                text(
                    "SELECT sum(pgsize) FROM dbstat WHERE name = :t OR name IN "
                    "(SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t)"
                ),
                {"t": name},
            )
        except Exception:  # noqa: BLE001 - no dbstat: sizes unknown, counts still shown
            size = None
        out.append((name, int(n), int(size or 0)))
    return sorted(out, key=lambda r: -r[2])
