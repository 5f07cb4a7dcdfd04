"""Dataset snapshots: an immutable, hashed set of episodes chosen by a filter, and its exports.

``--balance equal`` gives every source (campaign x task x robot) the same total weight,
uniform inside it (BLM1's rule p(x) = 1 / (C * |D_i|)); ``proportional`` weighs every
example the same. Only seeds of the requested split are taken, so a training snapshot can
never hold an evaluation scene; tasks of the ``unseen`` group (``manip.sim.tasks.GROUPS``)
are left out unless asked, so a student's score on them measures transfer.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from manip.prompt import STUDENT_PROMPT_VERSION, check_version, render_messages
from manip.sim.tasks import UNSEEN
from models.errors import ConfigError, NotFound
from models.names import check_name
from models.orm import Campaign, Dataset, DatasetMember, Episode
from models.types import SEED_SPLIT_SIZE, SceneState, SeedSplit

BALANCES = ("equal", "proportional")


@dataclass
class DatasetSpec:
    name: str
    campaigns: list[str]
    success_only: bool = True
    per_task: int | None = None  # at most this many examples per source
    balance: str = "proportional"
    split: str = "train"
    seed: int = 0  # for the per-task sample
    prompt_version: str = STUDENT_PROMPT_VERSION  # examples are rendered from stored scenes
    include_unseen: bool = False  # tasks of the ``unseen`` group are for evaluation only

    def validate(self) -> DatasetSpec:
        check_name("dataset", self.name)
        if self.balance not in BALANCES:
            raise ConfigError(
                f"--balance must be one of {', '.join(BALANCES)}, got {self.balance!r}"
            )
        if self.split not in {s.value for s in SeedSplit}:
            raise ConfigError(f"--split must be train, val or eval, got {self.split!r}")
        if not self.campaigns:
            raise ConfigError("--from needs at least one campaign")
        if self.per_task is not None and self.per_task <= 0:
            raise ConfigError("--per-task must be positive")
        try:
            check_version(self.prompt_version)
        except ConfigError as exc:
            raise ConfigError(f"--prompt: {exc}") from None
        return self


def build_dataset(session: Session, spec: DatasetSpec) -> Dataset:
    spec.validate()
    if session.scalar(select(Dataset.id).where(Dataset.name == spec.name)) is not None:
        raise ConfigError(f"dataset {spec.name!r} exists; snapshots are immutable, pick a new name")
    ids = dict(
        session.execute(
            select(Campaign.name, Campaign.id).where(Campaign.name.in_(spec.campaigns))
        ).all()
    )
    missing = [c for c in spec.campaigns if c not in ids]
    if missing:
        raise NotFound(f"no campaign named {', '.join(missing)}")
    lo = SeedSplit(spec.split).offset
    stmt = select(
        Episode.id,
        Episode.campaign_id,
        Episode.task,
        Episode.robot,
        Episode.scene,
        Episode.completion,
    ).where(
        Episode.campaign_id.in_(ids.values()),
        Episode.seed >= lo,
        Episode.seed < lo + SEED_SPLIT_SIZE,
        Episode.completion.is_not(None),
        Episode.scene.is_not(None),
    )
    if not spec.include_unseen:
        stmt = stmt.where(Episode.task.not_in(UNSEEN))
    if spec.success_only:
        stmt = stmt.where(Episode.success.is_(True))
    sources: dict[tuple, list[int]] = defaultdict(list)
    seen: set[bytes] = set()  # 16-byte digests: ~70 B a member at a million members
    rows = session.execute(stmt.order_by(Episode.id).execution_options(yield_per=STREAM_ROWS))
    for eid, cid, task, robot, scene, completion in rows:
        pair = hashlib.sha256(
            (json.dumps(scene, sort_keys=True) + "\0" + completion).encode()
        ).digest()[:16]
        if pair in seen:
            continue  # the same (scene, completion) pair twice teaches nothing new
        seen.add(pair)
        sources[(cid, task, robot)].append(eid)
    rng = random.Random(spec.seed)
    if spec.per_task is not None:
        for key, members in sources.items():
            if len(members) > spec.per_task:
                sources[key] = sorted(rng.sample(members, spec.per_task))
    total = sum(len(m) for m in sources.values())
    if total == 0:
        raise ConfigError(
            f"no episodes match: campaigns {spec.campaigns}, split {spec.split}, "
            f"success_only={spec.success_only}, include_unseen={spec.include_unseen}"
        )

    def weighted() -> Iterator[tuple[int, float, str]]:
        for key in sorted(sources):
            n = len(sources[key])
            weight = 1.0 / (len(sources) * n) if spec.balance == "equal" else 1.0 / total
            for eid in sources[key]:
                yield eid, weight, spec.split

    return insert_snapshot(
        session, spec.name, dict(spec.__dict__), spec.prompt_version, weighted, total
    )


STREAM_ROWS = 5000  # rows per fetch and per insert: memory bounded whatever the size


def insert_snapshot(
    session: Session,
    name: str,
    filter_spec: dict[str, Any],
    prompt_version: str,
    members: Callable[[], Iterator[tuple[int, float, str]]],
    size: int,
) -> Dataset:
    """A snapshot row and its (episode, weight, split) members, inserted in batches; its
    content hash is over the filter and every member in order (``members`` is called twice:
    once to hash, once to insert, so nothing is held whole)."""
    digest = hashlib.sha256(json.dumps(filter_spec, sort_keys=True, default=str).encode())
    for eid, w, split in members():
        digest.update(f"{eid}:{w!r}:{split};".encode())
    dataset = Dataset(
        name=name,
        filter_spec=filter_spec,
        content_hash=digest.hexdigest(),
        size=size,
        prompt_version=prompt_version,
    )
    session.add(dataset)
    session.flush()
    table = cast(Table, DatasetMember.__table__)
    batch: list[dict[str, Any]] = []
    for eid, w, split in members():
        batch.append({"dataset_id": dataset.id, "episode_id": eid, "weight": w, "split": split})
        if len(batch) >= STREAM_ROWS:
            session.execute(table.insert(), batch)
            batch = []
    if batch:
        session.execute(table.insert(), batch)
    return dataset


def get_dataset(session: Session, name: str) -> Dataset:
    dataset = session.scalars(select(Dataset).where(Dataset.name == name)).one_or_none()
    if dataset is None:
        known = session.scalars(select(Dataset.name).order_by(Dataset.id.desc()).limit(10)).all()
        raise NotFound(f"no dataset named {name!r}; known: {', '.join(known) or 'none'}")
    return dataset


def iter_examples(session: Session, dataset: Dataset) -> Iterator[dict[str, Any]]:
    """Chat-format examples: the scene rendered with the dataset's prompt version, and the
    completion. A teacher prompted with another version wrote the same plan language about
    the same scene, so re-rendering the stored scene is what a student will be asked."""
    stmt = (
        select(Episode, DatasetMember.weight)
        .join(DatasetMember, DatasetMember.episode_id == Episode.id)
        .where(DatasetMember.dataset_id == dataset.id)
        .order_by(Episode.id)
        .execution_options(yield_per=STREAM_ROWS)
    )
    for episode, weight in session.execute(stmt):
        yield {
            "messages": render_messages(
                SceneState.from_json(episode.scene), dataset.prompt_version
            ),
            "completion": episode.completion,
            "weight": weight,
            "task": episode.task,
            "robot": episode.robot,
            "seed": episode.seed,
            "success": episode.success,
            "episode_id": episode.id,
            "prompt_version": dataset.prompt_version,
            "teacher_prompt_version": episode.prompt_version,
        }


def export_dataset(
    session: Session,
    name: str,
    fmt: str,
    out: Path,
    on_episode: Callable[[int], None] | None = None,
) -> Path:
    """``on_episode(total)`` is called as each recorded episode is read (progress)."""
    dataset = get_dataset(session, name)
    if fmt == "jsonl":
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w") as fh:
            for row in iter_examples(session, dataset):
                fh.write(json.dumps(row) + "\n")
        return out
    if fmt == "hf":
        from datasets import Dataset as HFDataset

        rows = list(iter_examples(session, dataset))
        HFDataset.from_list(rows).save_to_disk(str(out))
        return out
    if fmt in DEMO_FORMATS:
        from training.exports import recorded_demos

        groups = recorded_demos(session, dataset, on_episode)
        DEMO_FORMATS[fmt]()(groups, out)
        return out
    raise ConfigError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")


def _lerobot():
    from training.exports.lerobot_v3 import write_lerobot

    return write_lerobot


def _maniskill_h5():
    from training.exports.maniskill_h5 import write_maniskill_h5

    return write_maniskill_h5


# policy-learning formats: need episodes recorded with trajectories (spec key ``record:``)
DEMO_FORMATS = {"lerobot": _lerobot, "maniskill-h5": _maniskill_h5}
EXPORT_FORMATS = ("jsonl", "hf", *DEMO_FORMATS)
