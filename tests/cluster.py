"""A real small cluster for tests: a private Redis, a PostgreSQL database, Celery worker and
scheduler processes started with the ``blazer`` CLI, and ways to kill them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, db_url: str, tmp: Path, **settings: str) -> None:
        self.db_url = db_url
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.redis_port = free_port()
        self.redis: subprocess.Popen | None = None
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = {
            **os.environ,
            "BLAZER_DATABASE_URL": db_url,
            "BLAZER_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "BLAZER_DATA_DIR": str(tmp / "data"),
            "BLAZER_LOG_LEVEL": "INFO",
            "BLAZER_JOB_LEASE_S": "15",
            "BLAZER_EPISODE_TIMEOUT_S": "30",
            "BLAZER_SCHEDULER_TICK_S": "0.5",
            **settings,
        }
        self.engine = create_engine(db_url)
        self._n = 0

    # processes -------------------------------------------------------------------------------
    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.wait(lambda: _port_open(self.redis_port), 20, "redis to start")

    def restart_redis(self) -> None:
        """Stop Redis (it keeps nothing on disk: every queued message is lost) and start it again."""
        assert self.redis is not None
        self.redis.kill()
        self.redis.wait()
        time.sleep(1.0)
        self.start_redis()

    def start(self, role: str, *args: str, env: dict | None = None) -> str:
        self._n += 1
        name = f"{role}{self._n}"
        log = open(self.tmp / f"{name}.log", "w")  # noqa: SIM115  (closed with the process)
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "blazer.cli", *args],
            cwd=REPO,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return name

    def start_worker(self, *args: str, env: dict | None = None) -> str:
        return self.start("worker", "worker", "--loglevel", "INFO", *args, env=env)

    def start_scheduler(self, campaign: str | None = None) -> str:
        return self.start("scheduler", "scheduler", *(["--campaign", campaign] if campaign else []))

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """kill -9 the process and everything it started (pool processes, simulator)."""
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def owner_of(self, job_worker: str) -> str | None:
        """Which started process runs the pool process named in a job's worker column."""
        pid = int(job_worker.split("-", 1)[1].split("@", 1)[0])
        try:
            pgid = os.getpgid(pid)
        except ProcessLookupError:
            return None
        return next((n for n, p in self.procs.items() if p.pid == pgid), None)

    def stop(self) -> None:
        for name in list(self.procs):
            self.kill(name)
        if self.redis is not None:
            self.redis.kill()
            self.redis.wait()
        self.engine.dispose()

    # observing -------------------------------------------------------------------------------------
    def sql(self, query: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(query), params).all()

    def logs(self) -> str:
        out = []
        for path in sorted(self.tmp.glob("*.log")):
            out.append(
                f"--- {path.name}\n"
                + "\n".join(path.read_text(errors="replace").splitlines()[-25:])
            )
        return "\n".join(out)

    def log_text(self, role: str) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.tmp.glob(f"{role}*.log"))
        )

    def wait(self, predicate: Callable[[], object], timeout_s: float, what: str):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{self.logs()}")

    def campaign_state(self, name: str) -> str:
        return self.sql("SELECT state FROM campaigns WHERE name = :n", n=name)[0][0]

    def wait_done(self, name: str, timeout_s: float = 300) -> None:
        self.wait(
            lambda: self.campaign_state(name) == "done", timeout_s, f"campaign {name} to finish"
        )


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
