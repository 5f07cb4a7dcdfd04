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
class PegSwing:
    """The expert's LiftPegUpright motion: grasp the peg towards one end, lift it so it swings
    down to hang from the fingers, tilt the hand, lower it onto its end and let go
    (ManiSkill's solution for the Panda; ``manip.sim.tasks.lift_peg_upright``)."""

    grasp_from_centre_m: float = 0.10  # along the hand's +x, the way tilt turns
    strength: float = 0.6  # loose, so the peg can swing
    lift_m: float = 0.30
    tilt_deg: float = 36
    lower_m: float = 0.20
    lift_tilt_deg: float = 0  # tilt already while lifting (reaches higher)
    grasp_dz_m: float = 0.0  # the grasp's height from the peg's axis


# The Robotiq's pads (both xArms) hold the peg stiffly: grasped 10 cm out loosely it was flung
# off the table on the lift (xArm-6 2/20); 5 cm out, gripped fully, it swings and stands
# (17/20, 16/20 on train seeds 20-39; 4 or 6 cm out: 0-1 of 10); 1 cm below its axis it is
# squeezed out less often (seeds 40-69: xArm-6 23 -> 26/30, xArm-7 22 -> 29/30).
ROBOTIQ_PEG = PegSwing(grasp_from_centre_m=0.05, strength=1.0, grasp_dz_m=-0.01)


@dataclass(frozen=True)
class Robot:
    name: str  # ManiSkill agent uid, and the name campaigns and episodes use
    move_group: str  # the planner's TCP link
    reach_m: float  # from the base: bounds the scene's workspace
    gripper_open: float  # pd_joint_pos gripper action that opens it
    gripper_closed: float  # ... and the one that closes it on an object
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
    near_base_for: tuple[tuple[str, Vec3], ...] = ()  # a task whose layout wants another one
    own_layout: tuple[str, ...] = ("PickCube-v1",)  # tasks ManiSkill already lays out for it
    pick_cube_layout: str | None = None  # whose PickCube layout (cube size, spawn) it takes
    # the TCP's approach axis in the plan's pointing-down frame (quaternion wxyz), when the
    # TCP link does not approach along z
    tcp_in_plan_frame: tuple[float, float, float, float] | None = None
    carriage_m: tuple[float, float] | None = None  # finger carriage driven by the arm controller
    # the hand's tilt (degrees, fingers forward) while the expert carries a grasped object to
    # a point in the air: a short arm reaches higher pointing forward than pointing down
    carry_tilt_deg: float = 0.0
    # how far behind the TCP link, along the approach, a plan's point is grasped: up the
    # pads for a TCP link at the fingertips (0: the TCP link is already between the pads)
    pads_behind_tcp_m: float = 0.0
    # blazer's tasks spread objects in a box made for the Panda; a layout a short arm cannot
    # reach (StackBlocks) narrows it (y scaled) and moves it nearer the base (x shifted),
    # as ManiSkill's PickCube configs do
    spawn_y_scale: float = 1.0
    spawn_x_shift_m: float = 0.0
    peg_swing: PegSwing = PegSwing()  # how the expert stands LiftPegUpright's peg up

    def moved_base(self, task: str) -> Vec3 | None:
        """Where blazer stands this arm for ``task``, or None where ManiSkill's place is right."""
        if self.near_base is None or task in self.own_layout:
            return None
        return dict(self.near_base_for).get(task, self.near_base)

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
            peg_swing=ROBOTIQ_PEG,
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
            peg_swing=ROBOTIQ_PEG,
        ),
        # ManiSkill lays out only PickCube for the WidowX AI (cube 0.37 m from its base); the
        # other tasks put their objects around x = 0, 0.5-0.75 m from a base at x = -0.615,
        # so it stands closer there. Its TCP link approaches along x: the plan's
        # pointing-down frame is turned by 180 deg about (x + z) before planning. Its
        # "closed" stops at 1.1 cm per finger: squeezing a cube with the full stroke makes
        # the solver report the wrist turning at 0.29 rad/s while nothing moves, and
        # PickCube's "robot static" check (0.2 rad/s) never passes; half the stroke holds
        # the cube at 0.11 rad/s. Pointing down, it reaches no higher than ~0.17 m at
        # 0.3 m from its base (PickCube's goals rise to 0.22 m); tilted 45 deg it reaches all.
        Robot(
            "widowxai",
            "ee_gripper_link",
            0.60,
            1.0,
            -0.5,
            "widowxai_wristcam",
            ((-0.615, -0.6, 0.0), (-0.015, 0.6, 0.6)),
            asset="robots/widowxai/wxai_base.urdf",
            near_base=(-0.28, 0.0, 0.0),
            near_base_for=(("PullCube-v1", (-0.33, 0.0, 0.0)),),  # it pulls the cube 0.1 m back
            tcp_in_plan_frame=(0.0, SQRT_HALF, 0.0, SQRT_HALF),
            carriage_m=(0.0, 0.044),
            carry_tilt_deg=45.0,
            spawn_y_scale=0.75,  # StackBlocks' third block, lifted to 0.165 m, was out of reach
            spawn_x_shift_m=-0.05,
            # no tilted pose 0.33 m up is in its reach: lifted 0.2 m half tilted, then lowered
            # to 0.13 m (19/20 on train seeds 10-29)
            peg_swing=PegSwing(0.08, 0.6, lift_m=0.2, tilt_deg=40, lower_m=0.13, lift_tilt_deg=20),
            pads_behind_tcp_m=0.02,  # its TCP link is at the fingertips (the pads are 7 cm long)
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
