"""Policy-learning exports of a dataset snapshot's recorded episodes.

``lerobot`` (LeRobot v3.0, one dataset per robot) and ``maniskill-h5`` (ManiSkill's
``RecordEpisode`` layout, one ``.h5`` + ``.json`` per task x robot). Both read each episode
from its shard through ``models.artifacts`` (checksum checked) and carry the snapshot's
sampling weight (``--balance equal`` = BLM1's p = 1/(C·|D_i|) per task x robot).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.artifacts import EpisodeData, read_episode
from models.errors import ConfigError
from models.orm import Dataset, DatasetMember, Episode


@dataclass
class Demo:
    episode_id: int
    task: str
    robot: str
    seed: int
    success: bool
    weight: float
    description: str
    load: Callable[[], EpisodeData]


def recorded_demos(
    session: Session, dataset: Dataset, on_episode: Callable[[int], None] | None = None
) -> dict[tuple[str, str], list[Demo]]:
    """The snapshot's episodes that have a stored trajectory, by (task, robot); each load
    calls ``on_episode(total)`` (progress on a long export)."""
    # the columns a Demo needs, streamed: never the completions, plans and scenes of them all
    stmt = (
        select(
            Episode.id,
            Episode.task,
            Episode.robot,
            Episode.seed,
            Episode.success,
            DatasetMember.weight,
            Episode.scene["description"].as_string(),
            Episode.traj_uri,
            Episode.traj_key,
            Episode.traj_sha256,
        )
        .join(DatasetMember, DatasetMember.episode_id == Episode.id)
        .where(DatasetMember.dataset_id == dataset.id)
        .order_by(Episode.task, Episode.robot, Episode.id)
        .execution_options(yield_per=5000)
    )
    groups: dict[tuple[str, str], list[Demo]] = defaultdict(list)
    missing = 0
    for eid, task, robot, seed, success, weight, description, uri, key, digest in session.execute(
        stmt
    ):
        if uri is None:
            missing += 1
            continue
        groups[(task, robot)].append(
            Demo(
                eid,
                task,
                robot,
                seed,
                success,
                weight,
                description or task,
                functools.partial(read_episode, uri, key, digest),
            )
        )
    if on_episode is not None:
        total = sum(len(g) for g in groups.values())
        for demo in (d for g in groups.values() for d in g):
            demo.load = _ticking(demo.load, on_episode, total)
    if not groups:
        raise ConfigError(
            f"dataset {dataset.name!r} has no recorded trajectories ({missing} episodes without); "
            "build it from a campaign whose spec has 'record:'"
        )
    return groups


def _ticking(load: Callable[[], EpisodeData], tick: Callable[[int], None], total: int):
    def wrapped() -> EpisodeData:
        data = load()
        tick(total)
        return data

    return wrapped
