"""LeRobot v3.0 datasets, written with pyarrow and PyAV the way ``lerobot`` 0.4.4's
``LeRobotDataset`` writes them (its package cannot be installed beside this project):

    meta/info.json  meta/stats.json  meta/tasks.parquet
    meta/episodes/chunk-000/file-000.parquet
    data/chunk-000/file-000.parquet
    videos/observation.images.<camera>/chunk-000/file-000.mp4

One dataset per robot (LeRobot keeps one ``robot_type`` and fixed feature shapes per
dataset); its tasks are the task descriptions. Rows are taken every ``control_freq / fps``
control steps, at the frames the cameras rendered; several episodes share a data file and a
video file, each episode's video span being [from_timestamp, to_timestamp) of its file. A file
is closed and the next (chunk, file) index opened where lerobot would: when its size plus its
mean size per frame times the next episode's frames would reach DATA_FILE_MB (data, episode
records) or VIDEO_FILE_MB (each camera's video); a video file also ends before it would pass
VIDEO_FILE_FRAMES frames (lerobot reads any split: each episode record names its files).
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.exports import Demo

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # files per chunk folder (lerobot's DEFAULT_CHUNK_SIZE)
DATA_FILE_MB = 100  # lerobot's DEFAULT_DATA_FILE_SIZE_IN_MB
VIDEO_FILE_MB = 200  # lerobot's DEFAULT_VIDEO_FILE_SIZE_IN_MB
# frames per video file at most: an open mp4 keeps an index entry per frame (~70 B in
# libavformat) until it is closed, and 200 MB of small frames is ~1M of them (~70 MB of index
# per camera); this caps the index at ~1.4 MB per camera, whatever the export's size
VIDEO_FILE_FRAMES = 20_000
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE + ".parquet"
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
ROWS_PER_BATCH = 10_000  # data rows per parquet row group (~2 MB of a 7-joint arm's rows)
RECORDS_PER_BATCH = 200  # episode records (with their stats) per row group of meta/episodes
DEFAULT_FEATURES = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}


@dataclass(frozen=True)
class FileSizes:
    """Where a data, episode-record or video file ends (MB of 2**20 bytes, as lerobot's
    get_file_size_in_mb); lerobot's defaults unless told."""

    data_mb: float = DATA_FILE_MB
    video_mb: float = VIDEO_FILE_MB


def write_lerobot(demos: Iterable[Demo], out: Path, sizes: FileSizes = FileSizes()) -> list[Path]:
    """``demos`` in robot order: one dataset per robot, written as the episodes are read."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for robot, group in itertools.groupby(demos, key=lambda d: d.robot):
        root = out / robot
        tmp = out / f".{robot}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        _write_dataset(robot, group, tmp, sizes)
        shutil.rmtree(root, ignore_errors=True)
        tmp.replace(root)
        written.append(root)
    return written


class _Parquet:
    """A parquet file written in batches of rows (tables, or dicts whose schema the first
    batch fixes): what is held is one batch, whatever the file's size."""

    def __init__(self, path: Path, rows_per_batch: int, schema=None) -> None:
        self.path, self.rows_per_batch, self.schema = path, rows_per_batch, schema
        self.tables: list = []
        self.rows = 0
        self.writer: Any = None

    def add_table(self, table) -> None:
        self.schema = self.schema or table.schema
        self.tables.append(table)
        self.rows += table.num_rows
        if self.rows >= self.rows_per_batch:
            self.flush()

    def add_record(self, record: dict[str, Any]) -> None:
        import pyarrow as pa

        self.add_table(pa.Table.from_pylist([record], schema=self.schema))

    def size(self) -> int:
        """Bytes written plus the batch held (uncompressed: never under the file's size)."""
        held = sum(t.nbytes for t in self.tables)
        return held + (self.path.stat().st_size if self.writer is not None else 0)

    def flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.tables:
            return
        table = pa.concat_tables(self.tables).combine_chunks()
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table)
        self.tables, self.rows = [], 0

    def close(self) -> None:
        self.flush()
        if self.writer is not None:
            self.writer.close()


class _Video:
    """One camera's open mp4 file, written frames at a time."""

    def __init__(self, path: Path, fps: float, height: int, width: int) -> None:
        from models.artifacts import VideoEncoder

        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.encoder = VideoEncoder(str(path), fps, height, width)

    def add(self, frames: np.ndarray) -> None:
        self.encoder.add(frames)

    def size(self) -> int:
        return max(self.encoder.bytes, self.path.stat().st_size)

    def close(self) -> None:
        self.encoder.close()


class _Files:
    """One stream's (chunk, file) index and open file, moved on by lerobot's rule: a new
    file when the open one's size plus its mean size per frame times the next episode's
    frames would reach the limit (``update_chunk_file_indices``: a new chunk folder every
    CHUNKS_SIZE files). A schema fixed by the first file is kept by the next ones."""

    def __init__(
        self, limit_mb: float, open_at: Callable[[int, int], Any], max_frames: int | None = None
    ) -> None:
        self.limit = limit_mb * 1024 * 1024
        self.max_frames = max_frames
        self.open_at = open_at
        self.chunk = self.file = 0
        self.writer: Any = None
        self.frames = 0  # in the open file
        self.schema = None

    def place(self, n: int) -> tuple[Any, int]:
        """The file the next ``n`` frames go to, and how many frames it holds before them."""
        if self.writer is not None and self.frames:
            size = self.writer.size()
            full = self.max_frames is not None and self.frames + n > self.max_frames
            if full or size + size / self.frames * n >= self.limit:
                self.close()
                self.file += 1
                if self.file == CHUNKS_SIZE:
                    self.chunk, self.file = self.chunk + 1, 0
        if self.writer is None:
            self.writer, self.frames = self.open_at(self.chunk, self.file), 0
            if self.schema is not None:
                self.writer.schema = self.schema
        before, self.frames = self.frames, self.frames + n
        return self.writer, before

    def close(self) -> None:
        if self.writer is not None:
            self.schema = getattr(self.writer, "schema", None)
            self.writer.close()
            self.writer = None


class _RunningStats:
    """Dataset stats folded in an episode at a time: the same weighted means, pooled
    variance (as E[x^2] - mean^2 over the episodes' count-weighted moments), min, max and
    count-weighted quantiles as lerobot's aggregate_stats, without keeping every episode's."""

    def __init__(self) -> None:
        self.n = 0.0
        self.sums: dict[str, np.ndarray] = {}
        self.low: np.ndarray | None = None
        self.high: np.ndarray | None = None

    def add(self, stats: dict[str, np.ndarray]) -> None:
        c = float(stats["count"][0])
        moments = {"mean": stats["mean"], "sq": stats["std"] ** 2 + stats["mean"] ** 2}
        moments |= {f"q{int(q * 100):02d}": stats[f"q{int(q * 100):02d}"] for q in QUANTILES}
        for key, value in moments.items():
            self.sums[key] = self.sums.get(key, 0.0) + c * np.asarray(value, dtype=np.float64)
        self.n += c
        self.low = stats["min"] if self.low is None else np.minimum(self.low, stats["min"])
        self.high = stats["max"] if self.high is None else np.maximum(self.high, stats["max"])

    def result(self) -> dict[str, Any]:
        mean = self.sums["mean"] / self.n
        out = {
            "min": self.low,
            "max": self.high,
            "mean": mean,
            "std": np.sqrt(np.maximum(self.sums["sq"] / self.n - mean**2, 0.0)),
            "count": np.array([int(self.n)]),
        }
        for q in QUANTILES:
            key = f"q{int(q * 100):02d}"
            out[key] = self.sums[key] / self.n
        return out


def _write_dataset(robot: str, demos: Iterable[Demo], root: Path, sizes: FileSizes) -> None:
    """Streamed: each episode's rows go to the data file, its frames to the open video
    encoders, its stats into running totals and its record to the episodes file as it is
    read; memory is one episode's plus the writers' buffers, whatever the dataset's size."""
    import pyarrow as pa

    tasks: dict[str, int] = {}
    data = _Files(
        sizes.data_mb,
        lambda c, f: _Parquet(root / DATA_PATH.format(chunk_index=c, file_index=f), ROWS_PER_BATCH),
    )
    episodes = _Files(
        sizes.data_mb,
        lambda c, f: _Parquet(
            root / EPISODES_PATH.format(chunk_index=c, file_index=f), RECORDS_PER_BATCH
        ),
    )
    videos: dict[str, _Files] = {}
    totals: dict[str, _RunningStats] = {}
    features: dict[str, Any] | None = None
    fps = None
    index = 0
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
        data_file, _ = data.place(n)
        data_file.add_table(pa.table({k: _arrow(v, features[k]) for k, v in values.items()}))
        stats = {k: _stats(v) for k, v in values.items()}
        record: dict[str, Any] = {
            "episode_index": episode_index,
            "tasks": [demo.description],
            "length": n,
            "data/chunk_index": data.chunk,
            "data/file_index": data.file,
            "dataset_from_index": index,
            "dataset_to_index": index + n,
        }
        for cam, imgs in images.items():
            key = f"observation.images.{cam}"
            stats[key] = _stats(imgs, image=True)
            if key not in videos:
                videos[key] = _Files(
                    sizes.video_mb, _video_opener(root, key, fps, imgs.shape), VIDEO_FILE_FRAMES
                )
            video, before = videos[key].place(n)
            video.add(imgs)
            record.update(
                {
                    f"videos/{key}/chunk_index": videos[key].chunk,
                    f"videos/{key}/file_index": videos[key].file,
                    f"videos/{key}/from_timestamp": before / fps,
                    f"videos/{key}/to_timestamp": (before + n) / fps,
                }
            )
        records_file, _ = episodes.place(1)
        record["meta/episodes/chunk_index"] = episodes.chunk
        record["meta/episodes/file_index"] = episodes.file
        for feat, s in stats.items():
            for name, value in s.items():
                record[f"stats/{feat}/{name}"] = np.asarray(value).tolist()
            totals.setdefault(feat, _RunningStats()).add(s)
        record.update(
            {
                "blazer/episode_id": demo.episode_id,
                "blazer/seed": demo.seed,
                "blazer/task": demo.task,
                "blazer/success": demo.success,
                "blazer/weight": demo.weight,
            }
        )
        records_file.add_record(record)
        index += n
    assert features is not None and fps is not None
    for files in (data, episodes, *videos.values()):
        files.close()
    _write_tasks(tasks, root / "meta" / "tasks.parquet")
    total_frames = index
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": robot,
        "total_episodes": episode_index + 1,
        "total_frames": total_frames,
        "total_tasks": len(tasks),
        "chunks_size": CHUNKS_SIZE,
        "data_files_size_in_mb": sizes.data_mb,
        "video_files_size_in_mb": sizes.video_mb,
        "fps": int(round(fps)),
        "splits": {"train": f"0:{episode_index + 1}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if videos else None,
        "features": features,
    }
    (root / "meta").mkdir(parents=True, exist_ok=True)
    (root / "meta" / "info.json").write_text(json.dumps(info, indent=4))
    stats = {feat: total.result() for feat, total in totals.items()}
    (root / "meta" / "stats.json").write_text(json.dumps(_jsonable(stats), indent=4))


def _video_opener(root: Path, key: str, fps: float, shape: tuple[int, ...]):
    def open_at(chunk: int, file: int) -> _Video:
        path = root / VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file)
        return _Video(path, fps, shape[1], shape[2])

    return open_at


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


def _jsonable(stats: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    return {f: {k: np.asarray(v).tolist() for k, v in s.items()} for f, s in stats.items()}


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


def _write_tasks(tasks: dict[str, int], path: Path) -> None:
    """A pandas frame indexed by the task text, as lerobot's write_tasks keeps it."""
    import pandas as pd

    pd.DataFrame({"task_index": list(tasks.values())}, index=list(tasks)).to_parquet(path)
