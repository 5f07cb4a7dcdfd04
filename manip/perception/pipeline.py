"""Views -> masks -> per-view boxes -> fused boxes -> the scene the prompt renders."""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np

from manip.perception.frames import CameraFrame, Expected, PerceptionError
from manip.perception.geometry import Box, backproject, box_from_points, fuse, table_height
from manip.perception.segmenters import Segmenter
from models.types import ObjectState, SceneState

SAME_OBJECT_M = 0.025  # two views' boxes this close in xy are one object
SPREAD_SCALE_CM = 2.0  # views that disagree by this much (centre spread) halve confidence


@dataclass
class PerceivedObject:
    name: str
    position: tuple[float, float, float]
    yaw_deg: float
    size: tuple[float, float, float]
    confidence: float  # views that saw it / views, times exp(-spread / SPREAD_SCALE_CM)
    views: list[str]

    def to_json(self) -> dict:
        return {
            "position": list(self.position),
            "yaw_deg": self.yaw_deg,
            "size": list(self.size),
            "confidence": self.confidence,
            "views": self.views,
        }


@dataclass
class Perception:
    table_z: float
    objects: dict[str, PerceivedObject]
    missing: list[str]  # expected, seen by no view
    timings: dict[str, float] = field(default_factory=dict)

    def scene(
        self, truth: SceneState, expected: list[Expected], given: tuple[ObjectState, ...] = ()
    ) -> SceneState:
        """``truth`` with its objects replaced by what was perceived (only the task, robot,
        seed, words, gripper and workspace come from the simulator); missing ones left out;
        ``given`` (goals the instruction states, marked ``given``) added after them."""
        kinds = {e.name: e.kind for e in expected}
        objects = tuple(
            ObjectState(
                o.name,
                _rounded(o.position),
                round(o.yaw_deg, 2),
                _rounded(o.size),
                kinds.get(o.name, "object"),
            )
            for o in self.objects.values()
        )
        return dataclasses.replace(
            truth, objects=objects + tuple(given), table_height=round(self.table_z, 4)
        )


def _interchangeable(expected: list[Expected]) -> list[list[Expected]]:
    """Expected objects grouped by what a camera can tell apart (colour, size, kind):
    ``block_red_1`` and ``block_red_2`` are one group, named in the order they are listed."""
    groups: dict[tuple, list[Expected]] = {}
    for e in expected:
        groups.setdefault((e.colour, e.size, e.kind), []).append(e)
    return list(groups.values())


def _instances(views: list[tuple[str, Box]], k: int) -> list[list[tuple[str, Box]]]:
    """Per-view boxes of look-alike objects clustered into at most ``k`` objects by where
    they are (a view's naming of look-alikes is arbitrary), the best-seen kept, ordered from
    the robot's left (+y) to its right: look-alikes take their names in the order the task
    lists them, and a task that names them by side (``basket_left``, ``basket_right``)
    lists them left first."""
    clusters: list[list[tuple[str, Box]]] = []
    for view, box in sorted(views, key=lambda vb: -vb[1].points):
        for c in clusters:
            if math.dist(c[0][1].xy, box.xy) <= SAME_OBJECT_M and view not in {v for v, _ in c}:
                c.append((view, box))
                break
        else:
            clusters.append([(view, box)])
    clusters.sort(key=lambda c: (-len(c), -sum(b.points for _, b in c)))
    return sorted(clusters[:k], key=lambda c: (-c[0][1].xy[1], c[0][1].xy[0]))


def perceive(
    frames: list[CameraFrame], expected: list[Expected], segmenter: Segmenter
) -> Perception:
    """Perceive the expected objects in calibrated RGB-D views (BLAZER §III-C)."""
    if not frames:
        raise PerceptionError("no camera frames to perceive from")
    if not expected:
        raise PerceptionError("no expected objects: perception needs the task's object list")
    t0 = time.perf_counter()
    for frame in frames:
        frame.check()
    table_z = float(np.median([table_height(backproject(f)) for f in frames]))
    seg_s = geo_s = 0.0
    boxes: dict[str, list[tuple[str, Box]]] = {e.name: [] for e in expected}
    for frame in frames:
        t = time.perf_counter()
        masks = segmenter.segment(frame, expected, table_z)
        seg_s += time.perf_counter() - t
        t = time.perf_counter()
        for e in expected:
            if e.name in masks:
                box = box_from_points(
                    backproject(frame, masks[e.name]), table_z, e.symmetry_deg, max(e.size[:2])
                )
                if box is not None:
                    boxes[e.name].append((frame.name, box))
        geo_s += time.perf_counter() - t
    t = time.perf_counter()
    objects, missing = {}, []
    for members in _interchangeable(expected):
        views = [seen for e in members for seen in boxes[e.name]]
        instances = (
            _instances(views, len(members)) if len(members) > 1 else [views] if views else []
        )
        for e, seen in zip(members, instances, strict=False):
            fused = fuse([b for _, b in seen], e.symmetry_deg)
            spread_cm = 100 * float(np.median([math.dist(b.centre, fused.centre) for _, b in seen]))
            views_seen = len({v for v, _ in seen})
            confidence = (
                views_seen / len(frames) * math.exp(-spread_cm / SPREAD_SCALE_CM * math.log(2))
            )
            objects[e.name] = PerceivedObject(
                e.name,
                fused.centre,
                fused.yaw_deg,
                fused.size,
                round(confidence, 3),
                sorted({v for v, _ in seen}),
            )
        missing += [e.name for e in members[len(instances) :]]
    geo_s += time.perf_counter() - t
    total = time.perf_counter() - t0
    timings = {"segment_s": seg_s, "geometry_s": geo_s, "other_s": total - seg_s - geo_s}
    return Perception(table_z, objects, missing, {k: round(v, 4) for k, v in timings.items()})


def _rounded(v: tuple[float, ...]) -> tuple[float, float, float]:
    return (round(v[0], 4), round(v[1], 4), round(v[2], 4))
