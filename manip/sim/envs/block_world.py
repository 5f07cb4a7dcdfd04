"""What blazer's own tasks share: a table, blocks of named colours, containers, and the
per-episode randomisation (which objects are present, their colours, poses, the words).

Each task is one ManiSkill env (``@register_env``) in its own file, in ManiSkill's shape:
``_load_scene`` builds every object the task can ever show, ``_initialize_episode`` picks
this episode's objects from the episode RNG and parks the rest off the table (a scene is
built once per env; rebuilding it per seed would cost a reconfiguration each reset), and
``evaluate`` returns named checks and ``success``.

The env also says what the prompt shows: ``listing`` (the present objects with their scene
names, sizes, kinds and symmetries) and ``description`` (the episode's instruction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sapien
import torch
from mani_skill.envs.sapien_env import BaseEnv
from mani_skill.sensors.camera import CameraConfig
from mani_skill.utils import sapien_utils
from mani_skill.utils.building import actors
from mani_skill.utils.scene_builder.table import TableSceneBuilder
from mani_skill.utils.structs.pose import Pose

from manip.sim.robots import agent_uids, robot_of_uid
from models.frames import yaw_of_quat

COLOURS: dict[str, list[float]] = {
    "red": [0.85, 0.1, 0.1, 1],
    "green": [0.1, 0.7, 0.2, 1],
    "blue": [0.15, 0.3, 0.9, 1],
    "yellow": [0.95, 0.85, 0.1, 1],
    "purple": [0.55, 0.2, 0.75, 1],
}
BLOCK_HALF = 0.02  # 4 cm blocks, as ManiSkill's cube tasks
MOVED_M = 0.02  # an object that should stay counts as moved beyond this
PARK_Y = 3.0  # parked objects wait on the floor here, far outside the workspace


def parked(z: float = BLOCK_HALF) -> sapien.Pose:
    """An object's pose until an episode shows it: off the table, out of reach."""
    return sapien.Pose(p=[0, PARK_Y, z])


@dataclass(frozen=True)
class Listed:
    """One present object as the prompt shows it."""

    name: str
    actor: object
    size: tuple[float, float, float]
    kind: str = "object"  # object | goal | container
    symmetry_deg: float = 360.0


class BlockWorldEnv(BaseEnv):
    """Base of blazer's tasks: Panda-height table, cameras like ManiSkill's cube tasks."""

    SUPPORTED_ROBOTS = agent_uids()  # every robot record's agents

    def __init__(self, *args, robot_uids="panda", robot_init_qpos_noise=0.02, **kwargs):
        self.robot_init_qpos_noise = robot_init_qpos_noise
        self.listing: list[Listed] = []
        self.description = ""
        self._parked = 0
        super().__init__(*args, robot_uids=robot_uids, **kwargs)

    @property
    def _default_sensor_configs(self):
        pose = sapien_utils.look_at(eye=[0.3, 0, 0.6], target=[-0.1, 0, 0.1])
        return [CameraConfig("base_camera", pose, 128, 128, np.pi / 2, 0.01, 100)]

    @property
    def _default_human_render_camera_configs(self):
        pose = sapien_utils.look_at([0.6, 0.7, 0.6], [0.0, 0.0, 0.35])
        return CameraConfig("render_camera", pose, 512, 512, 1, 0.01, 100)

    def _load_agent(self, options: dict):
        super()._load_agent(options, sapien.Pose(p=[-0.615, 0, 0]))

    def _load_scene(self, options: dict):
        self.table_scene = TableSceneBuilder(
            env=self, robot_init_qpos_noise=self.robot_init_qpos_noise
        )
        self.table_scene.build()
        self.build_objects()

    def build_objects(self) -> None:
        raise NotImplementedError

    def _initialize_episode(self, env_idx: torch.Tensor, options: dict):
        self.table_scene.initialize(env_idx)
        self.listing, self._parked = [], 0
        self.rng = self._episode_rng
        self.start_xy: dict[str, np.ndarray] = {}
        self.init_objects()

    def init_objects(self) -> None:
        raise NotImplementedError

    # building ------------------------------------------------------------------------------
    def block(self, name: str, colour: str, half: float = BLOCK_HALF):
        return actors.build_cube(
            self.scene, half_size=half, color=COLOURS[colour], name=name, initial_pose=parked(half)
        )

    def container(self, name: str, inner: float, wall_h: float, colour, wall=0.01, floor=0.005):
        """A kinematic open box: square floor of side ``inner`` + 2 walls, four walls."""
        builder = self.scene.create_actor_builder()
        c = inner / 2 + wall / 2
        floor_half = [inner / 2 + wall, inner / 2 + wall, floor / 2]
        walls = [
            ([c, 0, 0], [wall / 2, inner / 2 + wall, wall_h / 2]),
            ([-c, 0, 0], [wall / 2, inner / 2 + wall, wall_h / 2]),
            ([0, c, 0], [inner / 2, wall / 2, wall_h / 2]),
            ([0, -c, 0], [inner / 2, wall / 2, wall_h / 2]),
        ]
        material = sapien.render.RenderMaterial(base_color=colour)
        builder.add_box_collision(sapien.Pose([0, 0, -wall_h / 2 + floor / 2]), floor_half)
        builder.add_box_visual(
            sapien.Pose([0, 0, -wall_h / 2 + floor / 2]), floor_half, material=material
        )
        for p, half in walls:
            builder.add_box_collision(sapien.Pose(p), half)
            builder.add_box_visual(sapien.Pose(p), half, material=material)
        builder.initial_pose = parked(wall_h / 2)
        return builder.build_kinematic(name=name)

    # episode set-up ------------------------------------------------------------------------
    def place(
        self, actor, x: float, y: float, z: float, yaw_deg: float = 0.0, pitch_deg: float = 0.0
    ) -> None:
        yaw, pitch = np.deg2rad(yaw_deg) / 2, np.deg2rad(pitch_deg) / 2  # q = yaw (z) * pitch (y)
        w, qx, qy, qz = (
            np.cos(yaw) * np.cos(pitch),
            -np.sin(yaw) * np.sin(pitch),
            np.cos(yaw) * np.sin(pitch),
            np.sin(yaw) * np.cos(pitch),
        )
        q = torch.tensor([[w, qx, qy, qz]], dtype=torch.float32)
        actor.set_pose(Pose.create_from_pq(p=torch.tensor([[x, y, z]], dtype=torch.float32), q=q))

    def park(self, actor, z: float = BLOCK_HALF) -> None:
        """Off the table and out of reach: an object this episode does not show."""
        self._parked += 1
        self.place(actor, 0.3 * self._parked, PARK_Y, z - 0.92)

    def show(self, listed: Listed, x: float, y: float, z: float, yaw_deg: float = 0.0) -> None:
        self.place(listed.actor, x, y, z, yaw_deg)
        self.listing.append(listed)
        self.start_xy[listed.name] = np.array([x, y])

    def spots(self, n: int, low, high, apart: float, avoid=(), tries: int = 5000) -> list:
        """``n`` xy points in the box [low, high], each ``apart`` from the others and outside
        every ``(xy, radius)`` of ``avoid`` (rejection sampling from the episode RNG)."""
        out: list[np.ndarray] = []
        for _ in range(tries):
            p = self.rng.uniform(low, high)
            if all(np.linalg.norm(p - q) >= apart for q in out) and all(
                np.linalg.norm(p - np.asarray(c)) >= r for c, r in avoid
            ):
                out.append(p)
                if len(out) == n:
                    return out
        raise RuntimeError(f"could not place {n} objects {apart} m apart")

    def within_reach(self, low, high) -> tuple[np.ndarray, np.ndarray]:
        """The box [low, high] narrowed and moved as the robot's record says
        (``spawn_y_scale``, ``spawn_x_shift_m``): for a layout a short arm cannot otherwise
        reach (StackBlocks' tower; baskets 17 cm apart would not fit a narrowed box)."""
        robot = robot_of_uid(self.robot_uids)
        scale = np.array([1.0, robot.spawn_y_scale if robot else 1.0])
        shift = np.array([robot.spawn_x_shift_m if robot else 0.0, 0.0])
        return np.asarray(low) * scale + shift, np.asarray(high) * scale + shift

    def yaw(self) -> float:
        return float(self.rng.uniform(-180, 180))

    def side(self, low: float, high: float) -> float:
        """A y on a random side of the table, ``low``-``high`` from its middle."""
        return float(self.rng.choice([-1.0, 1.0]) * self.rng.uniform(low, high))

    def pick_colours(self, n: int, exclude=()) -> list[str]:
        names = [c for c in COLOURS if c not in exclude]
        return [names[i] for i in self.rng.permutation(len(names))[:n]]

    # checks --------------------------------------------------------------------------------
    def xy(self, actor) -> np.ndarray:
        return actor.pose.p[0, :2].numpy()

    def z(self, actor) -> float:
        return float(actor.pose.p[0, 2])

    def stayed(self, names: list[str]) -> bool:
        """Every named (present) object is within MOVED_M of where the episode put it."""
        actors_by_name = {o.name: o.actor for o in self.listing}
        return all(
            np.linalg.norm(self.xy(actors_by_name[n]) - self.start_xy[n]) <= MOVED_M for n in names
        )

    def inside(self, actor, box, inner: float, wall_h: float) -> bool:
        """The actor's centre is within the open box's floor square, below its rim."""
        yaw = np.deg2rad(yaw_of_quat(box.pose.q[0].tolist()))
        dx, dy = self.xy(actor) - self.xy(box)
        local = (dx * np.cos(yaw) + dy * np.sin(yaw), -dx * np.sin(yaw) + dy * np.cos(yaw))
        return bool(max(map(abs, local)) <= inner / 2 and self.z(actor) <= self.z(box) + wall_h / 2)

    def released(self, actor) -> bool:
        return not bool(self.agent.is_grasping(actor)[0])

    def static(self, actor) -> bool:
        return bool(actor.is_static(lin_thresh=1e-2, ang_thresh=0.5)[0])

    @staticmethod
    def result(**checks: bool) -> dict:
        return {
            **{k: torch.tensor([bool(v)]) for k, v in checks.items()},
            "success": torch.tensor([all(checks.values())]),
        }
