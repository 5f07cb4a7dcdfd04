"""Replay a recorded episode in the simulator and say whether its outcome reproduces.

The run starts from the recorded initial ``env_states`` (as ManiSkill's replay tool does
with ``--use-first-env-state``) and sends the recorded actions in order; it reports the
replayed success next to the recorded one, and how far the objects ended from where the
recording left them. ``--video`` renders the recorded cameras again, side by side.

Runs in a child process with the simulator's environment (the CPU Vulkan driver):
``replay_episode`` starts it; ``python -m manip.sim.replay`` is that child.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from manip.sim.isolated import REPO_ROOT, sim_environment
from models.errors import BlazerError


@dataclass
class ReplayReport:
    steps: int
    recorded_success: bool
    replayed_success: bool
    max_object_drift_m: float  # largest distance between recorded and replayed final poses
    video: str | None = None

    @property
    def reproduced(self) -> bool:
        return self.recorded_success == self.replayed_success


def replay_episode(
    uri: str, key: str, sha256: str | None, video: str | None = None, timeout_s: float = 900.0
) -> ReplayReport:
    # the child runs in the install folder: a relative path is the caller's, made absolute here
    video = str(Path(video).resolve()) if video else None
    request = json.dumps({"uri": uri, "key": key, "sha256": sha256, "video": video})
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "manip.sim.replay"],
            input=request,
            capture_output=True,
            text=True,
            env=sim_environment(),
            cwd=str(REPO_ROOT),
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        raise BlazerError(f"replay did not finish within {timeout_s:.0f} s") from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BlazerError(f"replay failed: {last}")
    reply = json.loads(lines[-1])
    if "error" in reply:
        raise BlazerError(reply["error"])
    return ReplayReport(**reply)


def _replay(uri: str, key: str, sha256: str | None, video: str | None) -> ReplayReport:
    import gymnasium as gym
    import numpy as np

    from manip.sim import agents
    from manip.sim.assets import setup_assets
    from manip.sim.maniskill_backend import fresh_physics
    from manip.sim.recorder import EpisodeRecorder, camera_sensors
    from models.artifacts import encode_video, read_episode
    from models.types import RecordSpec

    ep = read_episode(uri, key, sha256)
    meta = ep.meta
    if not ep.group("env_states"):
        raise BlazerError(
            f"episode {key} was recorded with record.trajectory false: it has no simulator "
            "states to start a replay from"
        )
    setup_assets()
    import mani_skill.envs  # noqa: F401  (registers the tasks)

    agents.register()
    env = gym.make(meta["env_id"], **meta["env_kwargs"])
    try:
        fresh_physics(env)  # as every recorded episode ran
        env.reset(seed=meta["seed"])
        u = env.unwrapped
        states = ep.group("env_states")
        u.set_state_dict(_state_at(states, 0))
        recorder = None
        if video:
            cams = list(meta["cameras"]) or ["base"]
            spec = RecordSpec(trajectory=False, cameras=tuple(cams), fps=int(meta["fps"]))
            recorder = EpisodeRecorder(env, spec, camera_sensors(env, spec), 0)
            recorder.observe(0.0)
        info: dict = {}
        for action in ep.arrays["actions"]:
            info = env.step(action)[-1]
            if recorder is not None:
                recorder.step(action, info, 0.0)
        replayed = bool(np.asarray(info.get("success", False)).reshape(-1)[0]) if info else False
        final = u.get_state_dict()
        drift = 0.0
        for name, series in states.items():
            if name.startswith("actors/"):
                now = np.asarray(final["actors"][name.split("/", 1)[1]])[0, :3]
                drift = max(drift, float(np.linalg.norm(now - series[-1, :3])))
        if recorder is not None:
            clips = [np.stack(recorder.frames[c]) for c in recorder.cameras]
            with open(video, "wb") as fh:
                fh.write(encode_video(np.concatenate(clips, axis=2), recorder.fps))
        recorded = bool(ep.arrays["success"][-1]) if ep.steps else False
        return ReplayReport(ep.steps, recorded, replayed, round(drift, 5), video)
    finally:
        env.close()


def _state_at(states: dict, t: int) -> dict:
    import torch

    out: dict = {}
    for name, series in states.items():
        node = out
        *parents, leaf = name.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = torch.from_numpy(series[t : t + 1])
    return out


def main() -> None:
    out = sys.stdout
    sys.stdout = sys.stderr  # libraries that print must not corrupt the reply
    req = json.loads(sys.stdin.read())
    try:
        report = _replay(req["uri"], req["key"], req.get("sha256"), req.get("video"))
        reply = asdict(report)
    except BlazerError as exc:
        reply = {"error": str(exc)}
    out.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
