"""Three calibrated RGB-D cameras around the table (front, left, right: the paper's three
RealSense D435i), added to a ManiSkill env once, and what perception needs from the env.

Only blazer's own envs (``manip.sim.envs``) can be perceived: they list their objects with
actors (``env.listing``). ManiSkill's BLM1 tasks mark goals with invisible sites, which no
camera can see.
"""

from __future__ import annotations

import time

import numpy as np

from manip.perception.frames import CameraFrame, Expected, PerceptionError

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


def expected_objects(env) -> tuple[list[Expected], dict[str, int]]:
    """The objects this episode shows (name, colour, size, symmetry, kind) and their
    segmentation ids."""
    u = env.unwrapped
    listing = getattr(u, "listing", None)
    if listing is None:
        raise PerceptionError(
            f"{u.spec.id if u.spec else type(u).__name__} cannot be perceived: only blazer's "
            "own tasks (tasks list) list their objects for the cameras"
        )
    expected = [
        Expected(o.name, _colour(o.actor), tuple(o.size), o.symmetry_deg, o.kind) for o in listing
    ]
    ids = {o.name: int(_numpy(o.actor.per_scene_id).reshape(-1)[0]) for o in listing}
    return expected, ids


def capture(env, size: int, drop: tuple[str, ...] = ()) -> tuple[list[CameraFrame], float]:
    """One RGB-D frame per view with its calibration (and the simulator's segmentation, for
    the oracle only); ``drop`` leaves views out (tests of a missing camera). Returns the
    frames and the seconds spent rendering."""
    start = time.perf_counter()
    u = env.unwrapped
    cams = {n: c for n, c in _cameras(env, size).items() if n not in drop}
    _, ids = expected_objects(env)
    u.scene.update_render(update_sensors=True, update_human_render_cameras=False)
    for cam in cams.values():
        cam.capture()
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
