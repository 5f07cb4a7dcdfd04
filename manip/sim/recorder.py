"""Per-step recording of one episode inside the simulator process.

Kept at every control step: joint positions and velocities, the end-effector (TCP) pose,
the gripper command, the action sent and ManiSkill's ``env_states`` (what
``RecordEpisode`` keeps, enough to replay the episode exactly). Camera frames are rendered
every ``control_freq / fps`` steps and encoded to H.264 by PyAV when the episode ends, so
the spool file the worker picks up is small (the ``models.artifacts`` layout).
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from models.artifacts import spool_dir, write_episode_file
from models.types import RecordSpec

BASE_CAMERA = "base_camera"  # every ManiSkill table-top task's third-person camera


class CameraError(RuntimeError):
    """A camera could not render (no Vulkan device, a driver fault)."""


def camera_sensors(env, record: RecordSpec) -> dict[str, str]:
    """Our camera names -> the env's sensor uids (the task's base camera, the agent's)."""
    u = env.unwrapped
    if record.cameras and not getattr(u.scene, "sensors", None):
        raise CameraError(
            "camera could not render: the simulator has no render device "
            "(is the CPU Vulkan driver installed? see scripts/install_vulkan.sh)"
        )
    wrist = list(u._agent_sensor_configs)
    uids = {"base": BASE_CAMERA, "wrist": wrist[0] if wrist else None}
    missing = [c for c in record.cameras if uids.get(c) not in u.scene.sensors]
    if missing:
        raise CameraError(f"this robot has no {' or '.join(missing)} camera here")
    return {c: uids[c] for c in record.cameras}


def _to_numpy(value: Any) -> np.ndarray:
    return value.cpu().numpy() if hasattr(value, "cpu") else np.asarray(value)


class EpisodeRecorder:
    """Collects one episode; ``finish`` writes it to a spool file and returns its path."""

    def __init__(self, env, spec: RecordSpec, cameras: dict[str, str], n_arm: int) -> None:
        self.env, self.spec, self.cameras, self.n_arm = env, spec, cameras, n_arm
        u = env.unwrapped
        self.every = max(1, round(u.control_freq / spec.fps))
        self.fps = u.control_freq / self.every
        self.actions: list[np.ndarray] = []
        self.success: list[bool] = []
        self.qpos: list[np.ndarray] = []
        self.qvel: list[np.ndarray] = []
        self.tcp: list[np.ndarray] = []
        self.gripper: list[float] = []
        self.states: list[dict] = []
        self.frames: dict[str, list[np.ndarray]] = {c: [] for c in cameras}
        self.depth: dict[str, list[np.ndarray]] = {c: [] for c in cameras}
        self.frame_index: list[int] = []
        self.render_s = 0.0

    def observe(self, gripper: float) -> None:
        """Record the state after a reset or a step (index len(actions))."""
        u = self.env.unwrapped
        robot = u.agent.robot
        self.qpos.append(_to_numpy(robot.get_qpos()[0]).astype(np.float32))
        self.qvel.append(_to_numpy(robot.get_qvel()[0]).astype(np.float32))
        pose = u.agent.tcp.pose
        self.tcp.append(np.hstack([_to_numpy(pose.p[0]), _to_numpy(pose.q[0])]).astype(np.float32))
        self.gripper.append(float(gripper))
        if self.spec.trajectory:
            self.states.append(_state_numpy(u.get_state_dict()))
        index = len(self.qpos) - 1
        if self.cameras and index % self.every == 0:
            self._render(index)

    def step(self, action: np.ndarray, info: dict, gripper: float) -> None:
        self.actions.append(np.asarray(action, dtype=np.float32))
        success = info.get("success", False)
        self.success.append(bool(_to_numpy(success).reshape(-1)[0]))
        self.observe(gripper)

    def _render(self, index: int) -> None:
        start = time.perf_counter()
        u = self.env.unwrapped
        try:
            u.scene.update_render(update_sensors=True, update_human_render_cameras=False)
            sensors = {name: u.scene.sensors[uid] for name, uid in self.cameras.items()}
            for sensor in sensors.values():  # submit every camera, then read: they overlap
                sensor.capture()
            for name, sensor in sensors.items():
                obs = sensor.get_obs(
                    rgb=True, depth=self.spec.depth, position=False, segmentation=False
                )
                self.frames[name].append(_to_numpy(obs["rgb"][0]).astype(np.uint8))
                if self.spec.depth:
                    self.depth[name].append(_to_numpy(obs["depth"][0])[..., 0].astype(np.uint16))
        except Exception as exc:  # Vulkan missing or lost: one line, not a traceback
            raise CameraError(f"camera could not render: {exc.__class__.__name__}: {exc}") from None
        self.frame_index.append(index)
        self.render_s += time.perf_counter() - start

    def finish(self, meta: dict[str, Any]) -> tuple[str, int]:
        """Write the spool file; returns (path, control steps)."""
        from models.artifacts import encode_video

        data: dict[str, np.ndarray] = {
            "actions": np.stack(self.actions)
            if self.actions
            else np.zeros((0, self.env.action_space.shape[-1]), np.float32),
            "success": np.array(self.success, dtype=bool),
            "obs/qpos": np.stack(self.qpos),
            "obs/qvel": np.stack(self.qvel),
            "obs/tcp_pose": np.stack(self.tcp),
            "obs/gripper": np.array(self.gripper, dtype=np.float32),
            "frame_index": np.array(self.frame_index, dtype=np.int64),
        }
        for key, series in _stack_states(self.states).items():
            data[f"env_states/{key}"] = series
        for name, frames in self.frames.items():
            if frames:
                data[f"video/{name}"] = np.frombuffer(
                    encode_video(np.stack(frames), self.fps), dtype=np.uint8
                )
            if self.depth[name]:
                data[f"depth/{name}"] = np.stack(self.depth[name])
        meta = {**meta, "fps": self.fps, "render_s": round(self.render_s, 3)}
        meta["cameras"] = list(self.cameras)
        path = Path(spool_dir()) / f"{os.getpid()}-{uuid.uuid4().hex}.h5"
        write_episode_file(path, data, meta)
        return str(path), len(self.actions)


def _state_numpy(state: dict) -> dict:
    return {
        k: _state_numpy(v) if isinstance(v, dict) else _to_numpy(v)[0].astype(np.float32)
        for k, v in state.items()
    }


def _stack_states(states: list[dict], prefix: str = "") -> dict[str, np.ndarray]:
    """[{actors: {cube: (13,)}}, ...] -> {"actors/cube": (T+1, 13)} (RecordEpisode's layout)."""
    if not states:
        return {}
    out: dict[str, np.ndarray] = {}
    for key, value in states[0].items():
        if isinstance(value, dict):
            out.update(_stack_states([s[key] for s in states], f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = np.stack([s[key] for s in states])
    return out
