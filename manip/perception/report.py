"""True vs perceived, per object: centre error (cm), yaw error (deg, modulo the object's
symmetry), size error (cm, the largest of the three), and the confidence.

Objects that differ only by a trailing number (``block_red_1``, ``block_red_2``: same
colour, same size) are interchangeable to a camera; they are paired with the truth by the
assignment that minimises the total centre error before the errors are taken.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

import numpy as np
from scipy.optimize import linear_sum_assignment

from models.types import ObjectState, SceneState


def _group(name: str) -> str:
    return re.sub(r"_\d+$", "", name)


def _pose(o: ObjectState) -> dict:
    return {"position": list(o.position), "yaw_deg": o.yaw_deg, "size": list(o.size)}


def yaw_error(a: float, b: float, symmetry_deg: float) -> float:
    """Degrees between two yaws of an object that maps onto itself every ``symmetry_deg``;
    360 (the scene's default) marks a round object, whose yaw the prompt does not use."""
    if symmetry_deg >= 360:
        return 0.0
    return abs((a - b + symmetry_deg / 2) % symmetry_deg - symmetry_deg / 2)


def pair(truth: SceneState, perceived: SceneState) -> dict[str, ObjectState | None]:
    """Each true object's perceived counterpart (interchangeable ones matched by position)."""
    seen = {o.name: o for o in perceived.objects}
    groups: dict[str, list[str]] = defaultdict(list)
    for o in truth.objects:
        groups[_group(o.name)].append(o.name)
    out: dict[str, ObjectState | None] = {}
    for names in groups.values():
        got = [seen[n] for n in names if n in seen]
        if len(names) == 1 or not got:
            out.update({n: seen.get(n) for n in names})
            continue
        true = [truth.object(n) for n in names]
        cost = np.array([[math.dist(t.position, g.position) for g in got] for t in true])
        rows, cols = linear_sum_assignment(cost)
        out.update({n: None for n in names})
        out.update({true[r].name: got[c] for r, c in zip(rows, cols, strict=True)})
    return out


def compare(truth: SceneState, perceived: SceneState, report: dict) -> list[dict]:
    """The issue's per-object rows: name, true, perceived, error, confidence."""
    rows = []
    symmetry = report.get("symmetry", {})
    given = report.get("given", {})
    for o in truth.objects:
        p = pair(truth, perceived)[o.name]
        row = {
            "name": o.name,
            "true": _pose(o),
            "perceived": None,
            "error": None,
            "confidence": 0.0,
            "given": o.name in given,  # stated by the instruction: neither seen nor an error
        }
        if p is not None and not row["given"]:
            row["perceived"] = _pose(p)
            row["confidence"] = report["objects"].get(p.name, {}).get("confidence", 0.0)
            row["error"] = {
                "centre_cm": round(100 * math.dist(o.position, p.position), 2),
                "yaw_deg": round(yaw_error(o.yaw_deg, p.yaw_deg, symmetry.get(o.name, 360.0)), 2),
                "size_cm": round(
                    100 * max(abs(a - b) for a, b in zip(o.size, p.size, strict=True)), 2
                ),
            }
        rows.append(row)
    return rows
