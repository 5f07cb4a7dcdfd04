"""Recording cost: blazer's recorder vs ManiSkill's own ``RecordEpisode``, same episodes.

    python -m benchmarks.bench_record [--seeds 20] [--size 128]

First the scripted expert solves ``--seeds`` scenes of PickCube and StackCube on the Panda
(wrist-camera variant) and its action sequences are kept. Then both recorders step those
same actions in this one process (one process each side, one after the other), with the
same two cameras (the task's base camera and the hand camera) at the same size and a
frame at every control step (20 fps):

- blazer: ``manip.sim.recorder.EpisodeRecorder`` (env states, joints, TCP, actions;
  frames rendered by the sensors, H.264 per camera) and one shard per 10 episodes through
  ``models.artifacts.ArtifactStore``;
- ManiSkill: ``RecordEpisode(obs_mode="rgb", save_trajectory=True)``, which renders the
  same sensors as observations and stores them gzip-compressed in its h5.

Reported: episodes/s for each and the ratio, bytes per episode, the share of blazer's
time spent rendering on this CPU (lavapipe), and export time per 1,000 episodes for both
export formats.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import print_table

TASKS = ("PickCube-v1", "StackCube-v1")
ROBOT = "panda"


def _setup() -> None:
    from manip.sim.isolated import sim_environment

    for key in ("VK_ICD_FILENAMES", "LD_LIBRARY_PATH"):
        if key in sim_environment():
            os.environ[key] = sim_environment()[key]


def expert_actions(seeds: int) -> list[tuple[str, int, np.ndarray]]:
    """(task, seed, actions) of the expert's successful episodes (trajectory only)."""
    from manip.plan_language import parse_plan
    from manip.prompt import render_messages
    from manip.sim.maniskill_backend import ManiSkillBackend
    from manip.teachers.base import TeacherRequest
    from manip.teachers.expert import ExpertTeacher
    from models.artifacts import EpisodeData
    from models.types import RecordSpec

    backend, teacher = ManiSkillBackend(), ExpertTeacher()
    spec = RecordSpec(trajectory=False, cameras=("base", "wrist"), image_size=16, fps=1)
    out = []
    for task in TASKS:
        for seed in range(seeds):
            scene = backend.reset(task, ROBOT, seed, spec)
            text = teacher.complete([TeacherRequest(scene, render_messages(scene, "v2"))])[0].text
            backend.reset(task, ROBOT, seed, spec)
            result = backend.execute(parse_plan(text))
            path = result.trajectory["path"]
            if result.success:
                out.append((task, seed, EpisodeData(Path(path).read_bytes()).arrays["actions"]))
            Path(path).unlink()
    backend.close()
    return out


def make_env(task: str, size: int, obs_mode: str):
    import gymnasium as gym

    return gym.make(
        task,
        obs_mode=obs_mode,
        control_mode="pd_joint_pos",
        robot_uids="panda_wristcam",
        render_backend="cpu",
        sensor_configs={"width": size, "height": size},
        max_episode_steps=5000,
    )


def run_blazer(episodes, size: int, root: Path) -> tuple[float, int, float, list]:
    from manip.sim.recorder import EpisodeRecorder, camera_sensors
    from models.artifacts import ArtifactStore
    from models.types import RecordSpec

    spec = RecordSpec(cameras=("base", "wrist"), image_size=size, fps=20)
    store = ArtifactStore(str(root))
    envs = {task: make_env(task, size, "none") for task in TASKS}
    batch: dict[str, tuple[str, int]] = {}
    render_s, refs = 0.0, []
    start = time.perf_counter()
    for i, (task, seed, actions) in enumerate(episodes):
        env = envs[task]
        env.reset(seed=seed)
        rec = EpisodeRecorder(env, spec, camera_sensors(env, spec), 7)
        rec.observe(1.0)
        for a in actions:
            rec.step(a, env.step(a)[-1], float(a[-1]))
        joints = [j.get_name() for j in env.unwrapped.agent.robot.get_active_joints()]
        meta = {
            "env_id": task,
            "seed": seed,
            "control_freq": 20,
            "control_mode": "pd_joint_pos",
            "joint_names": joints,
            "n_arm": 7,
            "env_kwargs": {},
            "max_episode_steps": 5000,
        }
        path, steps = rec.finish(meta)
        render_s += rec.render_s
        batch[f"{task}-s{seed}"] = (path, steps)
        if len(batch) == 10 or i == len(episodes) - 1:
            got = store.write_shard(f"job-{i}.h5", batch)
            refs += [(k, r) for k, r in got.items()]
            for p, _ in batch.values():
                Path(p).unlink()
            batch = {}
    elapsed = time.perf_counter() - start
    for env in envs.values():
        env.close()
    size_bytes = sum(p.stat().st_size for p in root.rglob("*.h5"))
    return elapsed, size_bytes, render_s, refs


def run_maniskill(episodes, size: int, root: Path) -> tuple[float, int]:
    from mani_skill.utils.wrappers.record import RecordEpisode

    envs = {
        task: RecordEpisode(
            make_env(task, size, "rgb"),
            output_dir=str(root / task),
            save_trajectory=True,
            save_video=False,
            record_env_state=True,
            trajectory_name="trajectory",
        )
        for task in TASKS
    }
    start = time.perf_counter()
    for task, seed, actions in episodes:
        env = envs[task]
        env.reset(seed=seed)
        for a in actions:
            env.step(a)
        env.flush_trajectory()
    for env in envs.values():
        env.close()
    elapsed = time.perf_counter() - start
    return elapsed, sum(p.stat().st_size for p in root.rglob("*.h5"))


def time_exports(refs, root: Path, episodes) -> tuple[float, float]:
    from models.artifacts import read_episode
    from training.exports import Demo
    from training.exports.lerobot_v3 import write_lerobot
    from training.exports.maniskill_h5 import write_maniskill_h5

    # in (robot, task) order, as training.exports.recorded_demos streams them
    demos = sorted(
        (
            Demo(
                0,
                task,
                ROBOT,
                seed,
                True,
                1.0,
                task,
                lambda ref=ref: read_episode(ref.uri, ref.key, ref.sha256),
            )
            for (_, ref), (task, seed, _) in zip(refs, episodes, strict=True)
        ),
        key=lambda d: d.task,
    )
    start = time.perf_counter()
    write_lerobot(demos, root / "lerobot")
    lerobot_s = time.perf_counter() - start
    start = time.perf_counter()
    write_maniskill_h5(demos, root / "h5")
    h5_s = time.perf_counter() - start
    return lerobot_s, h5_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="Scenes per task.")
    parser.add_argument("--size", type=int, default=128, help="Image size (square).")
    args = parser.parse_args()
    _setup()
    from manip.sim.assets import setup_assets

    setup_assets()
    import mani_skill.envs  # noqa: F401

    from manip.sim import agents

    agents.register()
    episodes = expert_actions(args.seeds)
    steps = sum(len(a) for _, _, a in episodes)
    tmp = Path(tempfile.mkdtemp(prefix="bench-record-"))
    try:
        b_s, b_bytes, render_s, refs = run_blazer(episodes, args.size, tmp / "blazer")
        m_s, m_bytes = run_maniskill(episodes, args.size, tmp / "maniskill")
        lerobot_s, h5_s = time_exports(refs, tmp / "exports", episodes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = len(episodes)
    rows = [
        [
            "blazer EpisodeRecorder + shards",
            n,
            steps,
            f"{n / b_s:.3f}",
            f"{b_s / steps * 1000:.1f}",
            f"{b_bytes / n / 1024:.0f}",
            f"{render_s / b_s:.0%}",
        ],
        [
            "ManiSkill RecordEpisode (rgb obs)",
            n,
            steps,
            f"{n / m_s:.3f}",
            f"{m_s / steps * 1000:.1f}",
            f"{m_bytes / n / 1024:.0f}",
            "-",
        ],
    ]
    print_table(
        f"record: {args.size}x{args.size}, base + wrist camera, 20 fps, Panda, {', '.join(TASKS)}",
        [
            "recorder",
            "episodes",
            "control steps",
            "episodes/s",
            "ms/step",
            "KiB/episode",
            "rendering share",
        ],
        rows,
    )
    print(f"\nblazer / RecordEpisode episodes/s: {m_s / b_s:.2f}x")
    print(
        f"export per 1,000 episodes: LeRobot v3 {lerobot_s / n * 1000 / 60:.1f} min, "
        f"ManiSkill h5 {h5_s / n * 1000 / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
