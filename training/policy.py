"""A campaign's retraining policy (the ``retrain:`` block of a campaign spec)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blazer.errors import ConfigError


@dataclass
class RetrainPolicy:
    every: int  # new successes since the lineage's last run
    lineage: str
    base: str = "smollm2-135m"
    per_task: int | None = None
    eval_episodes: int = 10
    max_new_tokens: int = 384
    train: dict[str, Any] | None = None  # TrainConfig overrides, e.g. {"max_steps": 50}

    @classmethod
    def from_spec(cls, data: dict[str, Any]) -> RetrainPolicy:
        try:
            policy = cls(**data)
        except TypeError as exc:
            raise ConfigError(f"spec: retrain: {exc}") from None
        if policy.every <= 0 or not policy.lineage:
            raise ConfigError("spec: retrain needs every > 0 and a lineage name")
        return policy
