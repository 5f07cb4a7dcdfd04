"""Operations on dataset snapshots: merge, split, filter. Each makes new immutable snapshots
from existing ones (the sources stay as they are), in one transaction, members streamed in
id order (never a whole table in memory beyond the ids kept).

Weights: a merged or filtered snapshot re-normalises its members' weights to sum to 1 in the
same proportions they had; each part of a split does the same within the part.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models.errors import ConfigError
from models.names import check_name
from models.orm import Dataset, DatasetMember, Episode
from models.types import FailureReason
from training.datasets import STREAM_ROWS, get_dataset, insert_snapshot


def _new_snapshot(
    session: Session,
    name: str,
    filter_spec: dict[str, Any],
    prompt_version: str,
    members: Iterable[tuple[int, float, str]],
) -> Dataset:
    """A snapshot from (episode id, weight, split) members, weights re-normalised to sum 1."""
    check_name("dataset", name)
    if session.scalar(select(Dataset.id).where(Dataset.name == name)) is not None:
        raise ConfigError(f"dataset {name!r} exists; snapshots are immutable, pick a new name")
    rows = list(members)
    if not rows:
        raise ConfigError(f"dataset {name!r} would be empty: no member matches")
    total = sum(w for _, w, _ in rows) or 1.0
    return insert_snapshot(
        session,
        name,
        filter_spec,
        prompt_version,
        ((eid, w / total, split) for eid, w, split in rows),
        len(rows),
    )


def _members(session: Session, dataset: Dataset, *columns) -> Iterable[Any]:
    stmt = (
        select(DatasetMember.episode_id, DatasetMember.weight, DatasetMember.split, *columns)
        .join(Episode, Episode.id == DatasetMember.episode_id)
        .where(DatasetMember.dataset_id == dataset.id)
        .order_by(DatasetMember.episode_id)
        .execution_options(yield_per=STREAM_ROWS)
    )
    return session.execute(stmt)


def merge_datasets(session: Session, names: list[str], new_name: str) -> Dataset:
    """The union of ``names`` (an episode in several counts once, with its first weight)."""
    if len(names) < 2:
        raise ConfigError("dataset merge needs at least two snapshots")
    sources = [get_dataset(session, n) for n in names]
    prompts = {d.prompt_version for d in sources}
    if len(prompts) > 1:
        raise ConfigError(
            f"cannot merge snapshots rendered with different prompts ({', '.join(sorted(prompts))})"
        )
    seen: dict[int, tuple[int, float, str]] = {}
    for d in sources:
        # each source keeps its share: its weights sum to 1, scaled by its size
        for eid, weight, split in _members(session, d):
            seen.setdefault(eid, (eid, weight * d.size, split))
    spec = {"merge": names}
    return _new_snapshot(session, new_name, spec, prompts.pop(), sorted(seen.values()))


@dataclass
class MemberFilter:
    task: str | None = None
    robot: str | None = None
    success: bool | None = None
    reason: str | None = None
    checks: tuple[str, ...] = ()  # named success checks that must hold
    min_steps: int | None = None  # recorded control steps (episodes with a trajectory)
    max_steps: int | None = None

    def validate(self) -> MemberFilter:
        if self.reason is not None and self.reason not in {r.value for r in FailureReason}:
            known = ", ".join(r.value for r in FailureReason)
            raise ConfigError(f"--reason {self.reason!r} is not a failure reason; known: {known}")
        for flag, value in (("--min-steps", self.min_steps), ("--max-steps", self.max_steps)):
            if value is not None and value < 0:
                raise ConfigError(f"{flag} must be 0 or more, got {value}")
        return self

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, ())}


def filter_dataset(session: Session, name: str, new_name: str, flt: MemberFilter) -> Dataset:
    """The members of ``name`` that pass ``flt``."""
    flt.validate()
    source = get_dataset(session, name)
    columns = (
        Episode.task,
        Episode.robot,
        Episode.success,
        Episode.failure_reason,
        Episode.checks,
        Episode.traj_steps,
    )

    def keep(task, robot, success, reason, checks, steps) -> bool:
        if flt.task is not None and task != flt.task:
            return False
        if flt.robot is not None and robot != flt.robot:
            return False
        if flt.success is not None and bool(success) != flt.success:
            return False
        if flt.reason is not None and reason != flt.reason:
            return False
        if flt.checks and not all((checks or {}).get(c) is True for c in flt.checks):
            return False
        if flt.min_steps is not None and (steps is None or steps < flt.min_steps):
            return False
        return not (flt.max_steps is not None and (steps is None or steps > flt.max_steps))

    kept = [
        (eid, weight, split)
        for eid, weight, split, *cols in _members(session, source, *columns)
        if keep(*cols)
    ]
    spec = {"filter_of": name, **flt.to_json()}
    return _new_snapshot(session, new_name, spec, source.prompt_version, kept)


def split_dataset(
    session: Session,
    name: str,
    fractions: list[float],
    seed: int = 0,
    names: list[str] | None = None,
) -> list[Dataset]:
    """Parts of ``name`` in the given fractions, disjoint by scene: every episode of one
    (task, seed) goes to the same part (its robots and re-tries too), so no scene is in two
    parts. Scenes are shuffled with ``seed`` and dealt in order until each part has its share."""
    if len(fractions) < 2 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ConfigError(
            f"--fractions must be two or more positive numbers summing to 1, got {fractions}"
        )
    names = names or [f"{name}-{i}" for i in range(len(fractions))]
    if len(names) != len(fractions):
        raise ConfigError(f"--names gives {len(names)} names for {len(fractions)} fractions")
    for n in names:
        check_name("dataset", n)
    source = get_dataset(session, name)
    scenes: dict[tuple[str, int], list[tuple[int, float, str]]] = {}
    for eid, weight, split, task, ep_seed in _members(session, source, Episode.task, Episode.seed):
        scenes.setdefault((task, ep_seed), []).append((eid, weight, split))
    if len(scenes) < len(fractions):
        raise ConfigError(
            f"dataset {name!r} holds {len(scenes)} scene(s): too few for {len(fractions)} parts"
        )
    keys = sorted(scenes)
    random.Random(seed).shuffle(keys)
    total = sum(len(v) for v in scenes.values())
    parts: list[list[tuple[int, float, str]]] = [[] for _ in fractions]
    bounds = [round(total * sum(fractions[: i + 1])) for i in range(len(fractions))]
    filled, part = 0, 0
    for key in keys:
        while part < len(parts) - 1 and filled >= bounds[part]:
            part += 1
        parts[part].extend(scenes[key])
        filled += len(scenes[key])
    return [
        _new_snapshot(
            session,
            new_name,
            {"split_of": name, "fractions": fractions, "part": i, "seed": seed},
            source.prompt_version,
            sorted(members),
        )
        for i, (new_name, members) in enumerate(zip(names, parts, strict=True))
    ]


def delete_dataset(session: Session, name: str) -> int:
    """Remove a snapshot (its members go with it; the episodes stay). Returns its size."""
    dataset = get_dataset(session, name)
    size = dataset.size
    session.execute(delete(DatasetMember).where(DatasetMember.dataset_id == dataset.id))
    session.delete(dataset)
    return size
