"""Robot assets ManiSkill cannot download here (xArm-6, WidowX AI): copied from the shared
folder into a writable cache, with the convex hulls mplib needs beside each mesh."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from manip.sim.base import SimConfig


def setup_assets(config: SimConfig | None = None) -> None:
    """Point ManiSkill at robot assets it cannot download here (xarm6, widowxai).

    They are copied to a writable cache first: ManiSkill writes convex-hull files beside the
    meshes on first load, and the shared folder is read-only. ``config``: the simulator
    process's (from its worker); elsewhere this process's settings.
    """
    if os.environ.get("MS_ASSET_DIR"):
        return
    config = config or SimConfig.from_settings()
    cache = Path(config.asset_cache)
    for candidate in (
        Path(config.maniskill_assets or ""),
        Path(__file__).resolve().parents[3] / "shared" / "maniskill-assets",
    ):
        if str(candidate) != "." and (candidate / "data" / "robots").is_dir():
            if not (cache / "data" / "robots").is_dir():
                shutil.copytree(candidate / "data", cache / "data", dirs_exist_ok=True)
            write_convex_hulls((cache / "data" / "robots").glob("*/meshes/*.stl"))
            os.environ["MS_ASSET_DIR"] = str(cache)
            return


def write_convex_hulls(meshes) -> None:
    """mplib wants ``<mesh>.convex.stl`` beside every collision mesh; the WidowX AI release
    and mani-skill's xArm-7 ship none. Write each missing one (trimesh's convex hull) once,
    atomically. The points are rounded to 10 µm first: near-duplicate points make hull
    facets that STL's float32 turns into a mesh SAPIEN refuses as not watertight."""
    import numpy as np
    import trimesh

    for mesh in meshes:
        hull = mesh.with_name(mesh.name + ".convex.stl")
        if mesh.name.endswith(".convex.stl") or hull.exists():
            continue
        points = np.unique(np.round(trimesh.load(mesh, force="mesh").vertices, 5), axis=0)
        tmp = hull.with_name(f"{hull.name}.{os.getpid()}.tmp.stl")
        trimesh.convex.convex_hull(points).export(tmp)
        tmp.replace(hull)
