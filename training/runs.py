"""Training runs and the model versions they produce (the registry's write side)."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from models.db import session_scope
from models.errors import ConfigError
from models.orm import Dataset, ModelVersion, TrainingRun, utcnow
from models.settings import get_settings
from models.types import TrainingRunState

# glibc's default thresholds make LoRA steps on CPU 4x slower as the heap fragments
# (15 s -> 55 s per step, see the project's notes); these keep big tensors in one arena.
MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "4294967296",
    "MALLOC_TRIM_THRESHOLD_": "68719476736",
    "MALLOC_TOP_PAD_": "1073741824",
}


def malloc_env_missing() -> bool:
    return any(k not in os.environ for k in MALLOC_ENV) and _is_glibc()


def _is_glibc() -> bool:
    try:
        return bool(ctypes.CDLL("libc.so.6").gnu_get_libc_version())
    except (OSError, AttributeError):
        return False


def default_run_dir(kind: str, version_name: str) -> Path:
    return (get_settings().data_dir / "runs" / f"{kind}-{version_name}").resolve()


def start_run(kind: str, dataset_id: int, base: str, hyper: dict[str, Any], out_dir: Path) -> int:
    """A TrainingRun row for ``out_dir``; an unfinished run there is resumed, not duplicated."""
    out_dir = out_dir.resolve()
    with session_scope() as session:
        run = session.scalars(
            select(TrainingRun).where(TrainingRun.output_dir == str(out_dir))
        ).one_or_none()
        if run is not None:
            if run.state == TrainingRunState.DONE.value:
                raise ConfigError(
                    f"the run in {out_dir} is finished; give a new --name for a new run"
                )
            run.state = TrainingRunState.RUNNING.value
            return run.id
        run = TrainingRun(
            kind=kind, dataset_id=dataset_id, base_model=base, state=TrainingRunState.RUNNING.value,
            hyperparameters=hyper, output_dir=str(out_dir),
        )  # fmt: skip
        session.add(run)
        session.flush()
        return run.id


def claim_trigger(session, run_id: int, worker: str, lease_s: float) -> TrainingRun | None:
    """A retrain trigger becomes ``worker``'s: a pending one, or a running one whose worker
    stopped heart-beating (it died; the new holder resumes from the checkpoint). None if
    it is finished or another live worker holds it, so a redelivered message runs nothing twice."""
    run = session.get(TrainingRun, run_id, with_for_update=True)
    if run is None or run.state not in (
        TrainingRunState.PENDING.value,
        TrainingRunState.RUNNING.value,
    ):
        return None
    now = utcnow()
    beat = run.heartbeat_at
    if beat is not None and beat.tzinfo is None:
        beat = beat.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    if (
        run.state == TrainingRunState.RUNNING.value
        and beat is not None
        and now - beat < timedelta(seconds=lease_s)
    ):
        return None
    run.state, run.worker, run.heartbeat_at = TrainingRunState.RUNNING.value, worker, now
    return run


class LeaseLost(Exception):
    """Another worker holds the retrain trigger now: this one must stop, writing nothing."""


def heartbeat(run_id: int, worker: str) -> None:
    """Progress on a retrain trigger: keeps its lease, or raises LeaseLost if it was lost."""
    with session_scope() as session:
        held = session.execute(
            update(TrainingRun)
            .where(TrainingRun.id == run_id, TrainingRun.worker == worker,
                   TrainingRun.state == TrainingRunState.RUNNING.value)
            .values(heartbeat_at=utcnow())
        ).rowcount  # fmt: skip
    if not held:
        raise LeaseLost(f"retrain {run_id} is no longer held by {worker}")


def finish_run(
    run_id: int, *, metrics: dict[str, Any] | None = None, error: str | None = None
) -> None:
    with session_scope() as session:
        run = session.get(TrainingRun, run_id)
        run.state = (TrainingRunState.FAILED if error else TrainingRunState.DONE).value
        run.metrics = metrics or {}
        run.error = error
        run.finished_at = utcnow()


def register_version(
    name: str, run_id: int, base: str, adapter: Path, dataset_id: int, hyper: dict[str, Any],
    metrics: dict[str, Any], parent: str | None = None, lineage: str | None = None,
) -> ModelVersion:  # fmt: skip
    """Register a version. Its lineage: the one given (retraining), else its parent's, else
    a new lineage named after itself."""
    with session_scope() as session:
        parent_id = None
        if parent is not None:
            parent_row = session.scalars(
                select(ModelVersion).where(ModelVersion.name == parent)
            ).one_or_none()
            if parent_row is not None:
                parent_id, lineage = parent_row.id, lineage or parent_row.lineage
        dataset = session.get(Dataset, dataset_id)
        version = ModelVersion(
            name=name, base_model=base, adapter_path=str(adapter.resolve()), dataset_id=dataset_id,
            training_run_id=run_id, parent_id=parent_id, hyperparameters=hyper, metrics=metrics,
            prompt_version=dataset.prompt_version, lineage=lineage or name,
        )  # fmt: skip
        session.add(version)
        session.flush()
        return version


def tracked_run(
    kind: str, *, version: str, base: str, dataset_id: int, hyper: dict[str, Any], out: Path,
    parent: str | None, fit: Callable[[], dict[str, Any]], lineage: str | None = None,
) -> str:  # fmt: skip
    """Run ``fit`` under a TrainingRun row; register the adapter it saved as ``version``."""
    run_id = start_run(kind, dataset_id, base, hyper, out)
    try:
        metrics = fit()
    except BaseException as exc:  # a kill or a crash leaves the run failed, resumable
        finish_run(run_id, error=f"{exc.__class__.__name__}: {exc}")
        raise
    finish_run(run_id, metrics=metrics)
    register_version(
        version, run_id, base, out / "adapter", dataset_id, hyper, metrics, parent, lineage
    )
    return version


def hyperparameters(config, lora) -> dict[str, Any]:
    data = asdict(config)
    data["lora"] = asdict(lora)
    data["accumulation"] = config.accumulation
    return data
