"""The process ``blazer worker`` becomes (``os.execv``, same pid): blazer's logging, then
Celery's worker with the arguments the command built. It imports Celery and the settings
only, so a prefork pool forks from a parent without the CLI's or the database's modules,
and the job code is loaded by the pool process that runs it (``worker.tasks``). Measured
by ``benchmarks/bench_worker_memory.py``.

    python -m worker.celery_main worker -Q rollout -P prefork ...
"""

from __future__ import annotations

import sys

from models.settings import configure_logging


def main(argv: list[str]) -> None:
    configure_logging()
    from worker.celery_app import app

    app.worker_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
