"""Helpers the benchmarks share: a throw-away PostgreSQL database, tables, timing."""

from __future__ import annotations

import os
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg

PG_ADMIN = os.environ.get("BLAZER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
RESULTS = Path(__file__).resolve().parent / "results"


@contextmanager
def scratch_postgres():
    """A new PostgreSQL database for one benchmark, dropped afterwards; yields its URL."""
    name = f"blazer_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    os.environ["BLAZER_DATABASE_URL"] = url
    from models.db import get_engine, upgrade
    from models.settings import get_settings

    get_settings.cache_clear()
    get_engine.cache_clear()
    upgrade(url)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        get_engine.cache_clear()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def print_table(title: str, header: list[str], rows: list[list]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731

    text = "\n".join(
        [
            f"## {title}",
            line(header),
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
            *map(line, rows),
        ]
    )
    print(text, flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{title.split()[0].lower()}.md").write_text(text + "\n")
    return text


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start

    def elapsed(self) -> float:
        return time.perf_counter() - self.start
