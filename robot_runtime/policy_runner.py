"""Deploying a learned policy (``blazer train policy``) on a robot: observe the state, sample an
action chunk, command its joint targets one control step at a time, look again.

A robot that runs policies implements ``PolicyRobot``; the simulated stand-in does
(``SimRobot``, tested), the Franka does through panda-py (``FrankaRobot``, untested). Every
action passes ``JointGuard`` first: a target outside what the demonstrations ever commanded,
or too far from where the joints are, stops the episode before it moves.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from manip.policy.diffusion import DiffusionPolicy


class PolicyRobot(Protocol):
    name: str

    def connect(self) -> None: ...

    def policy_observation(self) -> tuple[np.ndarray, list[str]]:
        """``manip.policy.features.observation`` of the robot now, and its actor names."""
        ...

    def command_joints(self, action: np.ndarray) -> None:
        """One control step towards a pd_joint_pos target: arm joints, then the gripper."""
        ...

    def task_success(self) -> bool: ...

    def disconnect(self) -> None: ...


@dataclass(frozen=True)
class JointGuard:
    """Fails closed: the targets stay inside the demonstrations' range (widened by ``margin``
    of it) and within ``max_jump_rad`` of the measured joints."""

    margin: float = 0.05
    max_jump_rad: float = 0.5

    def check(self, policy: DiffusionPolicy, qpos: np.ndarray, action: np.ndarray) -> str | None:
        low, high = policy.act_limits.low, policy.act_limits.high
        pad = self.margin * (high - low) + 1e-4
        outside = np.flatnonzero((action < low - pad) | (action > high + pad))
        if outside.size:
            return f"target of dimension {int(outside[0])} ({action[outside[0]]:.3f}) is outside the demonstrations' range"
        n = min(len(qpos), len(action) - 1)
        jump = float(np.max(np.abs(action[:n] - qpos[:n]))) if n else 0.0
        if jump > self.max_jump_rad:
            return f"a joint target {jump:.2f} rad from the measured joints (limit {self.max_jump_rad})"
        return None


@dataclass
class PolicyDeployment:
    steps: int = 0
    success: bool = False
    refused: str | None = None
    chunks: int = 0


def deploy_policy(
    robot: PolicyRobot,
    policy: DiffusionPolicy,
    guard: JointGuard = JointGuard(),
    max_steps: int | None = None,
    seed: int = 0,
) -> PolicyDeployment:
    import torch

    c = policy.config
    limit = max_steps or c.max_steps
    result = PolicyDeployment()
    noise = torch.Generator().manual_seed(seed)
    robot.connect()
    try:
        obs, actors = robot.policy_observation()
        # the robot runs the policy's own task: what it sees is what can differ
        if (why := policy.mismatch(c.task, c.robot, np.asarray(obs), actors)) is not None:
            result.refused = why
            return result
        history = deque([np.asarray(obs, np.float32)] * c.obs_horizon, maxlen=c.obs_horizon)
        while result.steps < limit and not result.success:
            result.chunks += 1
            for action in policy.act(np.stack(history), noise):
                if (why := guard.check(policy, history[-1][: c.n_arm], action)) is not None:
                    result.refused = why
                    return result
                robot.command_joints(action)
                result.steps += 1
                history.append(np.asarray(robot.policy_observation()[0], np.float32))
                if result.steps >= limit:
                    break
            result.success = robot.task_success()
        return result
    finally:
        robot.disconnect()
