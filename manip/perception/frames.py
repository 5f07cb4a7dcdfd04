"""One calibrated RGB-D view, and what perception needs to know about the expected objects."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class PerceptionError(ValueError):
    """A camera or calibration that cannot be used (one clear line, never a silent zero)."""


@dataclass
class CameraFrame:
    """``depth`` in metres (0 or NaN: no reading); ``intrinsic`` the 3x3 OpenCV matrix;
    ``cam_to_world`` the 4x4 pose of the OpenCV camera frame (x right, y down, z forward)."""

    name: str
    rgb: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) float32, metres
    intrinsic: np.ndarray  # (3, 3)
    cam_to_world: np.ndarray  # (4, 4)
    segmentation: np.ndarray | None = None  # (H, W) int ids: the simulator's, for the oracle
    ids: dict[str, int] = field(default_factory=dict)  # object name -> segmentation id

    def check(self) -> CameraFrame:
        h, w = self.depth.shape[:2] if self.depth is not None and self.depth.ndim >= 2 else (0, 0)
        if h == 0 or w == 0:
            raise PerceptionError(f"camera {self.name}: no depth image")
        if self.rgb is None or self.rgb.shape[:2] != (h, w):
            raise PerceptionError(f"camera {self.name}: colour image missing or not {w}x{h}")
        if np.asarray(self.intrinsic).shape != (3, 3) or np.asarray(self.cam_to_world).shape != (
            4,
            4,
        ):
            raise PerceptionError(
                f"camera {self.name}: calibration must be a 3x3 intrinsic and a 4x4 pose"
            )
        if not np.all(np.isfinite(self.intrinsic)) or not np.all(np.isfinite(self.cam_to_world)):
            raise PerceptionError(f"camera {self.name}: calibration has non-finite values")
        valid = np.isfinite(self.depth) & (self.depth > 0)
        if not valid.any():
            raise PerceptionError(f"camera {self.name}: no depth reading in the whole image")
        return self


@dataclass(frozen=True)
class Expected:
    """An object the task expects: its name, the colour it should have (RGB 0-255, None if
    unknown) and its nominal size (m) and symmetry, to match clusters and to fold yaw."""

    name: str
    colour: tuple[int, int, int] | None
    size: tuple[float, float, float]
    symmetry_deg: float = 360.0
    kind: str = "object"
