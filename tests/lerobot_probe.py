"""Load a LeRobot v3.0 dataset folder with lerobot 0.4.4's own code and print what it saw
as one JSON line: ``python -m tests.lerobot_probe LEROBOT_SRC ROOT``.

A separate process because torchvision has no CPU build here: lerobot imports it only for
image transforms and its video decoder (not called), so an empty module stands in for it,
and that stand-in must not reach the test process (transformers would take it as real).
"""

from __future__ import annotations

import importlib.machinery
import json
import sys
import types
from collections import Counter
from pathlib import Path


def main(src: str, root: str) -> None:
    for name in ("torchvision", "torchvision.transforms"):
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        sys.modules[name] = module
    sys.path.insert(0, src)
    from lerobot.datasets import lerobot_dataset, utils, video_utils

    info = json.loads((Path(root) / "meta" / "info.json").read_text())
    ds = lerobot_dataset.LeRobotDataset("blazer/probe", root=root)
    stats = utils.load_stats(Path(root))
    item = ds.hf_dataset[3]
    # every episode's files as lerobot's own metadata names them (chunk and file indices)
    files = [
        {
            "data": str(ds.meta.get_data_file_path(i)),
            **{key: str(ds.meta.get_video_file_path(i, key)) for key in ds.meta.video_keys},
        }
        for i in range(ds.num_episodes)
    ]
    videos = {}
    for key in ds.meta.video_keys:
        paths = sorted({f[key] for f in files})
        videos[key] = [
            {"path": str(Path(root) / p), "probe": video_utils.get_video_info(Path(root) / p)}
            for p in paths
        ]
    out = {
        "template_keys": sorted(utils.create_empty_dataset_info("v3.0", 20, {}, True, "x")),
        "data_path": utils.DEFAULT_DATA_PATH,
        "video_path": utils.DEFAULT_VIDEO_PATH,
        "default_features": {k: v["dtype"] for k, v in utils.DEFAULT_FEATURES.items()},
        "root": str(root),
        "info": info,
        "num_episodes": ds.num_episodes,
        "fps": ds.fps,
        "len": len(ds),
        "tasks": [[str(t), int(i)] for t, i in ds.meta.tasks["task_index"].items()],
        "item3": {"frame_index": int(item["frame_index"]), "timestamp": float(item["timestamp"])},
        "stat_shapes": {f: list(s["mean"].shape) for f, s in stats.items()},
        "episodes": [dict(e) for e in ds.meta.episodes],
        "videos": videos,
        "files": files,
        "rows_by_episode": sorted(Counter(int(e) for e in ds.hf_dataset["episode_index"]).items()),
    }
    print(json.dumps(out, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
