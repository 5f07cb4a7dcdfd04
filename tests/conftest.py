"""Fixtures: throw-away PostgreSQL databases, SQLite files, and blazer settings pointed at them.

Tests talk to the real PostgreSQL and Redis on 127.0.0.1 (``BLAZER_TEST_PG``,
``BLAZER_TEST_REDIS`` override the addresses).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from models.db import get_engine, upgrade
from models.settings import get_settings

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("BLAZER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BLAZER_TEST_REDIS", "redis://127.0.0.1:6379")


def _reset_caches() -> None:
    get_settings.cache_clear()
    get_engine.cache_clear()


@contextlib.contextmanager
def fresh_pg_database(prefix: str = "blazer_test"):
    """A new PostgreSQL database; yields its SQLAlchemy URL; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}/{name}"
    try:
        yield url
    finally:
        for engine_url in list(_engines_for(url)):
            engine_url.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database, dropped afterwards."""
    with fresh_pg_database() as url:
        yield url


def _engines_for(url: str):
    try:
        yield get_engine(url)
    except Exception:
        return


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'blazer.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Each database test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'blazer.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def blazer_env(db_url, tmp_path, monkeypatch):
    """BLAZER_* settings pointed at a migrated test database; returns the URL."""
    yield from _settings_for(db_url, tmp_path, monkeypatch)


@pytest.fixture
def pg_env(pg_url, tmp_path, monkeypatch):
    """``blazer_env`` on PostgreSQL only (what SQLite does not have: COPY, planner statistics)."""
    yield from _settings_for(pg_url, tmp_path, monkeypatch)


def _settings_for(url: str, tmp_path, monkeypatch):
    monkeypatch.setenv("BLAZER_DATABASE_URL", url)
    monkeypatch.setenv("BLAZER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("BLAZER_BROKER_URL", raising=False)
    _reset_caches()
    upgrade(url)
    yield url
    get_engine(url).dispose()
    _reset_caches()


@contextlib.contextmanager
def embedded_blazer(tmp: Path):
    """``blazer_env`` for a module-scoped fixture: BLAZER_* settings on a migrated SQLite
    database in ``tmp``, embedded (no broker); yields the URL."""
    with pytest.MonkeyPatch.context() as mp:
        yield from _settings_for(f"sqlite:///{tmp / 'blazer.db'}", tmp, mp)


def run_cli(
    *args: str, env: dict | None = None, timeout: float = 600, cwd=None, python_flags: bool = False
) -> subprocess.CompletedProcess:
    """Run the real ``blazer`` console script in a subprocess (``python_flags``: ``args`` are
    the interpreter's, ``-m blazer.cli`` included)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, *(args if python_flags else ("-m", "blazer.cli", *args))],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd or REPO,
    )


def expert(scene) -> list:
    """The scripted expert's plan for ``scene``, parsed into steps."""
    from manip.plan_language import parse_plan
    from manip.teachers.base import TeacherRequest
    from manip.teachers.expert import ExpertTeacher

    return parse_plan(ExpertTeacher().complete([TeacherRequest(scene, [])])[0].text)
