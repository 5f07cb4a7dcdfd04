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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Float, Table, Text, func, literal, select
from sqlalchemy import cast as cast_
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
    """Choose, deduplicate, sample and weigh the members in the database (one ``INSERT …
    SELECT``): no episode's scene or completion crosses into this process, so a million-member
    snapshot costs what the database's sort costs."""
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
    dataset = Dataset(
        name=spec.name,
        filter_spec=dict(spec.__dict__),
        content_hash="",
        size=0,
        prompt_version=spec.prompt_version,
    )
    session.add(dataset)
    session.flush()
    table = cast(Table, DatasetMember.__table__)
    members = _chosen_members(spec, list(ids.values()), dataset.id)
    session.execute(
        table.insert().from_select(["dataset_id", "episode_id", "weight", "split"], members)
    )
    dataset.size = session.scalar(
        select(func.count()).select_from(table).where(table.c.dataset_id == dataset.id)
    )
    if dataset.size == 0:
        raise ConfigError(
            f"no episodes match: campaigns {spec.campaigns}, split {spec.split}, "
            f"success_only={spec.success_only}, include_unseen={spec.include_unseen}"
        )
    dataset.content_hash = _content_hash(session, dataset.filter_spec, dataset.id)
    return dataset


def _chosen_members(spec: DatasetSpec, campaign_ids: list[int], dataset_id: int):
    """(dataset id, episode id, weight, split) of every member, as one SELECT.

    Layer 1 numbers the copies of each (scene, completion) pair (the same pair twice teaches
    nothing new: the first by id is kept); layer 2 numbers each source's (campaign x task x
    robot) kept episodes in a seeded pseudo-random order for ``per_task``; layer 3 counts
    each source and ranks the sources; layer 4 weighs: ``equal`` gives 1 / (C * |D_i|),
    ``proportional`` 1 / total."""
    lo = SeedSplit(spec.split).offset
    source = (Episode.campaign_id, Episode.task, Episode.robot)
    where = [
        Episode.campaign_id.in_(campaign_ids),
        Episode.seed >= lo,
        Episode.seed < lo + SEED_SPLIT_SIZE,
        Episode.completion.is_not(None),
        Episode.scene.is_not(None),
    ]
    if not spec.include_unseen:
        where.append(Episode.task.not_in(UNSEEN))
    if spec.success_only:
        where.append(Episode.success.is_(True))
    pair = func.md5(cast_(Episode.scene, Text) + Episode.completion)
    copies = (
        select(*source, Episode.id, Episode.seed)
        .add_columns(func.row_number().over(partition_by=pair, order_by=Episode.id).label("copy"))
        .where(*where)
        .subquery("copies")
    )
    c = copies.c
    shuffle = func.md5(cast_(spec.seed, Text) + ":" + cast_(c.id, Text))
    picked = (
        select(c.campaign_id, c.task, c.robot, c.id)
        .add_columns(
            func.row_number()
            .over(partition_by=(c.campaign_id, c.task, c.robot), order_by=(shuffle, c.id))
            .label("pick")
        )
        .where(c.copy == 1)
        .subquery("picked")
    )
    p = picked.c
    keep = [] if spec.per_task is None else [p.pick <= spec.per_task]
    counted = (
        select(p.id)
        .add_columns(
            func.count().over(partition_by=(p.campaign_id, p.task, p.robot)).label("n"),
            func.count().over().label("total"),
            func.dense_rank().over(order_by=(p.campaign_id, p.task, p.robot)).label("rank"),
        )
        .where(*keep)
        .subquery("counted")
    )
    k = counted.c
    equal = literal(1.0) / (func.max(k.rank).over() * k.n)
    weight = equal if spec.balance == "equal" else literal(1.0) / k.total
    return select(literal(dataset_id), k.id, cast_(weight, Float), literal(spec.split)).order_by(
        k.id
    )


def _content_hash(session: Session, filter_spec: dict[str, Any], dataset_id: int) -> str:
    """sha256 over the filter and every (episode, weight, split) member in episode order,
    streamed (a million members are ~30 MB of text, never held whole)."""
    digest = hashlib.sha256(json.dumps(filter_spec, sort_keys=True, default=str).encode())
    rows = session.execute(
        select(DatasetMember.episode_id, DatasetMember.weight, DatasetMember.split)
        .where(DatasetMember.dataset_id == dataset_id)
        .order_by(DatasetMember.episode_id)
        .execution_options(yield_per=STREAM_ROWS)
    )
    for eid, w, split in rows:
        digest.update(f"{eid}:{w!r}:{split};".encode())
    return digest.hexdigest()


STREAM_ROWS = 5000  # rows per fetch and per insert: memory bounded whatever the size


def insert_snapshot(
    session: Session,
    name: str,
    filter_spec: dict[str, Any],
    prompt_version: str,
    members: Iterable[tuple[int, float, str]],
    size: int,
) -> Dataset:
    """A snapshot row and its (episode, weight, split) members, inserted in batches, and its
    content hash (as ``build_dataset``'s: over the filter and the stored members)."""
    dataset = Dataset(
        name=name,
        filter_spec=filter_spec,
        content_hash="",
        size=size,
        prompt_version=prompt_version,
    )
    session.add(dataset)
    session.flush()
    table = cast(Table, DatasetMember.__table__)
    batch: list[dict[str, Any]] = []
    for eid, w, split in members:
        batch.append({"dataset_id": dataset.id, "episode_id": eid, "weight": w, "split": split})
        if len(batch) >= STREAM_ROWS:
            session.execute(table.insert(), batch)
            batch = []
    if batch:
        session.execute(table.insert(), batch)
    dataset.content_hash = _content_hash(session, filter_spec, dataset.id)
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
    file_mb: tuple[float | None, float | None] = (None, None),
    on_note: Callable[[str], None] | None = None,
) -> Path:
    """``on_episode(total)`` is called as each recorded episode is read (progress);
    ``file_mb`` = (data, video) file sizes past which a LeRobot export starts a new file
    (None: lerobot's 100 and 200 MB); ``on_note(line)`` gets what a user of the written
    files must know (an h5 file the plain ManiSkill tool cannot replay without states)."""
    if any(mb is not None for mb in file_mb) and fmt != "lerobot":
        raise ConfigError("--data-file-mb and --video-file-mb are for --format lerobot")
    if any(mb is not None and mb <= 0 for mb in file_mb):
        raise ConfigError(f"file sizes must be positive MB, got {file_mb}")
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

        demos = recorded_demos(session, dataset, on_episode)
        DEMO_FORMATS[fmt](file_mb, on_note or (lambda line: None))(demos, out)
        return out
    raise ConfigError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")


def _lerobot(file_mb: tuple[float | None, float | None], on_note: Callable) -> Callable:
    from training.exports.lerobot_v3 import FileSizes, write_lerobot

    data_mb, video_mb = file_mb
    sizes = FileSizes(data_mb or FileSizes.data_mb, video_mb or FileSizes.video_mb)
    return lambda demos, out: write_lerobot(demos, out, sizes)


def _maniskill_h5(file_mb: tuple[float | None, float | None], on_note: Callable) -> Callable:
    from training.exports.maniskill_h5 import write_maniskill_h5

    return lambda demos, out: write_maniskill_h5(demos, out, on_note)


# policy-learning formats, each made into a writer (demos, out) for the file sizes and the
# note sink asked; they need episodes recorded with trajectories (spec key ``record:``)
DEMO_FORMATS = {"lerobot": _lerobot, "maniskill-h5": _maniskill_h5}
EXPORT_FORMATS = ("jsonl", "hf", *DEMO_FORMATS)
