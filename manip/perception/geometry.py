"""Depth to world points, the table plane, an object's box, and fusing views.

A box is what the prompt renders: the centre, the yaw about z (folded into the object's
symmetry), and length/width/height, the height measured from the table (or from the
object's own lowest points when it stands on something else).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from manip.perception.frames import CameraFrame

ON_TABLE_M = 0.01  # lowest points this close to the table: the object stands on it
FLAT_M = 0.004  # points within this of the table are table, unless the object is flat


@dataclass(frozen=True)
class Box:
    xy: tuple[float, float]
    yaw_deg: float
    extent: tuple[float, float]  # along the yaw, across it
    top: float
    bottom: float  # the table, or the object's own lowest points when it stands higher
    points: int  # how many points it came from

    @property
    def centre(self) -> tuple[float, float, float]:
        return (self.xy[0], self.xy[1], (self.top + self.bottom) / 2)

    @property
    def size(self) -> tuple[float, float, float]:
        return (self.extent[0], self.extent[1], max(0.0, self.top - self.bottom))


def backproject(frame: CameraFrame, mask: np.ndarray | None = None) -> np.ndarray:
    """World-frame points (N, 3) of the masked pixels that have a depth reading."""
    depth = frame.depth
    valid = np.isfinite(depth) & (depth > 0)
    if mask is not None:
        valid &= mask
    v, u = np.nonzero(valid)
    z = depth[v, u].astype(np.float64)
    k = frame.intrinsic
    x = (u + 0.5 - k[0, 2]) * z / k[0, 0]
    y = (v + 0.5 - k[1, 2]) * z / k[1, 1]
    cam = np.stack([x, y, z, np.ones_like(z)], axis=1)
    return (cam @ frame.cam_to_world.T)[:, :3]


def drop_outliers(points: np.ndarray, k: float = 3.0, slack: float = 0.01) -> np.ndarray:
    """Points within ``k`` robust deviations (MAD) plus ``slack`` metres of the median in x,
    y and above it in z: stray depth at silhouette edges and mask bleed do not stretch the
    box. Below the median nothing is dropped: a view that sees mostly the top face sees the
    sides as few points reaching down to where the object stands. ``slack`` is the object's
    longest side where it is known: when one face fills most of a view, the median sits on
    that face and the rest of the object is up to a side away."""
    if len(points) < 8:
        return points
    med = np.median(points, axis=0)
    mad = np.median(np.abs(points - med), axis=0) * 1.4826 + 1e-4
    off = points - med
    off[:, 2] = np.maximum(off[:, 2], 0.0)
    return points[np.all(np.abs(off) <= k * mad + slack, axis=1)]


def table_height(
    points: np.ndarray, iterations: int = 200, tol: float = 0.003, seed: int = 0
) -> float:
    """The height of the dominant horizontal plane (RANSAC on z with a horizontal normal:
    the table is level), refined by the median of its inliers."""
    if len(points) == 0:
        raise ValueError("no points to fit the table to")
    rng = np.random.default_rng(seed)
    z = points[:, 2]
    picks = z[rng.integers(0, len(z), size=min(iterations, len(z)))]
    best = max(picks, key=lambda h: np.count_nonzero(np.abs(z - h) <= tol))
    return float(np.median(z[np.abs(z - best) <= tol]))


def min_area_rect(xy: np.ndarray) -> tuple[tuple[float, float], float, tuple[float, float]]:
    """(centre, angle in degrees, (extent along the angle, extent across it)) of the
    smallest rectangle around 2-D points (rotating calipers over the hull's edges)."""
    try:
        hull = xy[ConvexHull(xy).vertices]
    except (QhullError, ValueError):  # collinear or too few points: a degenerate box
        hull = xy
    best = None
    edges = np.diff(np.vstack([hull, hull[:1]]), axis=0)
    for angle in np.unique(np.round(np.arctan2(edges[:, 1], edges[:, 0]) % (np.pi / 2), 6)):
        c, s = math.cos(angle), math.sin(angle)
        local = hull @ np.array([[c, -s], [s, c]])
        lo, hi = local.min(axis=0), local.max(axis=0)
        area = float(np.prod(hi - lo))
        if best is None or area < best[0]:
            mid = (lo + hi) / 2
            centre = (mid[0] * c - mid[1] * s, mid[0] * s + mid[1] * c)
            best = (area, centre, math.degrees(angle), tuple(hi - lo))
    _, centre, angle, extent = best
    return (float(centre[0]), float(centre[1])), angle, (float(extent[0]), float(extent[1]))


def _robust_extent(xy: np.ndarray, angle_deg: float, tail: float = 1.0):
    """Centre and extents along ``angle`` and across it from the 1st-99th percentiles: the
    hull's extremes grow with depth noise, the percentiles do not."""
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    local = xy @ np.array([[c, -s], [s, c]])
    lo, hi = np.percentile(local, tail, axis=0), np.percentile(local, 100 - tail, axis=0)
    mid = (lo + hi) / 2
    return (float(mid[0] * c - mid[1] * s), float(mid[0] * s + mid[1] * c)), (
        float(hi[0] - lo[0]),
        float(hi[1] - lo[1]),
    )


def fold_yaw(yaw_deg: float, symmetry_deg: float) -> float:
    """Into [-sym/2, sym/2): the one canonical yaw of a symmetric object (as the simulator's
    scene reports it); a round object (360 or more) has yaw 0 from its shape alone."""
    if symmetry_deg >= 360:
        return 0.0
    return (yaw_deg + symmetry_deg / 2) % symmetry_deg - symmetry_deg / 2


def box_from_points(
    points: np.ndarray, table_z: float, symmetry_deg: float = 360.0, longest_m: float = 0.01
) -> Box | None:
    """An object's box from its world points (``longest_m``: its longest side, as expected),
    or None when too few are left."""
    points = drop_outliers(points, slack=max(0.01, longest_m))
    above = points[points[:, 2] > table_z + FLAT_M]
    if len(above) >= max(10, len(points) // 10):
        points = above  # the table around a standing object's foot is not the object
    if len(points) < 5:
        return None
    _, angle, _ = min_area_rect(points[:, :2])
    (cx, cy), (ext_a, ext_b) = _robust_extent(points[:, :2], angle)
    if ext_b > ext_a:  # report the longer side first, along the yaw
        angle, ext_a, ext_b = angle + 90.0, ext_b, ext_a
    top = float(np.percentile(points[:, 2], 99))
    low = float(np.percentile(points[:, 2], 1))
    bottom = table_z if low - table_z <= ON_TABLE_M else low
    return Box((cx, cy), fold_yaw(angle, symmetry_deg), (ext_a, ext_b), top, bottom, len(points))


def circular_median(angles_deg: list[float], period: float) -> float:
    """The angle closest to all others on a circle of ``period`` degrees (yaw fusion)."""
    if period >= 360 and all(a == 0 for a in angles_deg):
        return 0.0

    def spread(a: float) -> float:
        return sum(abs((b - a + period / 2) % period - period / 2) for b in angles_deg)

    return min(angles_deg, key=spread)


def fuse(boxes: list[Box], symmetry_deg: float) -> Box:
    """Several views' boxes of one object -> one, by the median (BLAZER's fusion), except
    the bottom: the lowest any view saw (a view that sees only the top face cannot tell
    where the object stands; one that sees its side can)."""
    if len(boxes) == 1:
        return boxes[0]
    xy = tuple(float(v) for v in np.median([b.xy for b in boxes], axis=0))
    extent = tuple(float(v) for v in np.median([b.extent for b in boxes], axis=0))
    yaw = circular_median([b.yaw_deg for b in boxes], min(symmetry_deg, 360.0))
    top = float(np.median([b.top for b in boxes]))
    return Box(xy, yaw, extent, top, min(b.bottom for b in boxes), sum(b.points for b in boxes))  # type: ignore[arg-type]
