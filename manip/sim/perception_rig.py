"""Three calibrated RGB-D cameras around the table (front, left, right: the paper's three
RealSense D435i), added to a ManiSkill env once, and what perception needs from the env.

What the cameras look for: blazer's own envs (``manip.sim.envs``) list their objects with
actors (``env.listing``); a ManiSkill task's module names its visible actors (``CAMERA``) and
the goals its instruction gives (``GIVEN``: PickCube's goal point is a place in the air, which
ManiSkill draws as a sphere it hides from sensor cameras, as a real camera would not see it).
Actors ManiSkill hides from its sensors are hidden from these cameras too.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import numpy as np

from manip.perception.frames import CameraFrame, Expected, PerceptionError
from models.types import ObjectState

if TYPE_CHECKING:
    from manip.sim.tasks import Task

# eye, target (world frame, metres); the table's centre is the origin, the robot at x=-0.615
VIEWS = {
    "front": ([0.45, 0.0, 0.5], [-0.05, 0.0, 0.0]),
    "left": ([0.05, 0.55, 0.5], [-0.05, 0.0, 0.0]),
    "right": ([0.05, -0.55, 0.5], [-0.05, 0.0, 0.0]),
}
FOV_RAD = np.deg2rad(58)  # the D435i's vertical field of view (its colour sensor: 42-58 deg)


def _numpy(value) -> np.ndarray:
    return value.cpu().numpy() if hasattr(value, "cpu") else np.asarray(value)


def _cameras(env, size: int) -> dict:
    """The env's perception cameras, made on first use (a scene keeps its cameras)."""
    u = env.unwrapped
    rig = getattr(u, "_blazer_rig", None)
    if rig is None or rig[0] != size:
        from mani_skill.sensors.camera import Camera, CameraConfig
        from mani_skill.utils import sapien_utils

        cams = {}
        for name, (eye, target) in VIEWS.items():
            pose = sapien_utils.look_at(eye=eye, target=target)
            config = CameraConfig(f"perceive_{name}_{size}", pose, size, size, FOV_RAD, 0.01, 5.0)
            cams[name] = Camera(config, u.scene)
        rig = (size, cams)
        u._blazer_rig = rig
    return rig[1]


def _colour(actor) -> tuple[int, int, int] | None:
    """The actor's first visual's base colour (0-255), as built."""
    import sapien

    try:
        body = actor._objs[0].find_component_by_type(sapien.render.RenderBodyComponent)
        rgba = body.render_shapes[0].material.base_color
    except (AttributeError, IndexError):
        return None
    return tuple(int(round(255 * c)) for c in rgba[:3])  # type: ignore[return-value]


def expected_objects(env, task: Task) -> tuple[list[Expected], dict[str, int]]:
    """The objects this episode shows (name, colour, size, symmetry, kind) and their
    segmentation ids."""
    u = env.unwrapped
    if not task.perceivable:
        raise PerceptionError(
            f"{task.id} cannot be perceived: its task module names no objects for the cameras"
        )
    if task.env:
        seen = [(o.name, o.actor, tuple(o.size), o.symmetry_deg, o.kind) for o in u.listing]
    else:
        states = {o.name: o for o in task.scene_objects(u)}
        seen = [
            (name, getattr(u, attr), states[name].size, float(sym), states[name].kind)
            for name, (attr, sym) in task.module.CAMERA.items()
        ]
    expected = [Expected(n, _colour(a), size, sym, kind) for n, a, size, sym, kind in seen]
    ids = {n: int(_numpy(a.per_scene_id).reshape(-1)[0]) for n, a, *_ in seen}
    return expected, ids


def given_objects(env, task: Task) -> list[ObjectState]:
    """The objects the instruction gives (from the task definition, never from a camera)."""
    names = getattr(task.module, "GIVEN", ())
    return [
        dataclasses.replace(o, given=True)
        for o in task.scene_objects(env.unwrapped)
        if o.name in names
    ]


def capture(
    env, task: Task, size: int, drop: tuple[str, ...] = ()
) -> tuple[list[CameraFrame], float]:
    """One RGB-D frame per view with its calibration (and the simulator's segmentation, for
    the oracle only); ``drop`` leaves views out (tests of a missing camera). Returns the
    frames and the seconds spent rendering."""
    start = time.perf_counter()
    u = env.unwrapped
    cams = {n: c for n, c in _cameras(env, size).items() if n not in drop}
    _, ids = expected_objects(env, task)
    hidden = list(getattr(u, "_hidden_objects", []))  # goal markers ManiSkill keeps off sensors
    for obj in hidden:
        obj.hide_visual()
    try:
        u.scene.update_render(update_sensors=True, update_human_render_cameras=False)
        for cam in cams.values():
            cam.capture()
    finally:
        for obj in hidden:
            obj.show_visual()
    frames = []
    for name, cam in cams.items():
        obs = cam.get_obs(rgb=True, depth=True, position=False, segmentation=True)
        params = cam.get_params()
        extrinsic = np.eye(4)
        extrinsic[:3, :4] = _numpy(params["extrinsic_cv"]).reshape(-1, 3, 4)[0]
        frames.append(
            CameraFrame(
                name=name,
                rgb=_numpy(obs["rgb"][0]).astype(np.uint8),
                depth=_numpy(obs["depth"][0])[..., 0].astype(np.float32) / 1000.0,  # mm -> m
                intrinsic=_numpy(params["intrinsic_cv"]).reshape(-1, 3, 3)[0].astype(np.float64),
                cam_to_world=np.linalg.inv(extrinsic),
                segmentation=_numpy(obs["segmentation"][0])[..., 0].astype(np.int32),
                ids=ids,
            )
        )
    return frames, time.perf_counter() - start
