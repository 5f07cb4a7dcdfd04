"""``blazer worker``: a Celery worker on the rollout queue."""

from __future__ import annotations

import json
import os
import socket
import sys

import typer

from models.db import ensure_schema
from models.errors import ConfigError
from models.settings import get_settings

POOLS = ("prefork", "solo")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def worker(
    queues: str = typer.Option("rollout", help="Comma-separated queues: rollout, train."),
    concurrency: int = typer.Option(1, help="Pool processes (each runs its own simulator)."),
    max_tasks_per_child: int = typer.Option(
        None, help="Recycle a pool process after this many jobs (default: settings, 200)."
    ),
    loglevel: str = typer.Option("INFO", help="Celery log level."),
    pool: str = typer.Option(
        "prefork",
        help="prefork: jobs run in pool processes the worker supervises (a job's hard time "
        "limit, recycling); solo: one process runs the jobs itself, ~25 MB less per worker, "
        "with neither (the simulator keeps its own process and deadlines either way).",
    ),
) -> None:
    """Start a Celery worker (needs BLAZER_BROKER_URL and a shared BLAZER_DATABASE_URL)."""
    if not get_settings().broker_url:
        raise ConfigError("`blazer worker` needs BLAZER_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
    if pool not in POOLS:
        raise ConfigError(f"unknown --pool {pool!r}; choose one of: {', '.join(POOLS)}")
    if loglevel.upper() not in LOG_LEVELS:
        raise ConfigError(
            f"unknown --loglevel {loglevel!r}; choose one of: {', '.join(LOG_LEVELS)}"
        )
    if pool == "solo" and concurrency != 1:
        raise ConfigError("--pool solo runs one job at a time: drop --concurrency or use prefork")
    ensure_schema()
    # a unique node name per process: workers on one host must not share a control queue
    hostname = f"blazer-{os.getpid()}@{socket.gethostname()}"
    options = {
        "queues": queues.split(","),
        "pool_cls": pool,
        "concurrency": concurrency,
        "hostname": hostname,
        "loglevel": loglevel.upper(),
        "max_tasks_per_child": max_tasks_per_child or get_settings().max_tasks_per_child,
    }
    # Become a lean process (same pid) that runs Celery: the pool forks from a parent without
    # this CLI's, Celery's CLI's or the database's modules (less memory per pool process)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "worker.celery_main", json.dumps(options)])
