"""The state observation a policy sees, one owner for both sides: built from a recorded
episode's arrays when it is trained and from the live env when it runs, in the same order.

Per step: the robot's joint positions and velocities, the TCP pose (position + wxyz
quaternion), the pose of every actor in ManiSkill's state dict (the cube, the goal
marker, …) in name order — what ``RecordEpisode`` keeps as ``env_states`` — and then the
vectors between them: each actor's position from the TCP and each pair of actors' (as
ManiSkill's own state observations give ``tcp_to_obj_pos`` and ``obj_to_goal_pos``; a
network reads "3 cm left of the cube" far more easily from a difference than from two
absolute positions).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.errors import ConfigError


def _numpy(value: Any) -> np.ndarray:
    return value.cpu().numpy() if hasattr(value, "cpu") else np.asarray(value)


def observation(
    qpos: np.ndarray, qvel: np.ndarray, tcp_pose: np.ndarray, actors: dict[str, np.ndarray]
) -> np.ndarray:
    """One step's feature vector (float32); ``actors``: name -> state (pose first, 7+)."""
    poses = [np.asarray(actors[name])[..., :7] for name in sorted(actors)]
    points = [np.asarray(tcp_pose)[..., :3]] + [p[..., :3] for p in poses]
    between = [b - a for i, a in enumerate(points) for b in points[i + 1 :]]
    return np.concatenate([qpos, qvel, tcp_pose, *poses, *between], axis=-1).astype(np.float32)


def episode_observations(data) -> np.ndarray:
    """(T+1, D) observations of a recorded episode (``models.artifacts.EpisodeData``)."""
    actors = data.group("env_states/actors")
    if not actors:
        raise ConfigError(
            "this episode has no env_states: record it with 'record: {trajectory: true}'"
        )
    a = data.arrays
    return observation(a["obs/qpos"], a["obs/qvel"], a["obs/tcp_pose"], actors)


def env_observation(env) -> tuple[np.ndarray, list[str]]:
    """The live env's observation now (the same vector as ``episode_observations``' row),
    and the actor names it was built from (a policy checks them against its training's)."""
    u = env.unwrapped
    robot = u.agent.robot
    pose = u.agent.tcp.pose
    tcp = np.hstack([_numpy(pose.p[0]), _numpy(pose.q[0])])
    actors = {k: _numpy(v)[0] for k, v in u.get_state_dict()["actors"].items()}
    obs = observation(_numpy(robot.get_qpos()[0]), _numpy(robot.get_qvel()[0]), tcp, actors)
    return obs, sorted(actors)
