"""The adversarial review's findings on the job path (Reliability 3): a value the database
refuses, a server's odd usage counts, a delivery that raised, an odd OpenAI-compatible reply,
a simulator child that dies mid-reply. Real PostgreSQL (COPY refuses NUL), real workers'
code, the real simulator child."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from models import jobs
from models.db import session_scope
from models.orm import Episode, Job
from models.recording import record_episodes
from models.types import EpisodeRecord, FailureReason
from scheduler import campaigns
from scheduler.loop import Scheduler
from scheduler.publishers import InlinePublisher
from scheduler.spec import CampaignSpec


def noop_campaign(name: str = "n", successes: int = 2) -> int:
    with session_scope() as s:
        c = campaigns.create_campaign(
            s,
            CampaignSpec.from_dict(
                {
                    "name": name,
                    "tasks": ["PickCube-v1"],
                    "teacher": {"kind": "noop"},
                    "simulator": "noop",
                    "successes": successes,
                    "block_size": 2,
                }
            ),
        )
        return c.id


def test_a_nul_and_odd_token_counts_are_stored_not_fatal(pg_env):
    """PostgreSQL's COPY refuses NUL in text and jsonb; a server may send "12" as a count."""
    cid = noop_campaign()
    rec = EpisodeRecord(
        campaign_id=cid,
        task="PickCube-v1",
        robot="panda",
        seed=1,
        attempt=0,
        teacher="openai:m\x00",
        success=False,
        failure_reason=FailureReason.PARSE_ERROR,
        completion="```python\nx\x00 = 1\n```",
        plan=[{"op": "move\x00"}],
        scene={"task": "t\x00"},
        prompt_tokens="12",  # type: ignore[arg-type]
        completion_tokens=2**40,
    )
    with session_scope() as s:
        assert record_episodes(s, [rec]).inserted == 1
    with session_scope() as s:
        row = s.scalars(select(Episode)).one()
        assert row.completion == "```python\nx\ufffd = 1\n```" and row.teacher == "openai:m\ufffd"
        assert row.plan == [{"op": "move\ufffd"}] and row.scene == {"task": "t\ufffd"}
        assert row.prompt_tokens is None and row.completion_tokens is None


def test_a_delivery_whose_record_raised_is_handed_back_and_never_renewed(pg_env, monkeypatch):
    """Recording raised something other than a database error: the job goes back to pending
    (retried, then failed after its last delivery), its episodes are kept as bare failures,
    and the lease keeper no longer renews it."""
    from worker import job_runner

    noop_campaign()
    scheduler = Scheduler(InlinePublisher(), campaign="n")
    scheduler.tick()
    with session_scope() as s:
        job_id = s.scalars(select(Job.id).where(Job.state == "queued")).first()
    real = job_runner.record_episodes
    calls = {"n": 0}

    def refuse_twice(session, records, **kw):
        calls["n"] += 1
        if calls["n"] <= 2:  # the record, and its retry with the whole records
            raise ValueError("a value the driver refused")
        return real(session, records, **kw)

    monkeypatch.setattr(job_runner, "record_episodes", refuse_twice)
    runtime = job_runner.WorkerRuntime("review")
    try:
        assert job_runner.execute_job(job_id, runtime) == "retry"
        assert runtime.active == set()
        with session_scope() as s:
            job = s.get(Job, job_id)
            assert job.state == "pending" and "a value the driver refused" in job.error
            rows = s.scalars(select(Episode).where(Episode.job_id == job_id)).all()
            assert len(rows) == 2 and all(r.failure_reason == "sim_error" for r in rows)
            assert all("not storable" in r.failure_detail for r in rows)
            # a job this process is not inside any more is not renewed, even if still RUNNING
            s.execute(update(Job).where(Job.id == job_id).values(state="running", worker="review"))
        with session_scope() as s:
            assert jobs.renew_leases(s, "review", 30, runtime.active) == 0
            assert jobs.renew_leases(s, "review", 30, {job_id}) == 1  # what renewal would do
    finally:
        runtime.close()


@pytest.mark.parametrize("content", [[{"type": "text", "text": "x"}], None])
def test_an_openai_reply_whose_content_is_not_text_is_a_teacher_error(blazer_env, content):
    """A real HTTP server answering with content that is not text: one teacher_error episode
    through the real rollout and simulator (it failed the whole block before)."""
    import json

    from tests.conftest import run_cli
    from tests.openai_servers import ScriptedServer

    server = ScriptedServer(content)
    try:
        args = ("sim", "try", "--teacher", "openai", "--model", "m", "--base-url", server.url)
        out = run_cli(*args, "--json")
    finally:
        server.stop()
    assert out.returncode == 1, out.stderr[-2000:]
    episode = json.loads(out.stdout)
    assert episode["failure_reason"] == "teacher_error", episode
    assert "message content is" in episode["failure_detail"], episode


def test_odd_usage_counts_are_left_out():
    import httpx

    from manip.teachers.openai_http import _parse

    reply = {
        "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": "7", "completion_tokens": True},
    }
    ok = _parse(httpx.Response(200, json=reply), 0.1)
    assert ok.text == "hi" and ok.prompt_tokens is None and ok.completion_tokens is None


def test_a_partial_reply_from_a_dying_simulator_is_one_sim_error(tmp_path, monkeypatch):
    """The simulator child writes half a reply line and dies: one sim_error episode, and the
    next episode runs in a fresh child."""
    from manip.rollout import Block, run_block
    from manip.sim.isolated import IsolatedSimulator
    from manip.teachers.expert import ExpertTeacher
    from tests.conftest import _reset_caches

    monkeypatch.setenv("BLAZER_SIM_FAULTS", "partial:PickCube-v1:1")
    _reset_caches()
    sim = IsolatedSimulator(episode_timeout_s=120)
    try:
        block = Block(1, "PickCube-v1", "panda", [1, 2])
        records = [o.record for o in run_block(block, sim, ExpertTeacher())]
    finally:
        sim.close()
        monkeypatch.delenv("BLAZER_SIM_FAULTS")
        _reset_caches()
    reasons = [r.failure_reason for r in records]
    assert reasons[0] == FailureReason.SIM_ERROR and "reply" in records[0].failure_detail
    assert records[1].success, records[1].failure_detail


def test_episodes_rerun_from_their_rows_reproduce(blazer_env, tmp_path):
    """With a new PhysX system per episode (the default), an episode is a function of its
    row: re-run in another order, in another process, every verdict and every resting
    position is the same."""
    env: dict[str, str] = {}
    spec = tmp_path / "r.yaml"
    spec.write_text(
        "name: r\ntasks: [StackCube-v1, PickCube-v1]\nteacher: {kind: expert}\n"
        "successes: 2\nattempt_cap: 2\nseed_split: eval\nblock_size: 2\n"
    )
    from tests.conftest import run_cli

    assert run_cli("campaign", "run", str(spec), env=env).returncode == 0
    with session_scope() as s:
        rows = s.scalars(select(Episode)).all()
        assert len(rows) == 4 and all(r.final_positions for r in rows)
    out = run_cli("episodes", "rerun", "--campaign", "r", "--shuffle", "3", "--json", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["reproduced"] == summary["episodes"] == 4, summary
    assert summary["drift_mm_max"] == 0.0 and summary["not_reproduced"] == [], summary
    bad = run_cli("episodes", "rerun", "--campaign", "nope")
    assert bad.returncode != 0 and "no campaign named 'nope'" in bad.stderr
