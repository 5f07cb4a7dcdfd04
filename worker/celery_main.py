"""The process ``blazer worker`` becomes (``os.execv``, same pid): blazer's logging, then a
Celery worker built from the options the command checked (one JSON argument).

It imports Celery's worker and the settings only: not the CLI's modules, not the database
stack (the job code is loaded by the pool process that runs it, see ``worker.tasks``), and
not Celery's own command line (click and every ``celery`` subcommand: ~10 MB), so a prefork
pool forks from a small parent. Measured by ``benchmarks/bench_worker_memory.py``.

    python -m worker.celery_main '{"queues": ["rollout"], "pool_cls": "prefork", ...}'
"""

from __future__ import annotations

import json
import logging
import sys

from models.settings import configure_logging


def main(options: dict) -> int:
    """Run the worker until it stops; its exit code. ``options`` are ``app.Worker``'s
    keywords (those of ``celery worker``'s flags); ``loglevel`` is a level name."""
    configure_logging()
    from worker.celery_app import app

    options = {**options, "loglevel": logging.getLevelName(options.get("loglevel", "INFO"))}
    worker = app.Worker(without_gossip=True, without_mingle=True, **options)
    worker.start()
    return worker.exitcode


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
