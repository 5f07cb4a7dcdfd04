"""Read-only queries straight through the DBAPI driver, for commands that must start fast.

SQLAlchemy and its PostgreSQL dialect take ~120 ms to import, and ``blazer stats`` must answer
in under 300 ms as a whole process. So its query goes through ``sqlite3`` or ``psycopg`` as
the database URL names them. Anything out of the ordinary returns None, and the caller takes
the full path through ``models.db``, which owns the error messages and the upgrades:
- a URL of another form;
- a server that cannot be reached;
- a schema that is not at SCHEMA_HEAD.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

# The newest migration's revision, so a command can check the schema without loading alembic
# and every migration script (tests/test_database.py checks it against alembic's head).
SCHEMA_HEAD = "0007"


def _connect(url: str) -> tuple[Any, str] | None:
    """(connection, parameter placeholder), or None for a URL this module does not take."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    if scheme == "sqlite" and rest.startswith("/") and rest != "/:memory:":
        import sqlite3
        from urllib.parse import quote

        # read-only: a missing file is an error here (the full path explains), never created
        return sqlite3.connect(f"file:{quote(rest[1:])}?mode=ro", uri=True, timeout=10), "?"
    if scheme in ("postgresql", "postgresql+psycopg"):
        import psycopg

        return psycopg.connect(f"postgresql://{rest}", connect_timeout=5), "%s"
    return None


def fetch_at_head(url: str, sql: str, params: tuple = ()) -> list[tuple] | None:
    """Rows of ``sql`` (``{p}`` marks each parameter) if the database is reachable and its
    schema is at SCHEMA_HEAD; else None."""
    try:
        opened = _connect(url)
    except Exception as exc:  # unreachable, no file: the full path says so in one line
        log.debug("fast path unavailable: %s", exc)
        return None
    if opened is None:
        return None
    conn, placeholder = opened
    try:
        cur = conn.cursor()
        cur.execute("SELECT version_num FROM alembic_version")
        if cur.fetchone() != (SCHEMA_HEAD,):
            return None
        cur.execute(sql.format(p=placeholder), params)
        return cur.fetchall()
    except Exception as exc:  # no schema yet, a table missing: the full path explains
        log.debug("fast path unavailable: %s", exc)
        return None
    finally:
        conn.close()
