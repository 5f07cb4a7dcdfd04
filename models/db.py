"""Engine and session factory, schema upgrades, and one-line errors for database trouble."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session

from models.dbapi import SCHEMA_HEAD
from models.errors import DatabaseError
from models.settings import get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
SUPPORTED_SCHEMES = ("postgresql", "sqlite")  # the two the migrations and tests cover


def database_url() -> str:
    return get_settings().resolved_database_url()


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> Engine:
    """One engine per process and URL."""
    url = url or database_url()
    scheme = url.split("://", 1)[0].split("+", 1)[0] if "://" in url else ""
    if scheme not in SUPPORTED_SCHEMES:
        raise DatabaseError(
            f"unsupported database URL {redact(url)!r}: blazer runs on "
            f"{' or '.join(SUPPORTED_SCHEMES)} (e.g. postgresql+psycopg://user@host:5432/db, "
            "sqlite:///blazer.db)"
        )
    try:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 60})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise DatabaseError(
            f"bad database URL {redact(url)!r}: {exc}. "
            "Set BLAZER_DATABASE_URL to e.g. postgresql+psycopg://user@host:5432/db"
        ) from None
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
    # PostgreSQL's md5(text), which snapshot building uses to find duplicate (scene, plan) pairs
    dbapi_conn.create_function("md5", 1, _md5, deterministic=True)


def _md5(text: str | None) -> str | None:
    return None if text is None else hashlib.md5(text.encode()).hexdigest()


def redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url
    return url


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error."""
    engine = engine or get_engine()
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseError(_unreachable_message(engine, exc)) from exc


def retry_database(fn: Callable[[], T], *, waiting_for: str, limit_s: float = 300.0) -> T:
    """``fn()``, tried again with bounded backoff (1 s doubling to 15 s) while the database is
    away, for up to ``limit_s``; each wait is logged with what it is waiting for."""
    delay, deadline = 1.0, time.monotonic() + limit_s
    while True:
        try:
            return fn()
        except DatabaseError as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("waiting for the database (%s): %s", waiting_for, exc)
            time.sleep(delay)
            delay = min(delay * 2, 15.0)


def _unreachable_message(engine: Engine, exc: Exception) -> str:
    first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    return (
        f"cannot use the database at {redact(str(engine.url))}: {first}. "
        "Is the server running and BLAZER_DATABASE_URL right?"
    )


def alembic_config(url: str | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", (url or database_url()).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    from alembic import command

    _check_upgradable(_check_reachable(url))
    command.upgrade(alembic_config(url), revision)


def known_revisions() -> set[str]:
    return {s.revision for s in _scripts().walk_revisions()}


def _check_upgradable(engine: Engine) -> None:
    """Refuse, in one line, a schema that migrations cannot start from."""
    where = redact(str(engine.url))
    current = current_revision(engine)
    if current is not None and current not in known_revisions():
        raise DatabaseError(
            f"the database at {where} is at schema revision {current!r}, which this blazer does "
            "not know (made by a newer blazer?): upgrade blazer, or use another database"
        )
    if current is None:
        with engine.connect() as conn:
            ours = sorted({"campaigns", "episodes", "jobs"} & set(inspect(conn).get_table_names()))
        if ours:
            raise DatabaseError(
                f"the database at {where} has blazer tables ({', '.join(ours)}) but no schema "
                "version: it was not made by `blazer db upgrade`. Use an empty database, or "
                "drop those tables first"
            )


def downgrade(url: str | None = None, revision: str = "base") -> None:
    from alembic import command

    _check_reachable(url)
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    return _scripts().get_current_head()


def _scripts():
    """The migration scripts (read from the package; no database involved)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _check_reachable(url: str | None) -> Engine:
    engine = get_engine(url)
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        raise DatabaseError(_unreachable_message(engine, exc)) from None
    return engine


def dialect_insert(session: Session):
    """The INSERT construct with ON CONFLICT support for the session's database."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert


def ensure_writable_schema() -> Engine:
    """For commands that create data: the embedded default builds its own schema; a
    configured database is upgraded only by `blazer db upgrade`."""
    return ensure_schema(auto_upgrade=not get_settings().database_url)


def ensure_schema(url: str | None = None, *, auto_upgrade: bool = False) -> Engine:
    """Return the engine if the schema is at head; upgrade it when asked (embedded default)."""
    engine = _check_reachable(url)
    current = current_revision(engine)
    if current == SCHEMA_HEAD:
        return engine
    head = head_revision()
    if current == head:
        return engine
    if auto_upgrade:
        upgrade(url)
        return engine
    _check_upgradable(engine)
    if current is None:
        raise DatabaseError(
            f"the database at {redact(str(engine.url))} has no blazer schema; run `blazer db upgrade`"
        )
    raise DatabaseError(
        f"the database schema is at revision {current}, this blazer needs {head}; "
        "run `blazer db upgrade`"
    )


def rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE changed. (SQLAlchemy types ``Session.execute`` as ``Result``;
    the count is its ``CursorResult``'s.)"""
    return result.rowcount or 0
