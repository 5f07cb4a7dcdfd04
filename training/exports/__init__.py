"""Policy-learning exports of a dataset snapshot's recorded episodes.

``lerobot`` (LeRobot v3.0, one dataset per robot) and ``maniskill-h5`` (ManiSkill's
``RecordEpisode`` layout, one ``.h5`` + ``.json`` per task x robot). Both read each episode
from its shard through ``models.artifacts`` (checksum checked) and carry the snapshot's
sampling weight (``--balance equal`` = BLM1's p = 1/(C·|D_i|) per task x robot).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import func, select
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
) -> Iterator[Demo]:
    """The snapshot's episodes that have a stored trajectory, streamed in (robot, task, id)
    order (the writers group on it: memory is one episode's, whatever the snapshot's size);
    each load calls ``on_episode(total)`` (progress on a long export)."""
    member = (DatasetMember.dataset_id == dataset.id, DatasetMember.episode_id == Episode.id)
    total, missing = session.execute(
        select(func.count(Episode.traj_uri), func.count() - func.count(Episode.traj_uri)).where(
            *member
        )
    ).one()
    if not total:
        raise ConfigError(
            f"dataset {dataset.name!r} has no recorded trajectories ({missing} episodes without); "
            "build it from a campaign whose spec has 'record:'"
        )
    return _stream(session, member, on_episode, total)


def _stream(session: Session, member, on_episode, total: int) -> Iterator[Demo]:
    # the columns a Demo needs: never the completions, plans and scenes of them all
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
        .where(*member, Episode.traj_uri.is_not(None))
        .order_by(Episode.robot, Episode.task, Episode.id)
        .execution_options(yield_per=5000)
    )
    for eid, task, robot, seed, success, weight, description, uri, key, digest in session.execute(
        stmt
    ):
        load = functools.partial(read_episode, uri, key, digest)
        yield Demo(
            eid,
            task,
            robot,
            seed,
            success,
            weight,
            description or task,
            load if on_episode is None else _ticking(load, on_episode, total),
        )


def _ticking(load: Callable[[], EpisodeData], tick: Callable[[int], None], total: int):
    def wrapped() -> EpisodeData:
        data = load()
        tick(total)
        return data

    return wrapped
