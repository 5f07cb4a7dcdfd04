"""Run a campaign to its end from the calling process: embedded (no broker configured) or
by driving the scheduler while Celery workers elsewhere run the jobs. The one place that
chooses between the two; commands and evaluations call this."""

from __future__ import annotations

from collections.abc import Callable

from models.db import retry_database, session_scope
from models.settings import get_settings
from models.types import CampaignState
from scheduler import campaigns
from scheduler.embedded import Retrain, run_embedded
from scheduler.loop import Scheduler
from scheduler.publishers import CeleryPublisher


def run_campaign(
    name: str, on_progress: Callable[[], None] | None = None, retrain: Retrain | None = None
) -> str:
    """Run campaign ``name`` until it leaves the active state; returns its final state.
    ``retrain`` runs due training runs in-process (embedded); with a broker they go to the
    ``train`` queue."""
    if get_settings().broker_url:

        def finished() -> bool:
            with session_scope() as session:
                state = campaigns.get_campaign(session, name).state
            return state != CampaignState.ACTIVE.value

        Scheduler(CeleryPublisher(), campaign=name).run(until=finished, on_tick=on_progress)
    else:
        run_embedded(name, on_progress=on_progress, retrain=retrain)

    def final_state() -> str:
        with session_scope() as session:
            return campaigns.get_campaign(session, name).state

    return retry_database(final_state, waiting_for=f"campaign {name}'s final state")
