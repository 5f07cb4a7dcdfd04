"""The Franka's eyes: calibrated Intel RealSense cameras (the paper's three D435i) through
``pyrealsense2``, read into ``manip.perception`` to give the scene state.

UNTESTED: no camera here. Written against pyrealsense2's documented API (``pipeline``,
``config.enable_device``/``enable_stream``, ``align``, the colour stream's intrinsics).
The calibration file is JSON: ``{"cameras": [{"serial": "...", "name": "front",
"cam_to_world": [[4x4]]}]}`` (the OpenCV camera frame in the robot's base frame, from a
hand-eye calibration); the objects file lists what the task expects:
``{"objects": [{"name": "block_red", "colour": [220, 30, 30], "size": [0.04, 0.04, 0.04],
"symmetry_deg": 90, "kind": "object"}]}``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from manip.perception.frames import CameraFrame, Expected, PerceptionError
from manip.perception.pipeline import perceive
from manip.perception.segmenters import make_segmenter
from models.errors import ConfigError
from models.types import SceneState


def _load(path: Path, what: str) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{what} file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} file {path}: expected a JSON object")
    return data


def load_calibration(path: Path) -> list[dict]:
    cams = _load(path, "calibration").get("cameras")
    if not isinstance(cams, list) or not cams:
        raise ConfigError(f"calibration file {path}: 'cameras' must list at least one camera")
    for i, cam in enumerate(cams):
        pose = (
            np.asarray(cam.get("cam_to_world", []), dtype=float) if isinstance(cam, dict) else None
        )
        if (
            pose is None
            or pose.shape != (4, 4)
            or not np.all(np.isfinite(pose))
            or not cam.get("serial")
        ):
            raise ConfigError(
                f"calibration file {path}: camera {i} needs a 'serial' and a 4x4 'cam_to_world'"
            )
    return cams


def load_objects(path: Path) -> list[Expected]:
    rows = _load(path, "objects").get("objects")
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"objects file {path}: 'objects' must list at least one object")
    try:
        return [
            Expected(
                r["name"],
                tuple(r["colour"]) if r.get("colour") else None,
                tuple(r["size"]),
                float(r.get("symmetry_deg", 360)),
                r.get("kind", "object"),
            )
            for r in rows
        ]
    except (KeyError, TypeError) as exc:
        raise ConfigError(
            f"objects file {path}: each object needs name, size (and colour): {exc}"
        ) from None


class RealSensePerception:
    """``scene()`` for ``FrankaRobot``: one aligned RGB-D frame per camera -> perception."""

    def __init__(
        self, calibration: Path, objects: Path, template: Path, segmenter: str = "blocks"
    ) -> None:
        self.cameras = load_calibration(calibration)
        self.expected = load_objects(objects)
        self.template = SceneState.from_json(
            _load(template, "scene template")
        )  # task, words, workspace
        self.segmenter = make_segmenter(segmenter)
        self.confidence: dict[str, float] = {}

    def _frame(self, cam: dict) -> CameraFrame:
        try:
            import pyrealsense2 as rs
        except ImportError:
            raise ConfigError("RealSense perception needs `pip install pyrealsense2`") from None
        pipe, config = rs.pipeline(), rs.config()
        config.enable_device(str(cam["serial"]))
        config.enable_stream(rs.stream.depth, 640, 480, rs.format.z16, 30)
        config.enable_stream(rs.stream.color, 640, 480, rs.format.rgb8, 30)
        profile = pipe.start(config)
        try:
            scale = profile.get_device().first_depth_sensor().get_depth_scale()
            frames = rs.align(rs.stream.color).process(pipe.wait_for_frames(5000))
            depth, colour = frames.get_depth_frame(), frames.get_color_frame()
            if not depth or not colour:
                raise PerceptionError(
                    f"camera {cam.get('name', cam['serial'])}: no depth or colour frame"
                )
            intr = colour.profile.as_video_stream_profile().intrinsics
            k = np.array([[intr.fx, 0, intr.ppx], [0, intr.fy, intr.ppy], [0, 0, 1]])
            return CameraFrame(
                cam.get("name", str(cam["serial"])),
                np.asanyarray(colour.get_data()).copy(),
                np.asanyarray(depth.get_data()).astype(np.float32) * scale,
                k,
                np.asarray(cam["cam_to_world"], dtype=float),
            )
        finally:
            pipe.stop()

    def scene(self) -> SceneState:
        result = perceive([self._frame(c) for c in self.cameras], self.expected, self.segmenter)
        self.confidence = {n: o.confidence for n, o in result.objects.items()} | {
            n: 0.0 for n in result.missing
        }
        return dataclasses.replace(result.scene(self.template, self.expected))
