"""``blazer worker``: a Celery worker on the rollout queue."""

from __future__ import annotations

import os
import socket

import typer

from models.db import ensure_schema
from models.errors import ConfigError
from models.settings import get_settings


def worker(
    queues: str = typer.Option("rollout", help="Comma-separated queues: rollout, train."),
    concurrency: int = typer.Option(1, help="Pool processes (each runs its own simulator)."),
    max_tasks_per_child: int = typer.Option(
        None, help="Recycle a pool process after this many jobs (default: settings, 200)."
    ),
    loglevel: str = typer.Option("INFO", help="Celery log level."),
) -> None:
    """Start a Celery worker (needs BLAZER_BROKER_URL and a shared BLAZER_DATABASE_URL)."""
    if not get_settings().broker_url:
        raise ConfigError("`blazer worker` needs BLAZER_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
    ensure_schema()
    from worker.celery_app import app

    # a unique node name per process: workers on one host must not share a control queue
    hostname = f"blazer-{os.getpid()}@{socket.gethostname()}"
    app.worker_main(
        [
            "worker", "-Q", queues, "-c", str(concurrency), "--hostname", hostname,
            "--max-tasks-per-child", str(max_tasks_per_child or get_settings().max_tasks_per_child),
            "--loglevel", loglevel,
            "--without-gossip", "--without-mingle",
        ]
    )  # fmt: skip
