"""Top-up planning: write seed-block jobs until each task can reach N successes.

From the success rate seen so far, estimate how many more attempts a task needs; keep that
many attempts (seeds x samples per seed) in open jobs (never more than the attempt cap,
never more than a window of jobs per task), and move the task's seed cursor so no seed is
used twice in a campaign.
"""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import jobs
from models.orm import Campaign, CampaignTask, Job
from models.types import SEED_SPLIT_SIZE, CampaignState, JobState, SeedSplit
from scheduler.campaigns import finish_campaign

WINDOW_JOBS_PER_TASK = (
    16  # open jobs per task (at least): bounds the rows a 1M-episode campaign writes
)
OVERSHOOT = 1.1  # plan 10% more attempts than the estimate, so the tail is not one block at a time


def needed_attempts(successes: int, attempts: int, target: int) -> int:
    """Attempts still expected for ``target`` successes (Laplace-smoothed rate)."""
    remaining = target - successes
    if remaining <= 0:
        return 0
    rate = (successes + 1) / (attempts + 2)
    return math.ceil(remaining / rate * OVERSHOOT)


def plan_campaign(
    session: Session, campaign: Campaign, window_jobs: int = WINDOW_JOBS_PER_TASK
) -> int:
    """Write new pending jobs for a campaign; return how many. Marks it done when finished.

    ``window_jobs``: open jobs allowed per task line (the scheduler scales it with live workers).
    """
    if campaign.state != CampaignState.ACTIVE.value:
        return 0
    open_counts = jobs.open_seed_counts(session, campaign.id)
    broken = jobs.failed_tasks(session, campaign.id)
    spec = campaign.typed_spec
    created, all_finished = 0, True
    tasks = session.scalars(
        select(CampaignTask).where(CampaignTask.campaign_id == campaign.id).with_for_update()
    ).all()
    for ctask in tasks:
        samples = spec.for_task(ctask.task, "samples_per_seed")  # episodes per seed
        n_open, open_seeds = open_counts.get(ctask.id, (0, 0))
        if ctask.successes >= ctask.target_successes:
            if n_open:
                n_open -= jobs.cancel_open(
                    session,
                    campaign_id=campaign.id,
                    campaign_task_id=ctask.id,
                    why="task already has its successes",
                )
            all_finished = all_finished and n_open == 0  # wait for running jobs to stop
            continue
        budget = ctask.attempt_cap - ctask.attempts - open_seeds * samples
        if budget <= 0 and n_open == 0:
            continue  # capped: finished without N successes
        if ctask.id in broken:
            all_finished = all_finished and n_open == 0
            continue  # its jobs fail: no more of them (campaign status lists the reasons)
        all_finished = False
        want = needed_attempts(ctask.successes, ctask.attempts, ctask.target_successes)
        want -= open_seeds * samples
        while want > 0 and budget > 0 and n_open < window_jobs:
            count = min(campaign.block_size, math.ceil(budget / samples))
            split_end = SeedSplit(ctask.seed_split).offset + SEED_SPLIT_SIZE
            if ctask.next_seed + count > split_end:
                break  # the split's seed space is used up
            session.add(
                Job(
                    campaign_id=campaign.id,
                    campaign_task_id=ctask.id,
                    seed_start=ctask.next_seed,
                    seed_count=count,
                    state=JobState.PENDING.value,
                    priority=campaign.priority,
                )
            )
            ctask.next_seed += count
            want -= count * samples
            budget -= count * samples
            n_open += 1
            created += 1
    if all_finished:
        if tasks and all(t.id in broken for t in tasks):
            finish_campaign(
                campaign,
                CampaignState.FAILED,
                f"every job failed; last: {list(broken.values())[-1]}",
            )
        else:
            finish_campaign(campaign, CampaignState.DONE)
    session.flush()
    return created
