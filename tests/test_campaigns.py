"""Campaigns without a broker: specs, planning, pause/resume/cancel, embedded runs to N."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from models import jobs
from models.db import session_scope
from models.errors import ConfigError
from models.orm import Campaign, CampaignTask, Episode, Job
from models.types import CampaignState, JobState, SeedSplit
from scheduler import campaigns
from scheduler.loop import Scheduler
from scheduler.planner import needed_attempts
from scheduler.publishers import InlinePublisher
from scheduler.spec import CampaignSpec
from tests.conftest import run_cli


def spec(**over) -> CampaignSpec:
    data = {"name": "c", "tasks": ["PickCube-v1", "PullCube-v1"], "successes": 4, "block_size": 2}
    return CampaignSpec.from_dict({**data, **over})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x", "tasks": ["NoTask-v1"]}, "unknown task 'NoTask-v1'"),
        (
            {"name": "x", "tasks": ["PushCube-v1"], "robots": ["ur5"]},
            "does not support robot 'ur5'",
        ),
        ({"name": "x", "tasks": ["PickCube-v1"], "record": {"cameras": ["top"]}}, "record.cameras"),
        (
            {"name": "x", "tasks": ["PickCube-v1"], "record": {}, "simulator": "noop"},
            "'record' needs the maniskill simulator",
        ),
        (
            {"name": "x", "tasks": ["PickCube-v1"], "successes": 0},
            "'successes' must be a positive integer",
        ),
        (
            {"name": "x", "tasks": ["PickCube-v1"], "successes": -3},
            "'successes' must be a positive integer",
        ),
        (
            {"name": "x", "tasks": ["PickCube-v1"], "teacher": {"kind": "gpt9"}},
            "teacher.kind 'gpt9'",
        ),
        ({"name": "x", "tasks": ["PickCube-v1"], "sucesses": 3}, "unknown field(s) sucesses"),
        (
            {"name": "x", "tasks": ["PickCube-v1"], "successes": 10**9},
            "'successes' must be a positive integer <= 100,000,000",
        ),
        (
            {"name": "x", "tasks": ["PickCube-v1"], "block_size": 10**9},
            "'block_size' must be a positive integer <= 1,000",
        ),
        (
            {"name": "x", "tasks": ["PickCube-v1"], "attempt_cap": 2**40},
            "'attempt_cap' must be an integer from successes",
        ),
        (
            {"name": "x", "tasks": ["PickCube-v1"], "samples_per_seed": 0},
            "'samples_per_seed' must be a positive integer",
        ),
        ({"name": "x", "tasks": ["PickCube-v1"], "seed_split": "test"}, "'seed_split' must be"),
        ({"tasks": ["PickCube-v1"]}, "'name' and 'tasks' are required"),
    ],
)
def test_bad_specs_name_the_problem(data, message):
    with pytest.raises(ConfigError) as err:
        CampaignSpec.from_dict(data)
    assert message in str(err.value)


def test_bad_spec_files_fail_before_anything_is_queued(tmp_path, sqlite_url):
    env = {"BLAZER_DATABASE_URL": sqlite_url}
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("name: x\ntasks: [PickCube-v1\n")
    for path, needle in [
        (bad_yaml, "is not valid YAML at line"),
        (tmp_path / "none.yaml", "cannot read campaign spec"),
    ]:
        out = run_cli("campaign", "create", str(path), env=env)
        assert (
            out.returncode == 2
            and needle in out.stderr
            and len(out.stderr.strip().splitlines()) == 1
        )
    zero = tmp_path / "zero.yaml"
    zero.write_text("name: x\ntasks: [PickCube-v1]\nsuccesses: 0\n")
    out = run_cli("campaign", "run", str(zero), env=env)
    assert out.returncode == 2 and "'successes' must be a positive integer" in out.stderr
    assert not (tmp_path / "blazer.db").exists()  # nothing was written


def test_needed_attempts_tracks_the_observed_rate():
    assert needed_attempts(0, 0, 10) == 22  # no data: assume 50%
    assert needed_attempts(5, 5, 10) < needed_attempts(5, 50, 10)
    assert needed_attempts(10, 12, 10) == 0


def test_scheduler_plans_disjoint_seed_blocks_and_bounds_the_queue(blazer_env):
    with session_scope() as s:
        campaigns.create_campaign(s, spec(successes=50, attempt_cap=120, seed_split="eval"))
    pub = InlinePublisher(workers=3)
    sched = Scheduler(pub, campaign="c")
    assert sched.tick()
    with session_scope() as s:
        rows = s.execute(
            select(Job.campaign_task_id, Job.seed_start, Job.seed_count, Job.state)
        ).all()
    seeds = {}
    for tid, start, count, _ in rows:
        block = set(range(start, start + count))
        assert not block & seeds.setdefault(tid, set()), "a seed was planned twice"
        seeds[tid] |= block
    assert all(
        SeedSplit.of_seed(seed) == SeedSplit.EVAL for block in seeds.values() for seed in block
    )
    queued = [r for r in rows if r.state == JobState.QUEUED.value]
    assert len(queued) == len(pub.ready) == 6  # 2 per live worker, never the whole backlog
    assert sched.tick() and len(pub.ready) == 6  # nothing ran: the queue is full, nothing more sent
    # a second scheduler on the same database stands by
    assert not Scheduler(InlinePublisher(), holder="other").tick()


def test_the_queue_follows_the_rate_the_workers_take_jobs(blazer_env):
    """No fixed-tick ceiling: when the workers took jobs since the last tick, the scheduler
    keeps more than the per-worker floor queued, in proportion to that rate."""
    with session_scope() as s:
        campaigns.create_campaign(
            s, spec(tasks=["PickCube-v1"], successes=10_000, attempt_cap=10_000, block_size=2)
        )
    pub = InlinePublisher(workers=1)
    sched = Scheduler(pub, campaign="c")
    assert sched.tick() and len(pub.ready) == 2  # the floor: 2 per live worker
    time.sleep(0.2)
    assert sched.tick() and len(pub.ready) == 2  # nothing taken: nothing more sent
    with session_scope() as s:  # a worker takes both
        assert all(jobs.claim(s, j, "w1", 60)[0] == jobs.Claim.RUN for j in pub.ready)
    pub.ready.clear()
    time.sleep(0.2)
    assert sched.tick()
    assert len(pub.ready) > 2, "the queue stayed at the floor although the workers emptied it"


def test_planner_counts_samples_per_seed_as_attempts(blazer_env):
    """k samples per seed: a job of s seeds is s*k attempts, and the cap bounds attempts."""
    with session_scope() as s:
        campaigns.create_campaign(
            s,
            spec(
                tasks=["PickCube-v1"], successes=5, attempt_cap=20, block_size=3, samples_per_seed=4
            ),
        )
    Scheduler(InlinePublisher(workers=8), campaign="c").tick()
    with session_scope() as s:
        planned = sum(s.scalars(select(Job.seed_count)).all())
    # 11 attempts wanted at the prior 50% rate: one block of 3 seeds x 4 samples, not 11 seeds
    assert planned == 3


def test_pause_resume_cancel(blazer_env):
    with session_scope() as s:
        campaigns.create_campaign(s, spec())
    pub = InlinePublisher()
    sched = Scheduler(pub, campaign="c")
    sched.tick()
    first = pub.ready.pop(0)
    with session_scope() as s:
        campaigns.set_state(s, "c", CampaignState.PAUSED)
    with session_scope() as s:
        verdict, job = jobs.claim(s, first, "w1", 60)
        assert verdict == jobs.Claim.SKIP and job.state == JobState.PENDING.value  # back in line
    pub.ready.clear()
    sched.tick()
    assert pub.ready == []  # paused: nothing published
    with session_scope() as s:
        campaigns.set_state(s, "c", CampaignState.ACTIVE)
    sched.tick()
    assert first in pub.ready
    with session_scope() as s:
        campaigns.set_state(s, "c", CampaignState.CANCELLED)
    with session_scope() as s:
        states = set(s.scalars(select(Job.state)))
        assert states == {JobState.CANCELLED.value}


def test_embedded_campaign_reaches_exactly_n(blazer_env):
    out = run_cli(
        "campaign",
        "run",
        "--name",
        "emb",
        "--tasks",
        "PickCube-v1,PullCube-v1",
        "-n",
        "3",
        "--block-size",
        "2",
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "campaign 'emb': done" in out.stdout
    with session_scope() as s:
        cid = s.scalar(select(Campaign.id).where(Campaign.name == "emb"))
        for ctask in s.scalars(select(CampaignTask).where(CampaignTask.campaign_id == cid)):
            n = s.scalar(
                select(func.count())
                .select_from(Episode)
                .where(
                    Episode.campaign_id == cid,
                    Episode.task == ctask.task,
                    Episode.success.is_(True),
                )
            )
            assert n == ctask.successes == 3
        assert s.scalar(select(func.count()).select_from(Job).where(Job.state.in_(jobs.OPEN))) == 0
        # every verified episode keeps the task's named checks (PickCube: is_obj_placed, ...)
        checks = s.scalars(
            select(Episode.checks).where(Episode.campaign_id == cid, Episode.success.is_(True))
        ).all()
        assert checks and all(c["success"] for c in checks), checks
        assert any({"is_obj_placed", "is_robot_static"} <= set(c) for c in checks), checks
    status = json.loads(run_cli("campaign", "status", "emb", "--json").stdout)
    assert status["state"] == "done" and all(t["successes"] == 3 for t in status["tasks"])
    # running the same spec again resumes the finished campaign instead of duplicating it
    again = run_cli(
        "campaign", "run", "--name", "emb", "--tasks", "PickCube-v1,PullCube-v1", "-n", "3"
    )
    assert again.returncode == 0 and "resuming campaign 'emb'" in again.stdout
    listed = run_cli("campaign", "list").stdout
    assert "emb" in listed and "done" in listed


def test_embedded_campaign_whose_jobs_raise_ends_failed(blazer_env, tmp_path):
    """The same failure arm without a broker: each job is delivered job_max_deliveries times,
    marked failed with the reason, and the command exits 1 with one line saying why."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\ntasks: [PullCube-v1]\nteacher: {kind: openai, model: m}\n"
        "successes: 2\nblock_size: 2\n"
    )
    out = run_cli("campaign", "run", str(bad))
    assert out.returncode == 1, out.stderr[-2000:]
    assert "campaign 'bad': failed (every job failed" in out.stdout and "base_url" in out.stdout
    with session_scope() as s:
        states = s.execute(select(Job.state, Job.deliveries)).all()
    assert states and all(st == "failed" and d == 3 for st, d in states), states
    status = json.loads(run_cli("campaign", "status", "bad", "--json").stdout)
    assert status["failed_jobs"] and "base_url" in status["failed_jobs"][0]["error"]


def test_retrain_trigger_lease_hands_a_dead_workers_run_out_once(blazer_env):
    """A retrain trigger is held by one train worker at a time; when its heartbeat is older
    than the lease the scheduler puts it back to pending (once), and a finished one is never
    claimed again, so a redelivered message runs nothing twice."""
    from datetime import timedelta

    from models.orm import TrainingRun, utcnow
    from models.training_runs import LeaseLost, claim_trigger, finish_run, heartbeat
    from scheduler.retrain_policy import stale_retrains

    with session_scope() as s:
        c = campaigns.create_campaign(s, spec())
        run = TrainingRun(
            kind="sft", base_model="m", state="pending", lineage="l", campaign_id=c.id
        )
        s.add(run)
        s.flush()
        rid = run.id
    with session_scope() as s:
        assert claim_trigger(s, rid, "w1", lease_s=60).worker == "w1"
    with session_scope() as s:
        assert claim_trigger(s, rid, "w2", lease_s=60) is None  # w1 is alive
        assert stale_retrains(s, lease_s=60) == []
        s.get(TrainingRun, rid).heartbeat_at = utcnow() - timedelta(seconds=120)  # w1 died
    with session_scope() as s:
        assert stale_retrains(s, lease_s=60) == [rid]
        assert stale_retrains(s, lease_s=60) == []  # handed out once, not every tick
    with session_scope() as s:
        assert claim_trigger(s, rid, "w2", lease_s=60).worker == "w2"
    heartbeat(rid, "w2")
    with pytest.raises(LeaseLost):  # w1 comes back: it must stop, not finish w2's run
        heartbeat(rid, "w1")
    finish_run(rid, metrics={"ok": True})
    with session_scope() as s:
        assert claim_trigger(s, rid, "w3", lease_s=60) is None
        assert s.get(TrainingRun, rid).state == "done"


@pytest.mark.parametrize(
    "name", ["../../../../tmp/x", "a/b", "..", ".hidden", "x" * 201, "a b", "ok..no"]
)
def test_a_name_that_would_leave_the_data_folder_is_one_line(name):
    """Every name that becomes a path is checked in one place (models.names)."""
    from models.names import check_name
    from scheduler.retrain_policy import RetrainPolicy
    from training.datasets import DatasetSpec
    from training.runs import default_run_dir

    for make in (
        lambda: check_name("thing", name),
        lambda: RetrainPolicy.from_spec({"every": 1, "lineage": name}),
        lambda: DatasetSpec(name, ["c"]).validate(),
        lambda: default_run_dir("sft", name),
        lambda: spec(name="c", bootstrap={"lineage": name}),
    ):
        with pytest.raises(ConfigError, match="not allowed|non-empty"):
            make()
    if name:
        with pytest.raises(ConfigError, match="not allowed|non-empty"):
            spec(name=name)


def test_a_retrain_lineage_out_of_the_data_folder_is_refused_on_the_command_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: c\ntasks: [PickCube-v1]\nretrain: {every: 1, lineage: ../../../../tmp/x}\n"
    )
    out = run_cli("campaign", "create", str(bad), env={"BLAZER_DATA_DIR": str(tmp_path)})
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "retrain lineage name '../../../../tmp/x' is not allowed" in out.stderr
