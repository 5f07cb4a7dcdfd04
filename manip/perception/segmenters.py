"""Object masks from one view, behind one small interface: ``segment(frame, expected,
table_z) -> {name: mask}`` (an object a view does not see is simply absent).

- ``blocks``: no weights. Pixels above the table plane (and flat goals' pixels on it) are
  labelled with the nearest expected colour, split into connected regions, and each
  expected object takes the region of its colour whose size matches it best. Made for
  block-world scenes (saturated, distinct colours); the one tested end to end here.
- ``sam``: Segment Anything, prompted with a point at each object's 2-D centre (the
  ``blocks`` region's centroid); weights from ``BLAZER_SAM_CHECKPOINT``. Written against
  ``segment_anything.SamPredictor``; untested here (no weights on this machine).
- ``oracle``: the simulator's own segmentation ids. It measures the geometry alone and is
  named as the oracle wherever it appears; never the default for a claim.
"""

from __future__ import annotations

import colorsys
from typing import Protocol

import numpy as np
from scipy import ndimage

from manip.perception.frames import CameraFrame, Expected, PerceptionError
from manip.perception.geometry import FLAT_M, backproject

MIN_PIXELS = 12
NEUTRAL_SAT = 0.25  # below this saturation a colour is judged by brightness, not hue


class Segmenter(Protocol):
    name: str

    def segment(
        self, frame: CameraFrame, expected: list[Expected], table_z: float
    ) -> dict[str, np.ndarray]: ...


class OracleSegmenter:
    """The simulator's per-object segmentation (ground truth masks)."""

    name = "oracle"

    def segment(self, frame, expected, table_z):
        if frame.segmentation is None:
            raise PerceptionError(
                f"camera {frame.name}: the oracle needs the simulator's segmentation"
            )
        out = {}
        for obj in expected:
            if obj.name in frame.ids:
                mask = frame.segmentation == frame.ids[obj.name]
                if mask.sum() >= MIN_PIXELS:
                    out[obj.name] = mask
        return out


def _hsv(rgb: np.ndarray) -> np.ndarray:
    flat = rgb.reshape(-1, 3).astype(np.float32) / 255.0
    mx, mn = flat.max(axis=1), flat.min(axis=1)
    v, d = mx, mx - mn
    s = np.where(mx > 0, d / np.maximum(mx, 1e-6), 0)
    r, g, b = flat.T
    h = np.zeros_like(mx)
    nz = d > 1e-6
    rm, gm = nz & (mx == r), nz & (mx == g) & (mx != r)
    bm = nz & ~rm & ~gm
    h[rm] = ((g - b)[rm] / d[rm]) % 6
    h[gm] = (b - r)[gm] / d[gm] + 2
    h[bm] = (r - g)[bm] / d[bm] + 4
    return np.stack([h / 6.0, s, v], axis=1).reshape(*rgb.shape[:2], 3)


def colour_distance(hsv: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """Per-pixel distance to an expected colour: hue for saturated colours (lighting
    changes brightness more than hue), saturation and brightness for neutral ones."""
    h, s, v = colorsys.rgb_to_hsv(*(c / 255.0 for c in colour))
    if s < NEUTRAL_SAT:
        return np.abs(hsv[..., 1] - s) + 0.5 * np.abs(hsv[..., 2] - v) + (hsv[..., 1] > NEUTRAL_SAT)
    dh = np.abs(hsv[..., 0] - h)
    dh = np.minimum(dh, 1 - dh)
    return dh * 4 + (hsv[..., 1] < NEUTRAL_SAT) * 1.0 + np.abs(hsv[..., 1] - s) * 0.3


def _grow(
    mask: np.ndarray, above: np.ndarray, world: np.ndarray, obj: Expected, passes: int = 3
) -> np.ndarray:
    """The colour region plus the pixels above the table joined to it within the object's
    footprint and below its top: faces in shadow, whose colour the lighting changed, and the
    other half of a two-coloured object (LiftPegUpright's peg: each pass re-centres the
    footprint on what is grown so far). ``above`` excludes pixels that clearly have another
    expected object's colour, such as the floor of the box a block stands in."""
    top = np.nanpercentile(world[mask][:, 2], 99)
    radius = 0.5 * float(np.hypot(*obj.size[:2])) + 0.005
    for _ in range(passes):
        centre = np.nanmean(world[mask][:, :2], axis=0)
        with np.errstate(invalid="ignore"):
            near = (
                above
                & (np.linalg.norm(world[..., :2] - centre, axis=-1) <= radius)
                & (world[..., 2] <= top + 0.005)
            )
        labels, _ = ndimage.label(near | mask, structure=np.ones((3, 3)))
        keep = np.unique(labels[mask])
        grown = np.isin(labels, keep[keep > 0])
        if grown.sum() == mask.sum():
            break
        mask = grown
    return mask


class BlockSegmenter:
    """Table removal + colour labelling + connected regions, matched by colour and size."""

    name = "blocks"

    def __init__(self, max_colour_distance: float = 0.5) -> None:
        self.max_distance = max_colour_distance

    def segment(self, frame, expected, table_z):
        h, w = frame.depth.shape
        world = np.full((h, w, 3), np.nan)
        valid = np.isfinite(frame.depth) & (frame.depth > 0)
        world[valid] = backproject(frame)
        z = world[..., 2]
        above = valid & (z > table_z + FLAT_M)
        on_table = valid & ~above
        hsv = _hsv(frame.rgb)
        colours = sorted({o.colour for o in expected if o.colour is not None})
        if not colours:
            return {}
        dist = np.stack([colour_distance(hsv, c) for c in colours])
        nearest = dist.argmin(axis=0)
        close = dist.min(axis=0) <= self.max_distance
        # a flat goal lies on the table, whose wood can be nearer its colour than any other
        # expected colour (ManiSkill's red target): a pixel nearer the table's own colour (the
        # median of the pixels on it) than the goal's is table
        table_rgb = tuple(int(c) for c in np.median(frame.rgb[on_table], axis=0))
        table_dist = colour_distance(hsv, table_rgb) if on_table.any() else None
        out: dict[str, np.ndarray] = {}
        taken: set[tuple[int, int]] = set()
        # big objects first: a container's colour region must not be claimed by a block
        for obj in sorted(expected, key=lambda o: -np.prod(o.size[:2])):
            if obj.colour is None:
                continue
            flat = obj.size[2] < 2 * FLAT_M
            region = close & (nearest == colours.index(obj.colour)) & (on_table if flat else above)
            if flat and table_dist is not None:
                region &= dist[colours.index(obj.colour)] < table_dist
            labels, n = ndimage.label(region, structure=np.ones((3, 3)))
            best, best_score = None, None
            for i in range(1, n + 1):
                if (colours.index(obj.colour), i) in taken:
                    continue
                mask = labels == i
                if mask.sum() < MIN_PIXELS:
                    continue
                pts = world[mask]
                extent = np.percentile(pts[:, :2], 95, axis=0) - np.percentile(
                    pts[:, :2], 5, axis=0
                )
                score = abs(float(np.max(extent)) - max(obj.size[:2]))
                height = float(np.nanmax(pts[:, 2])) - table_z
                if score > 0.5 * max(obj.size[:2]) + 0.02 or height > obj.size[2] + 0.05:
                    continue  # another thing of that colour (the arm, a neighbour merged in)
                if best_score is None or score < best_score:
                    best, best_score = i, score
            if best is not None:
                taken.add((colours.index(obj.colour), best))
                other = close & (nearest != colours.index(obj.colour))  # another object's colour
                out[obj.name] = _grow(labels == best, above & ~other, world, obj)
        return out


class SamSegmenter:
    """Segment Anything with a point prompt per object (its ``blocks`` region's centroid).

    Untested here: ``segment-anything`` and its weights are not on this machine. Needs
    ``pip install segment-anything`` and ``BLAZER_SAM_CHECKPOINT`` (a ``vit_b``/``vit_l``/
    ``vit_h`` checkpoint file; the model type is read from its name)."""

    name = "sam"

    def __init__(self, checkpoint: str) -> None:
        try:
            from segment_anything import SamPredictor, sam_model_registry
        except ImportError:
            raise PerceptionError("--segmenter sam needs `pip install segment-anything`") from None
        kind = next((k for k in ("vit_h", "vit_l", "vit_b") if k in checkpoint), "vit_b")
        self.predictor = SamPredictor(sam_model_registry[kind](checkpoint=checkpoint))
        self.prompts = BlockSegmenter()

    def segment(self, frame, expected, table_z):
        coarse = self.prompts.segment(frame, expected, table_z)
        if not coarse:
            return {}
        self.predictor.set_image(frame.rgb)
        out = {}
        for name, mask in coarse.items():
            v, u = np.nonzero(mask)
            point = np.array([[u.mean(), v.mean()]])
            masks, _, _ = self.predictor.predict(
                point_coords=point, point_labels=np.array([1]), multimask_output=False
            )
            out[name] = masks[0].astype(bool)
        return out


SEGMENTERS = ("blocks", "oracle", "sam")


def make_segmenter(name: str) -> Segmenter:
    if name == "blocks":
        return BlockSegmenter()
    if name == "oracle":
        return OracleSegmenter()
    if name == "sam":
        from models.settings import get_settings

        checkpoint = get_settings().sam_checkpoint
        if not checkpoint:
            raise PerceptionError(
                "--segmenter sam needs BLAZER_SAM_CHECKPOINT (a local weights file)"
            )
        return SamSegmenter(str(checkpoint))
    raise PerceptionError(f"unknown segmenter {name!r}; known: {', '.join(SEGMENTERS)}")
