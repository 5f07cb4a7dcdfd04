"""Schema, migrations, idempotent recording, queries and statistics on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from models.db import downgrade, get_engine, session_scope, upgrade
from models.dbapi import SCHEMA_HEAD
from models.orm import Base, Campaign, CampaignTask, Episode, EpisodeStat
from models.queries import EpisodeFilter, stream_episodes
from models.recording import record_episodes
from models.stats import episode_stats, wilson_interval
from models.types import EpisodeRecord, FailureReason
from scheduler import campaigns
from tests.conftest import run_cli


def make_campaign(name="c1", target=1000, tasks=("PickCube-v1",)) -> int:
    with session_scope() as s:
        c = Campaign(name=name, teacher_kind="expert", teacher="expert", teacher_config={}, spec={})
        s.add(c)
        s.flush()
        for t in tasks:
            s.add(
                CampaignTask(
                    campaign_id=c.id,
                    task=t,
                    robot="panda",
                    target_successes=target,
                    attempt_cap=10 * target,
                    next_seed=0,
                )
            )
        return c.id


def rec(cid, seed, success, task="PickCube-v1", reason=FailureReason.TASK_FAILED, teacher="expert"):
    return EpisodeRecord(
        campaign_id=cid,
        task=task,
        robot="panda",
        seed=seed,
        attempt=0,
        teacher=teacher,
        success=success,
        failure_reason=None if success else reason,
        scene={"seed": seed},
        plan=[{"op": "done"}],
        completion="```python\ntask_completed()\n```",
        timings={"motion_s": 0.1},
    )


def test_upgrade_downgrade_upgrade(db_url):
    upgrade(db_url)
    tables = set(inspect(get_engine(db_url)).get_table_names())
    assert {
        "campaigns",
        "campaign_tasks",
        "jobs",
        "episodes",
        "episode_stats",
        "datasets",
        "dataset_members",
        "training_runs",
        "model_versions",
    } <= tables
    downgrade(db_url)
    assert set(inspect(get_engine(db_url)).get_table_names()) <= {"alembic_version"}
    upgrade(db_url)
    assert "episodes" in inspect(get_engine(db_url)).get_table_names()


def test_schema_head_constant_is_the_newest_migration():
    """Commands check the schema against SCHEMA_HEAD without loading alembic: a new migration
    must move it, or they would accept a database one migration behind."""
    from models.db import head_revision
    from models.dbapi import SCHEMA_HEAD

    assert head_revision() == SCHEMA_HEAD


def test_models_and_migrations_do_not_drift(db_url):
    upgrade(db_url)
    with get_engine(db_url).connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == [], f"ORM and migrations differ; write a migration: {diff}"


def test_recording_twice_stores_once(blazer_env):
    cid = make_campaign()
    batch = [rec(cid, i, i % 3 == 0) for i in range(30)]
    with session_scope() as s:
        first = record_episodes(s, batch)
    with session_scope() as s:
        second = record_episodes(s, batch)
    assert (first.inserted, second.inserted, second.duplicates) == (30, 0, 30)
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Episode)) == 30
        ctask = s.scalars(select(CampaignTask)).one()
        assert (ctask.successes, ctask.attempts) == (10, 30)
        assert s.scalar(select(func.sum(EpisodeStat.count))) == 30


def test_recording_a_partly_stored_batch_stores_the_rest_with_exact_counters(blazer_env):
    """A redelivered job whose first delivery was half recorded: on PostgreSQL the batch meets
    stored keys, so it goes through the stage table (ON CONFLICT DO NOTHING), not the direct
    COPY; the counters and the summary move by the new rows only, and None stays SQL NULL."""
    cid = make_campaign(tasks=("PickCube-v1", "PushCube-v1"))
    first = [rec(cid, i, i % 2 == 0) for i in range(10)]
    first[3].plan = None
    with session_scope() as s:
        assert record_episodes(s, first).inserted == 10
    again = [
        *first,
        *(rec(cid, i, True, task=t) for t in ("PickCube-v1", "PushCube-v1") for i in range(10, 15)),
    ]
    with session_scope() as s:
        result = record_episodes(s, [*again, again[-1]])  # a repeat inside the batch, too
    assert (result.inserted, result.duplicates, result.successes) == (10, 11, 10)
    with session_scope() as s:
        counters = {t.task: (t.successes, t.attempts) for t in s.scalars(select(CampaignTask))}
        assert counters == {"PickCube-v1": (10, 15), "PushCube-v1": (5, 5)}
        assert s.scalar(select(func.sum(EpisodeStat.count))) == 20
        assert (
            s.scalar(select(func.count()).select_from(Episode).where(Episode.plan.is_(None))) == 1
        )
        stored = s.scalars(
            select(Episode).where(Episode.seed == 12, Episode.task == "PushCube-v1")
        ).one()
        assert (stored.scene, stored.timings, stored.failure_reason) == (
            {"seed": 12},
            {"motion_s": 0.1},
            None,
        )


def test_duplicate_probe_uses_the_episode_key_index_without_statistics(pg_env):
    """The recorder's "anything stored here?" probe is a seek the planner can only answer
    with the episode key's unique index, even on a table that was never analyzed (with
    plain equalities the planner picked the (task, robot) index there and scanned it)."""
    import psycopg

    from models.recording import _PROBE_SQL

    cid = make_campaign(target=10**6, tasks=("PickCube-v1", "PushCube-v1"))
    for start in range(0, 6000, 1000):
        with session_scope() as s:
            record_episodes(
                s,
                [
                    rec(cid, i, False, task=t)
                    for t in ("PickCube-v1", "PushCube-v1")
                    for i in range(start, start + 1000)
                ],
            )
    raw = pg_env.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN " + _PROBE_SQL, [[cid], ["PickCube-v1"], ["panda"], [9000], [9999]]
            )
        )
        assert "uq_episodes_key" in plan and "ix_episodes_task_robot_success" not in plan, plan
        hits = conn.execute(
            _PROBE_SQL,
            [[cid, cid], ["PickCube-v1", "PushCube-v1"], ["panda"] * 2, [5999, 6000], [6100, 6100]],
        ).fetchone()[0]
        assert hits == 1  # PickCube has seed 5999; nothing at or past 6000 for PushCube


def test_a_grown_table_is_analyzed_by_the_recorder(pg_env, monkeypatch):
    """No autovacuum here: the recorder ANALYZEs episodes itself once it has grown past the
    threshold, and leaves a table alone that has not."""
    from sqlalchemy import text

    from models import upkeep

    monkeypatch.setattr(upkeep, "MIN_GROWTH_ROWS", 500)
    cid = make_campaign(target=10**6)
    with session_scope() as s:
        record_episodes(s, [rec(cid, i, False) for i in range(400)])
    with session_scope() as s:
        s.execute(text("SELECT pg_stat_force_next_flush()"))
    with session_scope() as s:
        assert upkeep.analyze_if_grown(s, {"episodes": None}, force=True) == []
        record_episodes(s, [rec(cid, i, False) for i in range(400, 1000)])
    with session_scope() as s:
        s.execute(text("SELECT pg_stat_force_next_flush()"))
    with session_scope() as s:
        assert upkeep.analyze_if_grown(s, {"episodes": None}, force=True) == ["episodes"]
    with session_scope() as s:
        assert s.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'episodes'")) == 1000


def test_a_conflict_the_probe_missed_falls_back_to_the_stage(pg_env, monkeypatch, caplog):
    """The direct COPY runs in a savepoint: if a batch the probe called new meets a stored key
    after all, it is recorded through the stage table instead, and nothing is counted twice."""
    from models import recording

    cid = make_campaign()
    with session_scope() as s:
        assert record_episodes(s, [rec(cid, i, False) for i in range(5)]).inserted == 5
    monkeypatch.setattr(recording, "_any_stored", lambda driver, recs: False)
    with session_scope() as s:
        result = record_episodes(s, [rec(cid, i, i % 2 == 0) for i in range(10)])
    assert (result.inserted, result.duplicates, result.successes) == (5, 5, 2)  # seeds 6, 8
    assert "recording it via the stage" in caplog.text
    with session_scope() as s:
        ctask = s.scalars(select(CampaignTask)).one()
        assert (ctask.successes, ctask.attempts) == (2, 10)
        assert s.scalar(select(func.count()).select_from(Episode)) == 10
        assert s.scalar(select(func.sum(EpisodeStat.count))) == 10


def test_recording_stops_at_target_successes_but_keeps_every_failure(blazer_env):
    cid = make_campaign(target=5)
    with session_scope() as s:
        result = record_episodes(s, [rec(cid, i, True) for i in range(8)])
    assert (result.inserted, result.surplus) == (5, 3)
    with session_scope() as s:  # a job that was running when the task filled up
        late = record_episodes(s, [rec(cid, 10 + i, i == 0) for i in range(3)])
    assert (late.inserted, late.surplus) == (2, 1)
    with session_scope() as s:
        ctask = s.scalars(select(CampaignTask)).one()
        assert (ctask.successes, ctask.surplus_discarded, ctask.attempts) == (5, 4, 11)
        assert sorted(s.scalars(select(Episode.seed))) == [0, 1, 2, 3, 4, 11, 12]
        assert s.scalar(select(func.sum(EpisodeStat.count))) == 11  # stats count every attempt
        status = campaigns.status(s, "c1")
    assert status["tasks"][0]["success_rate"] == round(9 / 11, 4)


def test_stats_match_episodes(blazer_env):
    cid = make_campaign(tasks=("PickCube-v1", "PushCube-v1"))
    batch = [
        rec(
            cid,
            i,
            i % 4 == 0,
            task=t,
            reason=FailureReason.PARSE_ERROR if i % 2 else FailureReason.MOTION_FAILED,
        )
        for t in ("PickCube-v1", "PushCube-v1")
        for i in range(40)
    ]
    with session_scope() as s:
        record_episodes(s, batch)
        rows = {r.task: r for r in episode_stats(s, "c1")}
    assert rows["PickCube-v1"].attempts == 40 and rows["PickCube-v1"].successes == 10
    assert rows["PushCube-v1"].failures == {"parse_error": 20, "motion_failed": 10}
    low, high = rows["PickCube-v1"].interval
    assert low < 0.25 < high and (low, high) == wilson_interval(10, 40)


def test_stream_filters(blazer_env):
    cid = make_campaign(target=100_000)
    with session_scope() as s:
        record_episodes(s, [rec(cid, i, i % 2 == 0) for i in range(5000)])
    with session_scope() as s:
        rows = list(
            stream_episodes(
                s, EpisodeFilter(campaign="c1", success=True, seed_min=100, seed_max=2099)
            )
        )
        assert len(rows) == 1000 and all(r["success"] and 100 <= r["seed"] <= 2099 for r in rows)
        assert [r["seed"] for r in rows] == sorted(r["seed"] for r in rows)
        assert len(list(stream_episodes(s, EpisodeFilter(limit=2500)))) == 2500


def test_cli_query_and_stats(blazer_env):
    cid = make_campaign()
    with session_scope() as s:
        record_episodes(s, [rec(cid, i, i < 3) for i in range(6)])
    out = run_cli("episodes", "query", "--campaign", "c1", "--failure", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["seed"] for r in rows] == [3, 4, 5] and {r["failure_reason"] for r in rows} == {
        "task_failed"
    }
    out = run_cli("episodes", "query", "--format", "csv", "--full", "--limit", "2")
    parsed = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(parsed) == 2 and json.loads(parsed[0]["plan"]) == [{"op": "done"}]
    out = run_cli("episodes", "query", "--campaign", "c1")  # an 80-column table that reads
    assert out.returncode == 0 and "failure_reason" in out.stdout and "6 episodes" in out.stdout
    out = run_cli("episodes", "query", "--columns", "seed,success", "--task", "PushCube-v1")
    assert out.returncode == 0 and out.stdout.strip() == "0 episodes"
    for args, message in [
        (("--seed-min", "99999999999999999999999"), "--seed-min must be a seed from 0 to"),
        (("--limit", "-5"), "--limit must be at least 1"),
        (("--columns", "seed,nope"), "--columns: unknown nope"),
    ]:
        out = run_cli("episodes", "query", *args)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and message in out.stderr, (
            out.stderr
        )
    out = run_cli("stats", "--json")
    assert json.loads(out.stdout)[0]["successes"] == 3
    assert "PickCube-v1" in run_cli("stats").stdout


def test_stats_fast_path_matches_the_full_one_and_skips_the_heavy_imports(blazer_env):
    """`blazer stats` reads through the DBAPI driver (no SQLAlchemy, no alembic, no ORM), gives
    what the SQLAlchemy path gives, and leaves anything unusual to the full path."""
    from models.dbapi import fetch_at_head
    from models.stats import episode_stats_fast

    cid = make_campaign(tasks=("PickCube-v1", "PushCube-v1"))
    with session_scope() as s:
        record_episodes(
            s,
            [
                rec(cid, i, i % 3 == 0, task=t)
                for t in ("PickCube-v1", "PushCube-v1")
                for i in range(9)
            ],
        )
        full = [r.to_json() for r in episode_stats(s)]
    assert [r.to_json() for r in episode_stats_fast(blazer_env)] == full
    assert [r.to_json() for r in episode_stats_fast(blazer_env, "c1")] == full
    assert episode_stats_fast(blazer_env, "nope") == []
    with session_scope() as s:  # a schema not at head: the fast path steps aside
        s.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    assert fetch_at_head(blazer_env, "SELECT 1") is None
    out = run_cli("stats")
    assert out.returncode == 2 and "run `blazer db upgrade`" in out.stderr, out.stderr
    with session_scope() as s:
        s.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": SCHEMA_HEAD})
    out = run_cli("-X", "importtime", "-m", "blazer.cli", "stats", "--json", python_flags=True)
    assert out.returncode == 0 and json.loads(out.stdout) == full, out.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    # pydantic: neither the settings nor the CLI library may bring it (~100 ms, see pyproject)
    heavy = {"sqlalchemy", "alembic", "sqlalchemy.orm", "rich", "celery", "torch", "pydantic"}
    assert not imported & heavy
    out = run_cli("-X", "importtime", "-m", "blazer.cli", "--help", python_flags=True)
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert out.returncode == 0 and "experiment" in out.stdout and "pydantic" not in imported


def test_settings_read_each_type_from_the_environment():
    from models.errors import ConfigError
    from models.settings import Settings

    env = {
        "BLAZER_EPISODE_TIMEOUT_S": "5.5",
        "blazer_data_dir": "/tmp/d",
        "BLAZER_VULKAN_DIR": "",
        "BLAZER_SAM_CHECKPOINT": "/w/sam.pth",
        "BLAZER_NO_REEXEC": "Yes",
        "BLAZER_QUEUE_DEPTH_PER_WORKER": "3",
        "BLAZER_LOG_LEVEL": "INFO",
        "PATH": "/bin",
        "BLAZER_NOT_A_SETTING": "ignored",
    }
    s = Settings.from_env(env)
    assert (s.episode_timeout_s, s.data_dir, s.vulkan_dir, s.sam_checkpoint) == (
        5.5,
        Path("/tmp/d"),
        None,
        Path("/w/sam.pth"),
    )
    assert (s.no_reexec, s.queue_depth_per_worker, s.log_level) == (True, 3, "INFO")
    assert Settings.from_env({}) == Settings()  # unset: every default
    assert Settings.from_env({"BLAZER_NO_REEXEC": "off"}).no_reexec is False
    for name, raw in (("QUEUE_DEPTH_PER_WORKER", "2.5"), ("NO_REEXEC", "maybe")):
        with pytest.raises(ConfigError, match=f"BLAZER_{name}='{raw}' is not a valid"):
            Settings.from_env({f"BLAZER_{name}": raw})


def test_cli_errors_are_one_line(tmp_path, sqlite_url):
    cases = {
        "bad url": ({"BLAZER_DATABASE_URL": "nosuchdb://x"}, "unsupported database URL"),
        "mysql": ({"BLAZER_DATABASE_URL": "mysql://u@h/db"}, "blazer runs on postgresql or sqlite"),
        "unreachable": (
            {"BLAZER_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/x"},
            "cannot use the database",
        ),
        "no schema": ({"BLAZER_DATABASE_URL": sqlite_url}, "blazer db upgrade"),
        "bad setting": (
            {"BLAZER_EPISODE_TIMEOUT_S": "soon"},
            "BLAZER_EPISODE_TIMEOUT_S='soon' is not a valid float",
        ),
    }
    for what, (env, needle) in cases.items():
        out = run_cli("stats", env=env)
        assert out.returncode != 0, what
        assert needle in out.stderr and "Traceback" not in out.stderr, (what, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1, (what, out.stderr)
    # an older schema: upgrade to head, then step back one revision by hand
    upgrade(sqlite_url)
    with get_engine(sqlite_url).begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'old0'")
    out = run_cli("stats", env={"BLAZER_DATABASE_URL": sqlite_url})
    assert out.returncode != 0 and "not know" in out.stderr, out.stderr
    for cmd in (("stats",), ("db", "upgrade")):  # an unknown revision: no advice to upgrade
        out = run_cli(*cmd, env={"BLAZER_DATABASE_URL": sqlite_url})
        assert out.returncode != 0 and "revision 'old0'" in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    with get_engine(sqlite_url).begin() as conn:  # tables, but no version row
        conn.exec_driver_sql("DROP TABLE alembic_version")
    out = run_cli("db", "upgrade", env={"BLAZER_DATABASE_URL": sqlite_url})
    assert out.returncode != 0 and "has blazer tables" in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    # an older schema still gets the advice to upgrade
    old_url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(old_url, "0001")
    out = run_cli("stats", env={"BLAZER_DATABASE_URL": old_url})
    assert out.returncode != 0 and "run `blazer db upgrade`" in out.stderr
    out = run_cli("--debug", "stats", env={"BLAZER_DATABASE_URL": "nosuchdb://x"})
    assert "Traceback" in out.stderr


def test_cli_db_upgrade(sqlite_url):
    out = run_cli("db", "upgrade", env={"BLAZER_DATABASE_URL": sqlite_url})
    assert out.returncode == 0, out.stderr
    assert "episodes" in inspect(get_engine(sqlite_url)).get_table_names()


def test_every_command_in_the_table_builds_with_its_options():
    """The CLI builds each command from COMMANDS only when it runs: every entry must name a
    real command, and groups stay groups (`blazer plan check FILE`)."""
    from blazer.app import COMMANDS, LazyGroup

    group = LazyGroup(name="blazer")
    for name in COMMANDS:
        command = group.get_command(None, name)
        assert command is not None and command.name == name
        assert command.params or getattr(command, "commands", None), name
    assert "check" in group.get_command(None, "plan").commands
    assert group.get_command(None, "nope") is None


def test_model_text_is_shown_as_written_never_obeyed(blazer_env):
    """A completion holding rich markup or terminal escapes: the table shows the markup as
    text (``[/bold]`` used to crash it) and no control character reaches the terminal."""
    import dataclasses

    cid = make_campaign()
    hostile = "[/bold][red]x\x1b[2J\x1b]0;owned\x07\rdone"
    with session_scope() as s:
        record_episodes(s, [dataclasses.replace(rec(cid, 1, False), completion=hostile)])
    for fmt in ("table", "csv"):
        out = run_cli("episodes", "query", "--full", "--format", fmt, env={"COLUMNS": "400"})
        assert out.returncode == 0, out.stderr
        assert "\x1b" not in out.stdout and "\x07" not in out.stdout and "\r" not in out.stdout
        assert "[/bold][red]x" in out.stdout, out.stdout
