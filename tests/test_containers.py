"""The container deployment (docker/): images built with no registry pull (a debootstrap
Debian base, blazer on it), the stack brought up by podman-compose (PostgreSQL, Redis, a
scheduler, two workers and Flower, each in its own container), a campaign across the
containers, one worker container killed mid-campaign, and exact counts afterwards.

It runs wherever podman can run a container; elsewhere it is skipped with podman's own
error (the probe below), never silently."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ["podman-compose", "-f", str(ROOT / "docker" / "compose.yaml")]
DB = "postgresql://blazer:blazer@127.0.0.1:55432/blazer"
PER_TASK = 15_000
TASKS = ("PickCube-v1", "PushCube-v1")

pytestmark = pytest.mark.cluster


def _why_not() -> str | None:
    """None where podman runs containers here; else the reason, podman's words included."""
    for tool in ("podman", "podman-compose", "buildah", "debootstrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install podman podman-compose buildah debootstrap runc)"
    probe = subprocess.run(["podman", "info"], capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        return f"podman cannot run here: {probe.stderr.strip().splitlines()[-1:]}"
    return None


def _sh(*argv: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if check:
        assert out.returncode == 0, (argv, out.stdout[-2000:], out.stderr[-2000:])
    return out


def _sql(query: str, *params):
    with psycopg.connect(DB, connect_timeout=5) as conn:
        return conn.execute(query, params).fetchall()


def _wait(what: str, ready, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except psycopg.OperationalError:
            pass
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def stack():
    why = _why_not()
    if why is not None:
        pytest.skip(why)
    # runc with limits it may set: crun cannot set rlimits on these hosts (docker/containers.conf)
    os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "docker" / "containers.conf"))
    _sh("bash", "docker/build_images.sh", timeout=1800)
    _sh(*COMPOSE, "down", timeout=300, check=False)  # a stack a killed run left
    _sh(*COMPOSE, "up", "-d", timeout=300)
    try:
        _wait(
            "the schema in the PostgreSQL container",
            lambda: _sql("SELECT version_num FROM alembic_version"),
            180,
        )
        yield
    finally:
        _sh(*COMPOSE, "down", timeout=300, check=False)


def test_a_campaign_across_containers_survives_a_killed_worker(stack):
    spec = (
        f"name: boxed\ntasks: [{', '.join(TASKS)}]\nteacher: noop\nsimulator: noop\n"
        f"successes: {PER_TASK}\nblock_size: 50\n"
    )
    _sh("podman", "exec", "blazer-scheduler", "bash", "-c", f"printf '{spec}' > /data/boxed.yaml")
    _sh("podman", "exec", "blazer-scheduler", "blazer", "campaign", "create", "/data/boxed.yaml")
    count = lambda: _sql("SELECT count(*) FROM episodes")[0][0]  # noqa: E731
    _wait("the first episodes", lambda: count() > 1_000, 300)
    _sh("podman", "kill", "blazer-worker1")  # SIGKILL: its leased job is handed on
    killed_at = count()
    assert killed_at < 2 * PER_TASK, "the campaign ended before the kill: raise PER_TASK"
    _wait(
        "the campaign to finish on the other worker",
        lambda: _sql("SELECT state FROM campaigns WHERE name = 'boxed'")[0][0] == "done",
        600,
    )
    stored = dict(_sql("SELECT task, count(*) FROM episodes WHERE success GROUP BY task"))
    print(f"killed worker1 at {killed_at} rows; {count()} rows at the end; stored {stored}")
    assert stored == dict.fromkeys(TASKS, PER_TASK)  # exactly N each, whatever was lost
    dups = _sql(
        "SELECT count(*) FROM (SELECT 1 FROM episodes GROUP BY campaign_id, task, robot, seed,"
        " attempt HAVING count(*) > 1) d"
    )[0][0]
    assert dups == 0
    lines = _sql("SELECT sum(attempts), sum(surplus_discarded) FROM campaign_tasks")[0]
    assert lines[0] == count() + lines[1]  # every attempt that ran is a row or counted surplus
    # both worker containers ran episodes: the survivor took the killed one's work on
    hosts = {w.rpartition("@")[2] for (w,) in _sql("SELECT DISTINCT worker FROM episodes")}
    assert hosts == {"worker1", "worker2"}, hosts
    # Flower's container watches the same broker (reached through its published port)
    with urllib.request.urlopen("http://127.0.0.1:55555/healthcheck", timeout=30) as reply:
        assert reply.read().decode().strip() == "OK"
