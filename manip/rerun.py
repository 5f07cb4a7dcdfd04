"""Re-run stored episodes from what their rows hold (task, robot, seed, parsed plan) and say
whether each does what was recorded: the same verdict, and every movable actor coming to rest
within a millimetre of where it did (``blazer episodes rerun``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from manip.plan_language import step_from_json
from manip.sim.base import Simulator, SimulatorError

DRIFT_OK_M = 0.001
ODD_LISTED = 20  # episodes named in the summary when they do not reproduce


@dataclass(frozen=True)
class StoredEpisode:
    id: int
    task: str
    robot: str
    seed: int
    plan: list[dict]
    success: bool
    final_positions: dict[str, list[float]] | None


@dataclass
class Rerun:
    id: int
    task: str
    seed: int
    recorded_success: bool
    success: bool | None  # None: the re-run itself failed (simulator error)
    drift_m: float | None  # largest actor displacement vs the record; None without one
    detail: str = ""

    @property
    def reproduced(self) -> bool:
        same_verdict = self.success == self.recorded_success
        return same_verdict and (self.drift_m is None or self.drift_m <= DRIFT_OK_M)


def rerun(episodes: Iterable[StoredEpisode], simulator: Simulator) -> Iterator[Rerun]:
    for ep in episodes:
        try:
            simulator.reset(ep.task, ep.robot, ep.seed)
            result = simulator.execute([step_from_json(s) for s in ep.plan])
        except SimulatorError as exc:
            yield Rerun(ep.id, ep.task, ep.seed, ep.success, None, None, str(exc))
            continue
        yield Rerun(
            ep.id,
            ep.task,
            ep.seed,
            ep.success,
            result.success,
            drift(ep.final_positions, result.final_positions),
        )


def drift(recorded: dict | None, now: dict[str, list[float]]) -> float | None:
    if not recorded:
        return None
    shared = recorded.keys() & now.keys()
    return max((math.dist(recorded[k], now[k]) for k in shared), default=None)


@dataclass
class RerunSummary:
    episodes: int = 0
    reproduced: int = 0
    verdicts_same: int = 0
    with_positions: int = 0
    drifts_m: list[float] = field(default_factory=list)
    odd: list[Rerun] = field(default_factory=list)  # the first ODD_LISTED not reproduced

    def add(self, r: Rerun) -> None:
        self.episodes += 1
        self.reproduced += r.reproduced
        if not r.reproduced and len(self.odd) < ODD_LISTED:
            self.odd.append(r)
        self.verdicts_same += r.success == r.recorded_success
        if r.drift_m is not None:
            self.with_positions += 1
            self.drifts_m.append(r.drift_m)

    def to_json(self) -> dict:
        d = sorted(self.drifts_m)
        return {
            "episodes": self.episodes,
            "reproduced": self.reproduced,
            "reproduced_rate": round(self.reproduced / self.episodes, 4) if self.episodes else 0,
            "same_verdict": self.verdicts_same,
            "with_final_positions": self.with_positions,
            "drift_mm_median": round(1000 * d[len(d) // 2], 4) if d else None,
            "drift_mm_max": round(1000 * d[-1], 4) if d else None,
            "within_1mm": sum(x <= DRIFT_OK_M for x in d),
            "not_reproduced": [
                {
                    "id": r.id,
                    "task": r.task,
                    "seed": r.seed,
                    "recorded_success": r.recorded_success,
                    "success": r.success,
                    "drift_mm": None if r.drift_m is None else round(1000 * r.drift_m, 3),
                    "detail": r.detail,
                }
                for r in self.odd
            ],
        }
