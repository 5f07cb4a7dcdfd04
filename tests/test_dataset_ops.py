"""Dataset merge, split, filter and delete; campaign delete (transactional, blocked by the
snapshots that hold its episodes); table sizes and vacuum. On PostgreSQL and SQLite, through
the real ``blazer`` commands where a user would type them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy import func, select

from benchmarks.synthetic import episodes as synthetic_episodes
from models.db import session_scope
from models.orm import Campaign, Dataset, DatasetMember, Episode, Job
from models.recording import record_episodes
from models.types import SEED_SPLIT_SIZE, CampaignState
from scheduler.campaigns import create_campaign, set_state
from scheduler.spec import CampaignSpec
from tests.conftest import REPO, run_cli

TASKS = ["PickCube-v1", "PushCube-v1", "StackCube-v1"]


def make_campaign(name: str, n: int, start: int = 0) -> int:
    """A finished campaign with ``n`` synthetic episodes (2 in 3 successes) recorded through
    the real recorder, on train seeds ``start..start+n``."""
    with session_scope() as s:
        c = create_campaign(
            s,
            CampaignSpec.from_dict(
                {"name": name, "tasks": TASKS, "successes": 10**6, "attempt_cap": 10**7}
            ),
        )
        cid = c.id
    recs = synthetic_episodes(cid, n, task_of=lambda i: TASKS[i % 3], start=start)
    for i, r in enumerate(recs):
        r.checks = {"is_grasped": i % 2 == 0, "success": r.success}
        r.traj_steps = 50 + i % 100
    with session_scope() as s:
        record_episodes(s, recs)
    with session_scope() as s:
        set_state(s, name, CampaignState.CANCELLED)
    return cid


def members(name: str) -> list[tuple[int, str, int, float]]:
    with session_scope() as s:
        return list(
            s.execute(
                select(Episode.id, Episode.task, Episode.seed, DatasetMember.weight)
                .join(DatasetMember, DatasetMember.episode_id == Episode.id)
                .join(Dataset, Dataset.id == DatasetMember.dataset_id)
                .where(Dataset.name == name)
                .order_by(Episode.id)
            ).all()
        )


def cli(*args: str):
    env = {k: v for k, v in os.environ.items() if k.startswith("BLAZER_")}
    return run_cli(*args, env=env, timeout=300)


def test_merge_split_filter_delete(blazer_env):
    make_campaign("a", 120)
    make_campaign("b", 90, start=60)  # seeds 60..149: overlaps a's scenes
    for name, src in (("da", "a"), ("db", "b")):
        assert cli("dataset", "build", "--name", name, "--from", src).returncode == 0
    da, db = members("da"), members("db")
    assert len(da) == 80 and len(db) == 60  # successes only

    merged = cli("dataset", "merge", "da", "db", "--name", "dab")
    assert merged.returncode == 0, merged.stderr
    dab = members("dab")
    assert {m[0] for m in dab} == {m[0] for m in da} | {m[0] for m in db}
    assert abs(sum(m[3] for m in dab) - 1) < 1e-9
    again = cli("dataset", "merge", "da", "db", "--name", "dab")
    assert again.returncode != 0 and "exists" in again.stderr and "Traceback" not in again.stderr

    split = cli("dataset", "split", "dab", "--fractions", "0.7,0.3", "--seed", "3")
    assert split.returncode == 0, split.stderr
    p0, p1 = members("dab-0"), members("dab-1")
    assert len(p0) + len(p1) == len(dab) and not {m[0] for m in p0} & {m[0] for m in p1}
    scenes0, scenes1 = {(m[1], m[2]) for m in p0}, {(m[1], m[2]) for m in p1}
    assert not scenes0 & scenes1  # disjoint by scene: a seed's episodes of a and b together
    assert abs(len(p0) / len(dab) - 0.7) < 0.1
    # seeded: the same split twice gives the same parts
    assert cli("dataset", "split", "dab", "--fractions", "0.7,0.3", "--seed", "3",
               "--names", "x0,x1").returncode == 0  # fmt: skip
    assert [m[0] for m in members("x0")] == [m[0] for m in p0]
    bad = cli("dataset", "split", "dab", "--fractions", "0.7,0.2")
    assert bad.returncode != 0 and "summing to 1" in bad.stderr

    flt = cli("dataset", "filter", "dab", "--name", "grasped", "--task", "PushCube-v1",
              "--check", "is_grasped", "--min-steps", "60")  # fmt: skip
    assert flt.returncode == 0, flt.stderr
    with session_scope() as s:
        rows = s.execute(
            select(Episode.task, Episode.checks, Episode.traj_steps)
            .join(DatasetMember, DatasetMember.episode_id == Episode.id)
            .join(Dataset, Dataset.id == DatasetMember.dataset_id)
            .where(Dataset.name == "grasped")
        ).all()
    assert rows and all(
        t == "PushCube-v1" and c["is_grasped"] and steps >= 60 for t, c, steps in rows
    )
    empty = cli("dataset", "filter", "dab", "--name", "none", "--failure")
    assert empty.returncode != 0 and "would be empty" in empty.stderr

    gone = cli("dataset", "delete", "x1")
    assert gone.returncode == 0 and members("x1") == []
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Episode)) == 210  # episodes stay


def test_campaign_delete_is_blocked_by_snapshots_and_removes_shards(blazer_env, tmp_path):
    cid = make_campaign("old", 60)
    make_campaign("other", 30, start=1000)
    assert (
        cli("dataset", "build", "--name", "keepme", "--from", "old", "--per-task", "1").returncode
        == 0
    )
    # two shards under the artifact root: one holds the rows the snapshot keeps, one the rest
    from models.settings import get_settings

    root = Path(get_settings().resolved_artifacts_url())
    shard_held, shard_free = root / "campaign-x" / "held.h5", root / "campaign-x" / "free.h5"
    shard_held.parent.mkdir(parents=True)
    shard_held.write_bytes(b"h")
    shard_free.write_bytes(b"f")
    held = {m[0] for m in members("keepme")}
    with session_scope() as s:
        for ep in s.scalars(select(Episode).where(Episode.campaign_id == cid)):
            ep.traj_uri = str(shard_held if ep.id in held else shard_free)

    active = make_campaign("live", 3, start=5000)
    with session_scope() as s:
        s.get(Campaign, active).state = "active"
    refused = cli("campaign", "delete", "live", "--yes")
    assert refused.returncode != 0 and "cancel it first" in refused.stderr

    blocked = cli("campaign", "delete", "old", "--yes")
    assert blocked.returncode != 0 and "keepme" in blocked.stderr
    assert "Traceback" not in blocked.stderr

    dry = cli("campaign", "delete", "old", "--keep-datasets")
    assert dry.returncode == 1 and "would delete" in dry.stdout
    with session_scope() as s:
        assert s.scalar(select(func.count()).where(Episode.campaign_id == cid)) == 60

    kept = cli("campaign", "delete", "old", "--keep-datasets", "--yes")
    assert kept.returncode == 0, kept.stderr
    with session_scope() as s:
        left = s.scalars(select(Episode.id).where(Episode.campaign_id == cid)).all()
        assert set(left) == held and len(held) == 2  # one success per task that has any
        assert s.scalar(select(func.count()).where(Job.campaign_id == cid)) == 0
        assert "kept for snapshots keepme" in s.get(Campaign, cid).error
        # the other campaign is untouched
        assert s.scalar(select(func.count()).select_from(Episode)) == len(held) + 30 + 3
    assert shard_held.exists() and not shard_free.exists()  # only the unneeded shard went

    assert cli("dataset", "delete", "keepme").returncode == 0
    full = cli("campaign", "delete", "old", "--yes")
    assert full.returncode == 0, full.stderr
    with session_scope() as s:
        assert s.get(Campaign, cid) is None
        assert s.scalar(select(func.count()).where(Episode.campaign_id == cid)) == 0
    assert not shard_held.exists() and not shard_free.exists()


def test_storage_and_vacuum(blazer_env):
    make_campaign("s", 90)
    vac = cli("db", "vacuum")  # its ANALYZE gives PostgreSQL's row estimates
    assert vac.returncode == 0 and "vacuumed" in vac.stdout, vac.stderr
    out = cli("stats", "--storage", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    episodes = next(t for t in data["tables"] if t["table"] == "episodes")
    assert episodes["rows"] == 90 and episodes["bytes"] > 0
    assert data["total_bytes"] >= episodes["bytes"] and data["bytes_per_episode"] > 0


def test_a_kill_mid_delete_leaves_everything_or_nothing(pg_env):
    """``kill -9`` of ``campaign delete`` while its DELETE runs: the transaction is rolled
    back, every row is still there; the next delete removes them all."""
    url = pg_env.replace("+psycopg", "")
    cid = make_campaign("big", 30)
    with psycopg.connect(url, autocommit=True) as conn:
        # 400,000 more rows of the campaign in one statement (the delete must take a while)
        conn.execute(
            "INSERT INTO episodes (campaign_id, task, robot, seed, attempt, teacher, success, "
            "completion, created_at) SELECT %s, 'PickCube-v1', 'panda', g, 1, 'expert', true, "
            "repeat('x', 200), now() FROM generate_series(%s, %s) g",
            (cid, SEED_SPLIT_SIZE - 400_000, SEED_SPLIT_SIZE - 1),
        )
        before = conn.execute("SELECT count(*) FROM episodes").fetchone()[0]
    env = {**os.environ}
    proc = subprocess.Popen(
        [sys.executable, "-m", "blazer.cli", "campaign", "delete", "big", "--yes"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + 60
        while not conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE query ILIKE 'DELETE FROM episodes%%' "
            "AND state = 'active'"
        ).fetchone():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the delete never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 30
        while conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE query ILIKE 'DELETE FROM episodes%%'"
        ).fetchone():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert conn.execute("SELECT count(*) FROM episodes").fetchone()[0] == before
        assert conn.execute("SELECT count(*) FROM campaigns WHERE name = 'big'").fetchone()[0] == 1
    done = cli("campaign", "delete", "big", "--yes")
    assert done.returncode == 0, done.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM episodes").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM campaigns").fetchone()[0] == 0


def test_newest_first_pages_and_show(blazer_env):
    """``episodes query --newest --limit`` pages backwards by id with the cursor it prints
    (on PostgreSQL through the DBAPI fast path, on SQLite the full path): the same rows either
    way; ``episodes show`` gives every field."""
    make_campaign("q", 40)
    make_campaign("r", 10, start=500)
    first = cli("episodes", "query", "--campaign", "q", "--newest", "--limit", "15",
                "--format", "jsonl")  # fmt: skip
    assert first.returncode == 0, first.stderr
    rows = [json.loads(line) for line in first.stdout.splitlines()]
    ids = [r["id"] for r in rows]
    assert len(ids) == 15 and ids == sorted(ids, reverse=True)
    assert f"next page: --newest --before {ids[-1]}" in first.stderr
    seen = list(ids)
    while "next page" in first.stderr:
        cursor = first.stderr.split("--before ")[1].split()[0]
        first = cli("episodes", "query", "--campaign", "q", "--newest", "--limit", "15",
                    "--before", cursor, "--format", "jsonl")  # fmt: skip
        seen += [json.loads(line)["id"] for line in first.stdout.splitlines()]
    with session_scope() as s:
        cid = s.scalar(select(Campaign.id).where(Campaign.name == "q"))
        expected = s.scalars(
            select(Episode.id).where(Episode.campaign_id == cid).order_by(Episode.id.desc())
        ).all()
    assert seen == list(expected)
    failures = cli("episodes", "query", "--failure", "--reason", "parse_error", "--newest",
                   "--limit", "5", "--format", "jsonl")  # fmt: skip
    assert failures.returncode == 0, failures.stderr
    for line in failures.stdout.splitlines():
        row = json.loads(line)
        assert row["success"] is False and row["failure_reason"] == "parse_error"
    shown = cli("episodes", "show", str(seen[0]))
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["id"] == seen[0] and data["scene"]["objects"] and data["completion"]
    missing = cli("episodes", "show", "999999")
    assert missing.returncode != 0 and "no episode 999999" in missing.stderr
    assert cli("episodes", "query", "--before", "5").returncode != 0
