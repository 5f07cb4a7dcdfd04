"""All runtime settings in one place, read from ``BLAZER_*`` environment variables.

A frozen dataclass filled from the environment: every field is a flat scalar, and the
standard library reads them in well under a millisecond. pydantic-settings did the same
with ~140 ms of imports in every ``blazer`` command and ~9 MB in every worker process
(``blazer stats`` has a 300 ms budget as a whole process; ``bench_worker_memory.py``).
A value that does not parse is one ``ConfigError`` line naming the variable.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from models.errors import ConfigError

ENV_PREFIX = "BLAZER_"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in _TRUE | _FALSE:
        raise ValueError(raw)
    return value in _TRUE


# a field's annotation (a string: this module has postponed annotations) -> its parser
_PARSERS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": _bool,
    "Path": Path,
    "Path | None": lambda raw: Path(raw) if raw else None,  # empty = the documented default
}


@dataclass(frozen=True)
class Settings:
    # Where the embedded default keeps its SQLite file, model caches and exports.
    data_dir: Path = Path("blazer-data")
    # Converted model folders (e.g. SmolLM2 from its GGUF), shared by every data_dir.
    model_cache: Path = Path.home() / ".cache" / "blazer" / "models"
    # SQLAlchemy URL; empty = SQLite file under data_dir.
    database_url: str = ""
    # Celery broker URL (redis://...); empty = in-process execution.
    broker_url: str = ""
    log_level: str = "WARNING"
    # Hard limit for one episode (simulator reset + plan execution), seconds.
    episode_timeout_s: float = 60.0
    # A running job whose lease is older than this is handed to another worker, seconds. A
    # live worker renews it every lease/4 (worker.job_runner.LeaseKeeper), so it can be short.
    job_lease_s: float = 20.0
    # A queued job not started after this long is published again (lost message), seconds.
    queued_stale_s: float = 900.0
    # A job queued this long while the broker's queue holds fewer messages than such jobs is
    # published again (a lost message on any broker), seconds.
    queued_check_s: float = 60.0
    # Queued jobs kept per live worker (back-pressure on the broker).
    queue_depth_per_worker: int = 2
    # Seconds between scheduler ticks.
    scheduler_tick_s: float = 1.0
    # A retraining run whose train worker shows no progress for this long is handed out
    # again (it resumes from its last checkpoint), seconds.
    train_lease_s: float = 300.0
    # A job whose run raises this many times (each a delivery) is marked failed with the reason.
    job_max_deliveries: int = 3
    # How long a simulator child process may take to start (imports, Vulkan), seconds.
    sim_startup_timeout_s: float = 120.0
    # Recycle a Celery pool process after this many jobs (simulators and teachers can leak).
    max_tasks_per_child: int = 200
    # The CPU Vulkan driver folder scripts/install_vulkan.sh made; empty = <repo>/.vulkan.
    vulkan_dir: Path | None = None
    # Robot assets ManiSkill cannot download here (xArm-6, WidowX AI); empty = ../shared.
    maniskill_assets: Path | None = None
    # A Segment Anything checkpoint file (vit_b/vit_l/vit_h) for --segmenter sam.
    sam_checkpoint: Path | None = None
    # Perception cameras' image side in pixels (three views, rendered on the CPU).
    perception_image_size: int = 256
    # Defaults for the openai teacher when its config names none.
    openai_base_url: str = ""
    openai_api_key: str = ""
    # Where recorded trajectories go (campaigns with ``record:``): a folder or any fsspec URL
    # (s3://..., gs://...); empty = <data_dir>/artifacts.
    artifacts_url: str = ""
    # Hard limit for executing one recorded episode (cameras render on the CPU), seconds.
    record_timeout_s: float = 900.0
    # Fault injection for tests: "crash:TASK:SEED,hang:TASK:SEED,nostart:*:0".
    sim_faults: str = ""
    # a new PhysX system (same entities) and the motion planner's random draws seeded from the
    # episode's seed, before every episode: an episode then depends only on its row (task,
    # robot, seed, plan); a reused system carries contact and island state from one episode to
    # the next (91% of re-runs within 1 mm without, 99.8-100% with; ~1 ms an episode;
    # benchmarks/README.md, "Episodes re-run"). Off only to measure what it costs.
    sim_fresh_physics: bool = True
    # The web console's action token (pause, resume, cancel); empty = the console is read-only
    ui_token: str = ""
    # Set by the training commands after they re-exec with the malloc settings.
    no_reexec: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Each field from ``BLAZER_<NAME>`` where set (names case-insensitive), else its
        default."""
        env = {k.upper(): v for k, v in environ.items() if k.upper().startswith(ENV_PREFIX)}
        values = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            try:
                values[f.name] = _PARSERS[str(f.type)](raw)
            except ValueError:
                raise ConfigError(
                    f"{ENV_PREFIX}{f.name.upper()}={raw!r} is not a valid {f.type}"
                ) from None
        return cls(**values)

    def resolved_artifacts_url(self) -> str:
        return self.artifacts_url or str((self.data_dir / "artifacts").resolve())

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'blazer.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def configure_logging() -> None:
    """blazer's log lines at the settings' level (the CLI, and the worker process it becomes)."""
    logging.basicConfig(
        level=get_settings().log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
