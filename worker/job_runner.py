"""Run one job: claim it, run its seed block, record the episodes, finish it.

Reads like rq's worker loop: claim -> run (heartbeat between episodes) -> record ->
finish, with the job's state owned by ``models.jobs``. Safe to run twice for the same job:
the claim refuses a job another worker holds, and recording is idempotent.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from typing import Any

from manip.rollout import Block, run_block
from manip.sim import make_simulator
from manip.teachers import make_teacher
from models import jobs
from models.db import session_scope
from models.errors import DatabaseError
from models.orm import Campaign, CampaignTask
from models.recording import record_episodes
from models.registry import current_version
from models.settings import get_settings
from models.types import EpisodeRecord, FailureReason
from worker.trajectories import store_trajectories

log = logging.getLogger(__name__)

RECORD_RETRY_S = 120.0  # keep trying to record a finished block while the database is away
# Between episodes a job asks the database whether to go on (task full, campaign paused or
# cancelled) at most this often; the lease itself is renewed by LeaseKeeper. Short episodes
# (a no-op simulator runs thousands a second) would otherwise spend their time on beats.
HEARTBEAT_EVERY_S = 1.0
TEACHERS_KEPT = 2  # loaded teachers a worker keeps (a bootstrap lineage moves to new versions)


def _fail_delivery(job_id: int, runtime: WorkerRuntime, exc: Exception, records: list) -> str:
    """Keep the episodes that finished; count the delivery; fail the job after the last."""
    error = f"{exc.__class__.__name__}: {exc}"[:2000]
    log.error("job %s raised: %s", job_id, error)
    try:
        with session_scope() as session:
            result = record_episodes(session, records)
    except DatabaseError:
        raise
    except Exception as record_exc:  # they cannot be stored as they are: keep what they were
        log.exception("job %s: episodes not storable; recording them bare", job_id)
        with session_scope() as session:
            result = record_episodes(session, [_bare(r, record_exc) for r in records])
    with session_scope() as session:
        verdict = jobs.fail_delivery(
            session, job_id, runtime.name, error, get_settings().job_max_deliveries
        )
    log.warning("job %s %s (%d episodes kept)", job_id, verdict.value, result.inserted)
    return verdict.value


def _bare(record: EpisodeRecord, exc: Exception) -> EpisodeRecord:
    """An episode whose values could not be stored, kept as the attempt it was: its key,
    teacher and outcome, a sim_error with the reason, none of the text that failed."""
    return EpisodeRecord(
        campaign_id=record.campaign_id,
        task=record.task,
        robot=record.robot,
        seed=record.seed,
        attempt=record.attempt,
        teacher=record.teacher[:200],
        success=False,
        failure_reason=FailureReason.SIM_ERROR,
        failure_detail=f"episode not storable: {exc.__class__.__name__}: {exc}"[:1000],
        worker=record.worker,
        job_id=record.job_id,
    )


def resolve_lineage(session, config: dict[str, Any]) -> dict[str, Any]:
    """A teacher config whose ``model`` names a lineage asks the lineage's promoted version,
    looked up as each job runs (a bootstrap round's teacher is the latest promotion)."""
    model = config.get("model")
    if not model:
        return config
    version = current_version(session, model)
    return config if version is None else {**config, "model": version.name}


def default_worker_name() -> str:
    return f"blazer-{os.getpid()}@{socket.gethostname()}"


class LeaseKeeper(threading.Thread):
    """Renews the leases of this process's running jobs every lease/4 seconds, whatever the
    job is doing (a long teacher call, a slow episode), so a lease can be short: when the
    process dies the renewals stop and the job goes back to the queue within one lease."""

    def __init__(self, worker: str, active: set[int]) -> None:
        super().__init__(name=f"lease-keeper-{worker}", daemon=True)
        self.worker = worker
        self.active = active  # the runtime's: jobs whose code is running now
        self.stopped = threading.Event()

    def run(self) -> None:
        lease_s = get_settings().job_lease_s
        while not self.stopped.wait(lease_s / 4):
            try:
                with session_scope() as session:
                    jobs.renew_leases(session, self.worker, lease_s, set(self.active))
            except DatabaseError as exc:  # the database is away: the next round tries again
                log.warning("lease renewal failed (%s)", exc)


class WorkerRuntime:
    """What a worker process keeps between jobs: simulators and (expensive) teachers."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or default_worker_name()
        self._simulators: dict[str, Any] = {}
        self._teachers: dict[str, Any] = {}
        self._keeper: LeaseKeeper | None = None
        self.active: set[int] = set()  # jobs execute_job is inside of (their leases renew)

    def keep_leases(self) -> None:
        """Start the lease keeper (once, in the process that runs the jobs)."""
        if self._keeper is None or not self._keeper.is_alive():
            self._keeper = LeaseKeeper(self.name, self.active)
            self._keeper.start()

    def simulator(self, kind: str):
        if kind not in self._simulators:
            self._simulators[kind] = make_simulator(
                kind, episode_timeout_s=get_settings().episode_timeout_s
            )
        return self._simulators[kind]

    def teacher(self, kind: str, config: dict[str, Any]):
        key = kind + json.dumps(config, sort_keys=True)
        if key not in self._teachers:
            while len(self._teachers) >= TEACHERS_KEPT:  # a lineage's old versions go
                _, old = self._teachers.popitem()
                old.close()
            self._teachers[key] = make_teacher(kind, config)
        return self._teachers[key]

    def close(self) -> None:
        if self._keeper is not None:
            self._keeper.stopped.set()
        for thing in [*self._simulators.values(), *self._teachers.values()]:
            try:
                thing.close()
            except Exception:  # closing is best effort
                log.exception("close failed")
        self._simulators.clear()
        self._teachers.clear()


def execute_job(job_id: int, runtime: WorkerRuntime) -> str:
    """Run one job to the end; returns what happened (done, skipped, stopped, released, lost,
    retry, failed). Its lease is renewed only while this runs."""
    runtime.active.add(job_id)
    try:
        return _execute(job_id, runtime)
    finally:
        runtime.active.discard(job_id)


def _execute(job_id: int, runtime: WorkerRuntime) -> str:
    lease_s = get_settings().job_lease_s
    runtime.keep_leases()
    with session_scope() as session:
        verdict, job = jobs.claim(session, job_id, runtime.name, lease_s)
        if verdict != jobs.Claim.RUN:
            log.info("job %s skipped (%s)", job_id, job.state if job else "missing")
            return "skipped"
        campaign = session.get(Campaign, job.campaign_id)
        ctask = session.get(CampaignTask, job.campaign_task_id)
        spec = campaign.typed_spec
        seeds = list(range(job.seed_start, job.seed_start + job.seed_count))
        block = Block(
            campaign.id,
            ctask.task,
            ctask.robot,
            seeds,
            job.id,
            samples=spec.for_task(ctask.task, "samples_per_seed"),
            record=spec.record_spec,
            scene=spec.scene,
        )
        delivery = job.deliveries
        sim_kind = spec.simulator
        teacher_kind, teacher_config = campaign.teacher_kind, spec.teacher_config_for(ctask.task)
        teacher_config = resolve_lineage(session, teacher_config)

    last_beat: dict[str, Any] = {"beat": jobs.Beat.OK, "at": time.monotonic()}  # claim checked

    def keep_going(successes: int) -> bool:
        if time.monotonic() - last_beat["at"] < HEARTBEAT_EVERY_S:
            return last_beat["beat"] == jobs.Beat.OK
        last_beat["at"] = time.monotonic()
        try:
            with session_scope() as session:
                last_beat["beat"] = jobs.heartbeat(
                    session, job_id, runtime.name, lease_s, successes
                )
        except DatabaseError as exc:  # keep working; the record step waits for the database
            log.warning("job %s: heartbeat failed (%s); going on", job_id, exc)
            return True
        return last_beat["beat"] == jobs.Beat.OK

    log.info(
        "job %s: %s/%s seeds %s..%s",
        job_id,
        block.task,
        block.robot,
        block.seeds[0],
        block.seeds[-1],
    )
    outcomes: list = []
    try:
        run_block(
            block,
            runtime.simulator(sim_kind),
            runtime.teacher(teacher_kind, teacher_config),
            worker_name=runtime.name,
            keep_going=keep_going,
            outcomes=outcomes,
        )
    except DatabaseError:
        raise  # the task retries: the database is restarting
    except Exception as exc:  # the job cannot run here (bad teacher config, no simulator)
        finished = [o for o in outcomes if o.finished]
        store_trajectories(block, finished, delivery)
        return _fail_delivery(job_id, runtime, exc, [o.record for o in finished])
    try:
        store_trajectories(block, outcomes, delivery)
    except Exception as exc:  # an artifact store that raised what it should not: keep the rows
        log.exception("job %s: trajectories not stored", job_id)
        for o in outcomes:
            o.record.traj_error = f"trajectory not stored: {exc.__class__.__name__}: {exc}"[:500]
    records = [o.record for o in outcomes]
    beat = last_beat["beat"]
    deadline = time.monotonic() + RECORD_RETRY_S
    while True:
        try:
            with session_scope() as session:
                result = record_episodes(session, records)
                if beat == jobs.Beat.PAUSED:
                    jobs.release(session, job_id, runtime.name)
                    outcome = "released"
                elif beat == jobs.Beat.LOST:
                    outcome = "lost"
                else:
                    jobs.finish(session, job_id, runtime.name)
                    outcome = "done" if beat == jobs.Beat.OK else "stopped"
            break
        except DatabaseError:
            if time.monotonic() > deadline:
                raise
            log.warning("job %s: database unavailable, retrying the record", job_id)
            time.sleep(2.0)
        except Exception as exc:  # a value the database refused: the block's job fails over
            return _fail_delivery(job_id, runtime, exc, records)
    log.info(
        "job %s %s: %d new episodes, %d successes, %d duplicates, %d surplus",
        job_id,
        outcome,
        result.inserted,
        result.successes,
        result.duplicates,
        result.surplus,
    )
    return outcome
