"""Training runs and the model versions they produce (the registry's write side)."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import select

from models.db import session_scope
from models.names import check_name
from models.orm import Dataset, ModelVersion
from models.settings import get_settings
from models.training_runs import finish_run, start_run

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
    check_name("model version", version_name)
    return (get_settings().data_dir / "runs" / f"{kind}-{version_name}").resolve()


def register_version(
    name: str,
    run_id: int,
    base: str,
    adapter: Path,
    dataset_id: int,
    hyper: dict[str, Any],
    metrics: dict[str, Any],
    parent: str | None = None,
    lineage: str | None = None,
) -> ModelVersion:
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
            name=name,
            base_model=base,
            adapter_path=str(adapter.resolve()),
            dataset_id=dataset_id,
            training_run_id=run_id,
            parent_id=parent_id,
            hyperparameters=hyper,
            metrics=metrics,
            prompt_version=dataset.prompt_version,
            lineage=lineage or name,
        )
        session.add(version)
        session.flush()
        return version


def tracked_run(
    kind: str,
    *,
    version: str,
    base: str,
    dataset_id: int,
    hyper: dict[str, Any],
    out: Path,
    parent: str | None,
    fit: Callable[[], dict[str, Any]],
    lineage: str | None = None,
) -> str:
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
