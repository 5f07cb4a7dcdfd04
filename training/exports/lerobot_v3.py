"""LeRobot v3.0 datasets, written with pyarrow and PyAV the way ``lerobot`` 0.4.4's
``LeRobotDataset`` writes them (its package cannot be installed beside this project):

    meta/info.json  meta/stats.json  meta/tasks.parquet
    meta/episodes/chunk-000/file-000.parquet
    data/chunk-000/file-000.parquet
    videos/observation.images.<camera>/chunk-000/file-000.mp4

One dataset per robot (LeRobot keeps one ``robot_type`` and fixed feature shapes per
dataset); its tasks are the task descriptions. Rows are taken every ``control_freq / fps``
control steps, at the frames the cameras rendered; several episodes share a data file and a
video file, each episode's video span being [from_timestamp, to_timestamp).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from models.artifacts import encode_video
from training.exports import Demo

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # files per chunk folder (lerobot's DEFAULT_CHUNK_SIZE)
DATA_FILE_MB = 100  # lerobot's DEFAULT_DATA_FILE_SIZE_IN_MB
VIDEO_FILE_MB = 200  # lerobot's DEFAULT_VIDEO_FILE_SIZE_IN_MB
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE + ".parquet"
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
DEFAULT_FEATURES = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}


def write_lerobot(groups: dict[tuple[str, str], list[Demo]], out: Path) -> list[Path]:
    by_robot: dict[str, list[Demo]] = {}
    for (_, robot), demos in sorted(groups.items()):
        by_robot.setdefault(robot, []).extend(demos)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for robot, demos in by_robot.items():
        root = out / robot
        tmp = out / f".{robot}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        _write_dataset(robot, demos, tmp)
        shutil.rmtree(root, ignore_errors=True)
        tmp.replace(root)
        written.append(root)
    return written


def _stats(values: np.ndarray, image: bool = False) -> dict[str, Any]:
    """lerobot's per-feature stats: min, max, mean, std, count and quantiles (images per
    channel in [0, 1], shaped (3, 1, 1))."""
    if image:
        return _image_stats(values)
    values = values.astype(np.float64).reshape(len(values), -1)
    stats = {
        "min": values.min(axis=0),
        "max": values.max(axis=0),
        "mean": values.mean(axis=0),
        "std": values.std(axis=0),
        "count": np.array([len(values)]),
    }
    for q, value in zip(QUANTILES, np.quantile(values, QUANTILES, axis=0), strict=True):
        stats[f"q{int(q * 100):02d}"] = value
    return stats


def _image_stats(frames: np.ndarray) -> dict[str, Any]:
    """Exact per-channel stats of uint8 frames from a 256-bin histogram (no float copy of
    every pixel, no sort)."""
    levels = np.arange(256, dtype=np.float64) / 255.0
    hist = np.stack([np.bincount(frames[..., c].ravel(), minlength=256) for c in range(3)])
    total = hist.sum(axis=1, keepdims=True)
    mean = (hist * levels).sum(axis=1) / total[:, 0]
    var = (hist * levels**2).sum(axis=1) / total[:, 0] - mean**2
    cdf = np.cumsum(hist, axis=1) / total
    present = hist > 0
    stats = {
        "min": levels[present.argmax(axis=1)],
        "max": levels[255 - present[:, ::-1].argmax(axis=1)],
        "mean": mean,
        "std": np.sqrt(np.maximum(var, 0.0)),
        "count": np.array([len(frames)]),
    }
    for q in QUANTILES:
        stats[f"q{int(q * 100):02d}"] = levels[(cdf < q).sum(axis=1).clip(max=255)]
    return {k: v if k == "count" else v.reshape(3, 1, 1) for k, v in stats.items()}


def _aggregate(per_episode: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """Dataset stats from episode stats (weighted means and pooled variance, as lerobot's
    aggregate_stats; quantiles as count-weighted means of the episodes')."""
    counts = np.array([s["count"][0] for s in per_episode], dtype=np.float64)
    w = counts / counts.sum()
    shape = per_episode[0]["mean"].shape
    wb = w.reshape((-1,) + (1,) * len(shape))
    means = np.stack([s["mean"] for s in per_episode])
    mean = (means * wb).sum(0)
    var = ((np.stack([s["std"] for s in per_episode]) ** 2 + (means - mean) ** 2) * wb).sum(0)
    out = {
        "min": np.min(np.stack([s["min"] for s in per_episode]), axis=0),
        "max": np.max(np.stack([s["max"] for s in per_episode]), axis=0),
        "mean": mean,
        "std": np.sqrt(var),
        "count": np.array([int(counts.sum())]),
    }
    for q in QUANTILES:
        key = f"q{int(q * 100):02d}"
        out[key] = (np.stack([s[key] for s in per_episode]) * wb).sum(0)
    return out


def _jsonable(stats: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    return {f: {k: np.asarray(v).tolist() for k, v in s.items()} for f, s in stats.items()}


def _write_dataset(robot: str, demos: list[Demo], root: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tasks: dict[str, int] = {}
    frames_by_cam: dict[str, list[np.ndarray]] = {}
    columns: dict[str, list] = {}
    episodes: list[dict[str, Any]] = []
    ep_stats: dict[str, list] = {}
    features: dict[str, Any] | None = None
    fps = None
    index = 0
    video_t: dict[str, float] = {}
    episode_index = -1
    for demo in demos:
        ep = demo.load()
        if ep.steps == 0:
            continue  # failed before its first step: nothing a policy could learn from
        episode_index += 1
        meta = ep.meta
        fps = fps or meta["fps"]
        every = max(1, round(meta["control_freq"] / meta["fps"]))
        rows = np.arange(0, ep.steps, every)  # observation i, action i
        n = len(rows)
        names = meta["joint_names"]
        n_arm = meta["n_arm"]
        frame = {
            "observation.state": ep.arrays["obs/qpos"][rows],
            "observation.velocity": ep.arrays["obs/qvel"][rows],
            "observation.ee_pose": ep.arrays["obs/tcp_pose"][rows],
            "action": ep.arrays["actions"][rows],
            "next.success": ep.arrays["success"][rows],
        }
        cams = list(meta["cameras"])
        images = {cam: ep.frames(cam)[:n] for cam in cams}
        if features is None:
            features = _features(names, n_arm, frame, images, fps)
        task_index = tasks.setdefault(demo.description, len(tasks))
        values = {
            **frame,
            "timestamp": (np.arange(n) / fps).astype(np.float32),
            "frame_index": np.arange(n, dtype=np.int64),
            "episode_index": np.full(n, episode_index, dtype=np.int64),
            "index": np.arange(index, index + n, dtype=np.int64),
            "task_index": np.full(n, task_index, dtype=np.int64),
        }
        for key, series in values.items():
            columns.setdefault(key, []).append(series)
        stats = {k: _stats(v) for k, v in values.items()}
        record: dict[str, Any] = {
            "episode_index": episode_index,
            "tasks": [demo.description],
            "length": n,
            "data/chunk_index": 0,
            "data/file_index": 0,
            "dataset_from_index": index,
            "dataset_to_index": index + n,
        }
        for cam, imgs in images.items():
            key = f"observation.images.{cam}"
            stats[key] = _stats(imgs, image=True)
            start = video_t.get(key, 0.0)
            record.update(
                {
                    f"videos/{key}/chunk_index": 0,
                    f"videos/{key}/file_index": 0,
                    f"videos/{key}/from_timestamp": start,
                    f"videos/{key}/to_timestamp": start + n / fps,
                }
            )
            video_t[key] = start + n / fps
            frames_by_cam.setdefault(key, []).append(imgs)
        record["meta/episodes/chunk_index"] = 0
        record["meta/episodes/file_index"] = 0
        for feat, s in stats.items():
            for name, value in s.items():
                record[f"stats/{feat}/{name}"] = np.asarray(value).tolist()
            ep_stats.setdefault(feat, []).append(s)
        record.update(
            {
                "blazer/episode_id": demo.episode_id,
                "blazer/seed": demo.seed,
                "blazer/task": demo.task,
                "blazer/success": demo.success,
                "blazer/weight": demo.weight,
            }
        )
        episodes.append(record)
        index += n
    assert features is not None and fps is not None
    # data: one file (lerobot starts a new one past DATA_FILE_MB; ours stay far below)
    table = pa.table({k: _arrow(np.concatenate(v), features[k]) for k, v in columns.items()})
    _parquet(pq, table, root / DATA_PATH.format(chunk_index=0, file_index=0))
    for key, clips in frames_by_cam.items():
        path = root / VIDEO_PATH.format(video_key=key, chunk_index=0, file_index=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_video(np.concatenate(clips), fps))
    _parquet(
        pq, pa.Table.from_pylist(episodes), root / EPISODES_PATH.format(chunk_index=0, file_index=0)
    )
    _write_tasks(tasks, root / "meta" / "tasks.parquet")
    total_frames = index
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": robot,
        "total_episodes": episode_index + 1,
        "total_frames": total_frames,
        "total_tasks": len(tasks),
        "chunks_size": CHUNKS_SIZE,
        "data_files_size_in_mb": DATA_FILE_MB,
        "video_files_size_in_mb": VIDEO_FILE_MB,
        "fps": int(round(fps)),
        "splits": {"train": f"0:{episode_index + 1}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if frames_by_cam else None,
        "features": features,
    }
    (root / "meta").mkdir(parents=True, exist_ok=True)
    (root / "meta" / "info.json").write_text(json.dumps(info, indent=4))
    stats = {feat: _aggregate(s) for feat, s in ep_stats.items()}
    (root / "meta" / "stats.json").write_text(json.dumps(_jsonable(stats), indent=4))


def _features(names, n_arm, frame, images, fps) -> dict[str, Any]:
    action_names = list(names[:n_arm]) + ["gripper"]
    features: dict[str, Any] = {
        "observation.state": {"dtype": "float32", "shape": [len(names)], "names": list(names)},
        "observation.velocity": {"dtype": "float32", "shape": [len(names)], "names": list(names)},
        "observation.ee_pose": {
            "dtype": "float32",
            "shape": [7],
            "names": ["x", "y", "z", "qw", "qx", "qy", "qz"],
        },
        "action": {"dtype": "float32", "shape": [frame["action"].shape[1]], "names": action_names},
        "next.success": {"dtype": "bool", "shape": [1], "names": None},
    }
    for cam, imgs in images.items():
        h, w = imgs.shape[1:3]
        features[f"observation.images.{cam}"] = {
            "dtype": "video",
            "shape": [h, w, 3],
            "names": ["height", "width", "channels"],
            "info": {
                "video.height": h,
                "video.width": w,
                "video.codec": "h264",
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "video.fps": int(round(fps)),
                "video.channels": 3,
                "has_audio": False,
            },
        }
    features.update(DEFAULT_FEATURES)
    return features


def _arrow(values: np.ndarray, feature: dict[str, Any]):
    """A shape-(1,) feature is a scalar column, a shape-(n,) one a fixed-size list (what
    lerobot's get_hf_features_from_features maps them to)."""
    import pyarrow as pa

    kind = {"float32": pa.float32(), "int64": pa.int64(), "bool": pa.bool_()}[feature["dtype"]]
    if feature["shape"] == [1]:
        return pa.array(values.reshape(-1), kind)
    flat = pa.array(values.reshape(-1), kind)
    return pa.FixedSizeListArray.from_arrays(flat, feature["shape"][0])


def _parquet(pq, table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _write_tasks(tasks: dict[str, int], path: Path) -> None:
    """A pandas frame indexed by the task text, as lerobot's write_tasks keeps it."""
    import pandas as pd

    pd.DataFrame({"task_index": list(tasks.values())}, index=list(tasks)).to_parquet(path)
