"""One record per robot: everything blazer knows about an arm, in one registry.

Adding a robot is one ``Robot(...)`` line in ``ROBOTS`` (plus, if ManiSkill does not ship
the agent, its ``@register_agent`` class in ``manip.sim.agents``, and expert adjustments if
its reach differs). Everything else — the planner, the gripper actions, placement in the
table scene, the wrist-camera variant, the default workspace, the asset check, the envs that
accept it — reads this record. Pure data: importing it starts no simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.errors import ConfigError

Vec3 = tuple[float, float, float]
SQRT_HALF = 0.5**0.5


@dataclass(frozen=True)
class Robot:
    name: str  # ManiSkill agent uid, and the name campaigns and episodes use
    move_group: str  # the planner's TCP link
    reach_m: float  # from the base: bounds the scene's workspace
    gripper_open: float  # pd_joint_pos gripper action that opens it
    gripper_closed: float  # ... and the one that closes it fully
    wristcam: str  # the agent uid with a camera on the hand (recording with "wrist")
    # workspace a plan is checked against with no scene (``blazer plan check`` without
    # --task): ManiSkill's table scene for this robot, world frame, metres
    workspace: tuple[Vec3, Vec3]
    # the file it needs under ManiSkill's asset folder when mani-skill does not ship it (the
    # shared assets supply it); None: shipped
    asset: str | None = None
    # agent uids ManiSkill's table scene does not place (blazer's own agents, and ManiSkill's
    # xArm-6 wrist-camera variant): blazer puts them at ``base`` in their ``rest`` keyframe
    placed_by_blazer: tuple[str, ...] = ()
    base: Vec3 = (0.0, 0.0, 0.0)
    # the base where a task's layout is out of the arm's reach from ``base`` (every task but
    # those in ``own_layout``); None: it reaches ManiSkill's layouts from where it stands
    near_base: Vec3 | None = None
    own_layout: tuple[str, ...] = ("PickCube-v1",)  # tasks ManiSkill already lays out for it
    pick_cube_layout: str | None = None  # whose PickCube layout (cube size, spawn) it takes
    # the TCP's approach axis in the plan's pointing-down frame (quaternion wxyz), when the
    # TCP link does not approach along z
    tcp_in_plan_frame: tuple[float, float, float, float] | None = None
    carriage_m: tuple[float, float] | None = None  # finger carriage driven by the arm controller

    @property
    def uids(self) -> tuple[str, str]:
        """The agent uids this robot runs as: plain and with a wrist camera."""
        return (self.name, self.wristcam)


PANDA_TABLE = ((-0.615, -0.855, 0.0), (0.24, 0.855, 0.6))
XARM_TABLE = ((-0.522, -0.7, 0.0), (0.178, 0.7, 0.6))
XARM_BASE = (-0.522, 0.0, 0.0)  # the xArm-6's place in ManiSkill's table scene
XARM6_URDF = "robots/xarm6/xarm6_robotiq.urdf"

ROBOTS: dict[str, Robot] = {
    r.name: r
    for r in (
        Robot("panda", "panda_hand_tcp", 0.855, 1.0, -1.0, "panda_wristcam", PANDA_TABLE),
        Robot(
            "xarm6_robotiq",
            "eef",
            0.70,
            0.0,
            0.81,
            "xarm6_robotiq_wristcam",
            XARM_TABLE,
            asset=XARM6_URDF,
            base=XARM_BASE,
            placed_by_blazer=("xarm6_robotiq_wristcam",),
        ),
        # the xArm-7 arm with the xArm-6 asset's Robotiq gripper (manip.sim.agents builds it)
        Robot(
            "xarm7_robotiq",
            "eef",
            0.70,
            0.0,
            0.81,
            "xarm7_robotiq_wristcam",
            XARM_TABLE,
            asset=XARM6_URDF,
            base=XARM_BASE,
            pick_cube_layout="xarm6_robotiq",
            placed_by_blazer=("xarm7_robotiq", "xarm7_robotiq_wristcam"),
        ),
        # ManiSkill lays out only PickCube for the WidowX AI (cube 0.37 m from its base); the
        # other tasks put their objects around x = 0, 0.5-0.75 m from a base at x = -0.615,
        # so it stands closer there. Its TCP link approaches along x: the plan's
        # pointing-down frame is turned by 180 deg about (x + z) before planning.
        Robot(
            "widowxai",
            "ee_gripper_link",
            0.60,
            1.0,
            -1.0,
            "widowxai_wristcam",
            ((-0.615, -0.6, 0.0), (-0.015, 0.6, 0.6)),
            asset="robots/widowxai/wxai_base.urdf",
            near_base=(-0.36, 0.0, 0.0),
            tcp_in_plan_frame=(0.0, SQRT_HALF, 0.0, SQRT_HALF),
            carriage_m=(0.0, 0.044),
        ),
    )
}


def get_robot(name: str) -> Robot:
    if name not in ROBOTS:
        raise ConfigError(f"unknown robot {name!r}; known: {', '.join(ROBOTS)}")
    return ROBOTS[name]


def robot_of_uid(uid: str) -> Robot | None:
    """The record an agent uid (plain or wrist-camera variant) belongs to."""
    return next((r for r in ROBOTS.values() if uid in r.uids), None)


def agent_uids() -> list[str]:
    """Every agent uid blazer runs: what blazer's own envs accept."""
    return [uid for r in ROBOTS.values() for uid in r.uids]


def default_workspace(robot: str) -> tuple[Vec3, Vec3]:
    if robot not in ROBOTS:
        raise ConfigError(
            f"no default workspace for robot {robot!r} (known: {', '.join(ROBOTS)}); "
            "check against a scene with --task"
        )
    return ROBOTS[robot].workspace
