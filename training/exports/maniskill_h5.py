"""ManiSkill trajectory files, as ``mani_skill.utils.wrappers.RecordEpisode`` writes them:
``<task>_<robot>.h5`` with ``traj_<i>`` groups (``actions``, ``env_states``, ``success``,
``terminated``, ``truncated``) and a ``.json`` with ``env_info`` and ``episodes``, so that
``python -m mani_skill.trajectory.replay_trajectory`` (and ManiSkill's dataset loaders)
read them unchanged. Where that tool cannot reset an episode as blazer ran it without the
recorded states (a robot blazer places, blazer's own tasks), the JSON says so in one line,
``blazer_note``, and ``blazer dataset export`` prints it."""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from manip.sim.agents import plain_replay_note
from training.exports import Demo


def write_maniskill_h5(
    demos: Iterable[Demo], out: Path, on_note: Callable[[str], None] | None = None
) -> list[Path]:
    """``demos`` in (robot, task) order; each episode is written as it is read, and the
    JSON's episode list goes through a temporary file (memory independent of their number)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for (robot, task), group in itertools.groupby(demos, key=lambda d: (d.robot, d.task)):
        path, note = _write_pair(out / f"{task}_{robot}", group)
        written.append(path)
        if note and on_note:
            on_note(f"{path.name}: {note}")
    return written


def _write_pair(stem: Path, demos: Iterable[Demo]) -> tuple[Path, str | None]:
    import h5py

    tmp = stem.with_suffix(".h5.tmp")
    listing = stem.with_suffix(".episodes.tmp")
    env_info: dict[str, Any] | None = None
    with h5py.File(tmp, "w") as f, listing.open("w") as episodes:
        for i, demo in enumerate(demos):
            ep = demo.load()
            meta = ep.meta
            env_info = env_info or {
                "env_id": meta["env_id"],
                "env_kwargs": meta["env_kwargs"],
                "max_episode_steps": meta["max_episode_steps"],
            }
            g = f.create_group(f"traj_{i}", track_order=True)
            success = ep.arrays["success"].astype(bool)
            g.create_dataset("actions", data=ep.arrays["actions"].astype(np.float32))
            g.create_dataset("terminated", data=success)  # these tasks end on success only
            g.create_dataset("truncated", data=np.zeros_like(success))
            g.create_dataset("success", data=success)
            for key, series in ep.group("env_states").items():
                g.create_dataset(f"env_states/{key}", data=series.astype(np.float32))
            entry = {
                "episode_id": i,
                "episode_seed": demo.seed,
                "control_mode": meta["control_mode"],
                "elapsed_steps": int(ep.steps),
                "success": bool(demo.success),
                "reset_kwargs": {"seed": demo.seed},
                "blazer_episode_id": demo.episode_id,
                "weight": demo.weight,
            }
            episodes.write(("," if i else "") + json.dumps(entry) + "\n")
    tmp.replace(stem.with_suffix(".h5"))
    assert env_info is not None
    note = plain_replay_note(env_info["env_kwargs"]["robot_uids"], env_info["env_id"])
    head = {
        **({"blazer_note": note} if note else {}),
        "env_info": env_info,
        "commit_info": None,
        "source_type": "motionplanning",
        "source_desc": "blazer: teacher plans verified in ManiSkill with mplib motion planning",
    }
    with stem.with_suffix(".json").open("w") as fh, listing.open() as episodes:
        fh.write(json.dumps(head)[:-1] + ', "episodes": [\n')
        shutil.copyfileobj(episodes, fh)
        fh.write("]}\n")
    listing.unlink()
    return stem.with_suffix(".h5"), note
