"""Paper cuts found as a new user: a benchmark size it cannot measure, surplus successes in
the stats, an interrupted embedded campaign, warnings on the first screen."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from models.db import session_scope
from models.orm import Episode
from models.recording import record_episodes
from models.types import EpisodeRecord
from scheduler import campaigns
from scheduler.spec import CampaignSpec
from tests.conftest import REPO, run_cli


def test_a_benchmark_size_it_cannot_measure_is_one_line():
    out = subprocess.run(
        [sys.executable, "benchmarks/bench_ingest.py", "--rows", "50000"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0 and "--rows must be a multiple" in out.stderr


def test_stats_show_stored_successes_and_surplus_apart(blazer_env):
    with session_scope() as s:
        c = campaigns.create_campaign(
            s, CampaignSpec.from_dict({"name": "sp", "tasks": ["PickCube-v1"], "successes": 2})
        )
        recs = [
            EpisodeRecord(
                campaign_id=c.id,
                task="PickCube-v1",
                robot="panda",
                seed=i,
                attempt=0,
                teacher="expert",
                success=True,
            )
            for i in range(3)
        ]
        assert record_episodes(s, recs).surplus == 1
    (row,) = json.loads(run_cli("stats", "--json").stdout)
    assert (row["attempts"], row["successes"], row["surplus"]) == (3, 2, 1)
    assert row["success_rate"] == 1.0  # the teacher's rate counts every success
    table = run_cli("stats").stdout
    assert "surplus" in table
    query = run_cli("episodes", "query", "--success", "--format", "jsonl").stdout
    assert len(query.splitlines()) == row["successes"]  # what the table says is what is there


def test_an_interrupted_embedded_campaign_is_paused_and_resumes(blazer_env, tmp_path):
    spec = tmp_path / "long.yaml"
    spec.write_text(
        "name: long\ntasks: [PickCube-v1]\nteacher: {kind: noop}\nsimulator: noop\n"
        "successes: 100000\nblock_size: 50\n"
    )
    # a terminal's Ctrl-C: the child starts with SIGINT at its default action even where
    # this process was left ignoring it (an ignored signal is inherited across exec, and
    # Python then installs no KeyboardInterrupt handler: the campaign would run to its end)
    proc = subprocess.Popen(
        [sys.executable, "-m", "blazer.cli", "campaign", "run", str(spec)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with session_scope() as s:
            if s.scalar(select(func.count()).select_from(Episode)):
                break
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    proc.wait(timeout=60)
    with session_scope() as s:
        c = campaigns.get_campaign(s, "long")
        assert c.state == "paused" and c.error.startswith("interrupted"), (
            c.state,
            c.error,
            signal.getsignal(signal.SIGINT),
        )
    listed = run_cli("campaign", "list", env={"COLUMNS": "200"}).stdout
    assert "paused" in listed and "interrupted" in listed
    assert run_cli("campaign", "resume", "long").returncode == 0
    with session_scope() as s:
        c = campaigns.get_campaign(s, "long")
        assert c.state == "active" and c.error is None


def test_the_first_screen_holds_no_warnings():
    """`blazer sim try` on BLM1 tasks, on one of blazer's own envs, and on the xArm-6: no
    ManiSkill registration or actor-pose warnings (they come back with --debug)."""
    for args in (
        ("sim", "try", "--task", "PickCube-v1", "--seed", "1"),
        ("sim", "try", "--task", "PutBlock-v1", "--seed", "1"),
        ("sim", "try", "--task", "PlaceSphere-v1", "--seed", "1"),  # ManiSkill's own warns
        ("sim", "try", "--task", "PickCube-v1", "--robot", "xarm6_robotiq", "--seed", "1"),
    ):
        out = run_cli(*args)
        assert out.returncode == 0, out.stderr[-2000:]
        text = out.stdout + out.stderr
        assert "already registered" not in text and "No initial pose" not in text, text[-2000:]
        assert "WARNING" not in text, text[-2000:]
    # they stay one flag away
    debug = run_cli("--debug", "sim", "try", "--task", "PlaceSphere-v1", "--seed", "1")
    assert "No initial pose" in debug.stdout + debug.stderr
