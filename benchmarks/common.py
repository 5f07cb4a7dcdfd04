"""Helpers the benchmarks share: a throw-away PostgreSQL database, tables, timing."""

from __future__ import annotations

import csv
import multiprocessing as mp
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
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


def expert_run(task: str, robot: str, seeds: list[int], fresh_physics: bool | None = None) -> dict:
    """The scripted expert through the rollout pipeline a worker runs, on one isolated
    simulator process: successes, seconds (start-up and scene build outside the clock),
    control steps simulated, and the most common failure reason with its count.
    ``fresh_physics`` overrides the setting (a new PhysX system before every episode)."""
    from dataclasses import replace

    from manip.rollout import Block, run_block
    from manip.sim.base import SimConfig
    from manip.sim.isolated import IsolatedSimulator
    from manip.teachers.expert import ExpertTeacher

    config = SimConfig.from_settings()
    if fresh_physics is not None:
        config = replace(config, fresh_physics=fresh_physics)
    sim = IsolatedSimulator(episode_timeout_s=120, config=config)
    try:
        sim.reset(task, robot, seeds[0])
        start = time.perf_counter()
        outcomes = run_block(Block(0, task, robot, seeds), sim, ExpertTeacher())
        seconds = time.perf_counter() - start
    finally:
        sim.close()
    steps = sum(o.execution.sim_steps for o in outcomes if o.execution is not None)
    fails = Counter(o.record.failure_reason.value for o in outcomes if not o.record.success)
    top = fails.most_common(1)[0] if fails else ("", 0)
    return {
        "task": task,
        "robot": robot,
        "seeds": len(seeds),
        "successes": sum(o.record.success for o in outcomes),
        "seconds": round(seconds, 2),
        "steps": steps,
        "top_failure": top[0],
        "top_count": top[1],
    }


def resumable_rows(
    out: Path,
    fields: tuple[str, ...],
    key: tuple[str, ...],
    todo: list[tuple],
    work: Callable[[tuple], dict],
    procs: int,
) -> dict[tuple, dict]:
    """The rows of the CSV ``out`` by their ``key`` fields, plus ``work(args)`` for each
    ``todo`` item whose key (its first items) is not there yet, run on a spawn pool of
    ``procs``; each row is appended as it finishes, so a killed run resumes."""
    done: dict[tuple, dict] = {}
    if out.exists():
        with out.open() as fh:
            done = {tuple(r[k] for k in key): r for r in csv.DictReader(fh)}
    missing = [args for args in todo if tuple(args[: len(key)]) not in done]
    out.parent.mkdir(parents=True, exist_ok=True)
    new = not out.exists()
    with out.open("a", newline="") as fh, mp.get_context("spawn").Pool(procs) as pool:
        writer = csv.DictWriter(fh, fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        for row in pool.imap_unordered(work, missing):
            writer.writerow(row)
            fh.flush()
            done[tuple(row[k] for k in key)] = row
            print(*(row[k] for k in key), f"{row['successes']}/{row['seeds']}", flush=True)
    return done
