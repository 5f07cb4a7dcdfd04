"""The scheduler loop: one tick = hold the lease, recover lost work, top up, publish.

All state is in the database, so a restarted scheduler carries on where the last one
stopped, and a second scheduler stands by until the first one's lease runs out.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models import jobs, upkeep
from models.db import dialect_insert, rowcount, session_scope
from models.errors import BlazerError
from models.orm import Campaign, Job, SchedulerLease, utcnow
from models.settings import get_settings
from models.types import CampaignState, JobState
from scheduler.planner import WINDOW_JOBS_PER_TASK, plan_campaign
from scheduler.retrain_policy import due_bootstrap, due_retrains, stale_retrains

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
LEASE_S = 15.0
PING_EVERY_TICKS = 5
# Queued jobs kept: at least queue_depth_per_worker per live worker, and at least what the
# workers started over this many ticks at the observed rate, so the queue never runs dry
# between ticks and throughput is bounded by the workers, not by the scheduler's clock.
RATE_HEADROOM_TICKS = 3.0
RATE_SMOOTHING = 0.5  # weight of the newest tick in the started-jobs rate


class Publisher(Protocol):
    """Where published jobs go: a Celery queue, or this process (embedded mode)."""

    def publish(self, job_ids: list[int]) -> None: ...

    def publish_training(self, run_ids: list[int]) -> None: ...

    def live_workers(self) -> int: ...

    def queue_depth(self) -> int | None:
        """Messages waiting in the broker's queue; None where it cannot say."""
        ...

    def broker_run_id(self) -> str | None: ...


class Scheduler:
    def __init__(
        self, publisher: Publisher, *, holder: str | None = None, campaign: str | None = None
    ) -> None:
        self.publisher = publisher
        self.holder = holder or f"scheduler-{os.getpid()}@{socket.gethostname()}"
        self.campaign = campaign  # None = every active campaign
        self.settings = get_settings()
        self._ticks = 0
        self._workers = 1
        self._started_per_s = 0.0  # jobs the workers took from the queue, smoothed
        self._queued_after: int | None = None  # queued jobs right after the last publish
        self._published_at = time.monotonic()

    # lease ------------------------------------------------------------------------------------
    def acquire_lease(self, session: Session) -> bool:
        session.execute(
            dialect_insert(session)(SchedulerLease).values(name=LEASE_NAME).on_conflict_do_nothing()
        )
        now = utcnow()
        taken = rowcount(
            session.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.name == LEASE_NAME,
                    (SchedulerLease.holder == self.holder)
                    | (SchedulerLease.holder.is_(None))
                    | (SchedulerLease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + timedelta(seconds=LEASE_S))
            )
        )
        return bool(taken)

    def release_lease(self) -> None:
        with session_scope() as session:
            session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == self.holder)
                .values(holder=None, expires_at=None)
            )

    # one tick -----------------------------------------------------------------------------------
    def tick(self) -> bool:
        """Returns False while another scheduler holds the lease."""
        with session_scope() as session:
            if not self.acquire_lease(session):
                return False
            self._recover(session)
        self._plan_and_publish()
        return True

    def tick_unleased(self) -> None:
        """Plan and publish one named campaign without the lease (see ``run_embedded``)."""
        assert self.campaign is not None, "only a single-campaign scheduler may skip the lease"
        self._plan_and_publish()

    def _plan_and_publish(self) -> None:
        if self._ticks % PING_EVERY_TICKS == 0:
            self._workers = max(1, self.publisher.live_workers())
        bound = self.queue_bound()
        with session_scope() as session:
            retrains: list[int] = []
            for campaign in self._campaigns(session):
                planned = plan_campaign(session, campaign, max(WINDOW_JOBS_PER_TASK, bound))
                if planned:
                    log.info("campaign %s: planned %d job(s)", campaign.name, planned)
                if campaign.state != CampaignState.ACTIVE.value:
                    log.info("campaign %s: %s", campaign.name, campaign.state)
                retrains += due_retrains(session, campaign) + due_bootstrap(session, campaign)
            upkeep.analyze_if_grown(session, {"jobs": None})  # planned and moved every tick
        if retrains:
            self.publisher.publish_training(retrains)
        to_publish = self._select_for_publish(bound)
        if to_publish:
            self._publish(to_publish)
        self._ticks += 1

    def _campaigns(self, session: Session) -> list[Campaign]:
        stmt = select(Campaign).where(Campaign.state == CampaignState.ACTIVE.value)
        if self.campaign is not None:
            stmt = stmt.where(Campaign.name == self.campaign)
        return list(session.scalars(stmt.order_by(Campaign.priority.desc(), Campaign.id)))

    def _recover(self, session: Session) -> None:
        lost = jobs.reclaim_expired(session)
        if lost:
            log.warning("%d running job(s) lost their worker; re-queueing", lost)
        orphans = stale_retrains(session, self.settings.train_lease_s)
        if orphans:
            self.publisher.publish_training(orphans)
        run_id = self.publisher.broker_run_id()
        lease = session.get(SchedulerLease, LEASE_NAME)
        if run_id is not None and lease.broker_run_id not in (None, run_id):
            n = jobs.requeue_lost(session)
            log.warning("broker restarted (run id changed); re-publishing %d queued job(s)", n)
        if run_id is not None:
            lease.broker_run_id = run_id
        self._requeue_missing_messages(session)
        stale = jobs.requeue_lost(
            session, older_than=utcnow() - timedelta(seconds=self.settings.queued_stale_s)
        )
        if stale:
            log.warning(
                "%d queued job(s) not started in %.0f s; re-publishing",
                stale,
                self.settings.queued_stale_s,
            )

    def _requeue_missing_messages(self, session: Session) -> None:
        """Any broker: with prefetch 1 and late acks a queued job's message is in the queue or
        in a worker's hands for a moment only. If fewer messages wait than jobs queued longer
        than ``queued_check_s``, messages were lost (a purge, a broker that lost its data):
        those jobs are published again (a second message for a job is skipped at its claim)."""
        if self._ticks % PING_EVERY_TICKS:
            return
        old = utcnow() - timedelta(seconds=self.settings.queued_check_s)
        waiting = session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.state == JobState.QUEUED.value, Job.queued_at < old)
        )
        if not waiting:
            return
        depth = self.publisher.queue_depth()
        if depth is not None and depth < waiting:
            n = jobs.requeue_lost(session, older_than=old)
            log.warning(
                "%d job(s) queued over %.0f s but %d message(s) in the queue; re-publishing %d",
                waiting,
                self.settings.queued_check_s,
                depth,
                n,
            )

    def queue_bound(self) -> int:
        """Queued jobs to keep: proportional to live workers (the broker is never flooded)
        and to the rate they take jobs at (the queue never runs dry between ticks)."""
        floor = self.settings.queue_depth_per_worker * self._workers
        follow = self._started_per_s * self.settings.scheduler_tick_s * RATE_HEADROOM_TICKS
        return max(floor, math.ceil(follow))

    def _observe_started(self, queued_now: int) -> None:
        """Jobs that left the queue since the last publish, per second (smoothed)."""
        now = time.monotonic()
        if self._queued_after is not None and now > self._published_at:
            started = max(0, self._queued_after - queued_now)
            rate = started / (now - self._published_at)
            self._started_per_s += RATE_SMOOTHING * (rate - self._started_per_s)
        self._published_at = now

    def _select_for_publish(self, bound: int) -> list[int]:
        with session_scope() as session:
            queued = int(
                session.scalar(
                    select(func.count()).select_from(Job).where(Job.state == JobState.QUEUED.value)
                )
                or 0
            )
            self._observe_started(queued)
            bound = max(bound, self.queue_bound())  # the rate just observed counts now
            room = bound - queued
            if room <= 0:
                self._queued_after = queued
                return []
            stmt = (
                select(Job.id)
                .join(Campaign, Campaign.id == Job.campaign_id)
                .where(
                    Job.state == JobState.PENDING.value,
                    Campaign.state == CampaignState.ACTIVE.value,
                )
                .order_by(Job.priority.desc(), Job.id)
                .limit(room)
            )
            if self.campaign is not None:
                stmt = stmt.where(Campaign.name == self.campaign)
            ids = list(session.scalars(stmt))
            jobs.mark_queued(session, ids)  # committed before any message is sent
        self._queued_after = queued + len(ids)
        return ids

    def _publish(self, ids: list[int]) -> None:
        try:
            self.publisher.publish(ids)
            log.info(
                "published %d job(s) (%d worker(s), taking %.1f job(s)/s)",
                len(ids),
                self._workers,
                self._started_per_s,
            )
        except Exception as exc:  # broker down: the jobs wait as pending for the next tick
            log.warning("publishing %d job(s) failed (%s); will retry", len(ids), exc)
            with session_scope() as session:
                jobs.unpublish(session, ids)

    # loop -----------------------------------------------------------------------------------------
    def run(
        self, *, until: Callable[[], bool] | None = None, on_tick: Callable[[], None] | None = None
    ) -> None:
        """Tick until ``until()`` is true (or forever); release the lease on the way out."""
        try:
            while True:
                try:
                    active = self.tick()
                    if on_tick is not None:
                        on_tick()
                    if until is not None and until():
                        return
                except Exception as exc:  # database or broker away: say so, wait, go on
                    if not isinstance(exc, BlazerError | OSError):
                        raise
                    log.warning("waiting for the database or broker: %s", exc)
                    active = False
                time.sleep(self.settings.scheduler_tick_s if active else LEASE_S / 3)
        finally:
            try:
                self.release_lease()
            except Exception:  # the lease expires by itself
                log.debug("could not release the scheduler lease", exc_info=True)
