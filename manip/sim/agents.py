"""Robots blazer adds to ManiSkill: wrist-camera variants it does not ship, and a
two-finger xArm-7 (the xArm-7 arm with the Robotiq 2F-85 gripper the xArm-6 asset uses;
ManiSkill registers only a five-finger Ability-hand xArm-7).

``register()`` runs in the simulator process before an env is made. ManiSkill's table
scene only places the robots it knows; ``register()`` extends its ``initialize`` to put
ours at their base pose and rest configuration, so ``env.reset(seed=...)`` alone gives a
recording's initial state (what ManiSkill's replay tool relies on without env states).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from manip.sim.assets import write_convex_hulls
from manip.sim.robots import ROBOTS, robot_of_uid

# xArm-7 rest pose: the xArm-6 rest pose with the extra upper-arm roll (joint 3) at 0 and the
# elbow and wrist signs of the 7-axis arm; six gripper joints open.
XARM7_REST = [0.0, 0.22, 0.0, 1.23, 0.0, 1.01, 0.0] + [0.0] * 6
# The wrist camera on the Robotiq gripper, in the TCP ("eef") frame: beside the gripper body,
# 12 cm back from the fingertips, looking along the fingers (camera x axis = TCP z axis).
WRIST_CAMERA_P = [0.07, 0.0, -0.12]
WRIST_CAMERA_Q = [math.sqrt(0.5), 0.0, -math.sqrt(0.5), 0.0]
_registered = False


def register() -> None:
    """Register blazer's agents with ManiSkill (once per process)."""
    global _registered
    if _registered:
        return
    import sapien
    from mani_skill.agents.base_agent import Keyframe
    from mani_skill.agents.registration import register_agent
    from mani_skill.agents.robots.xarm6.xarm6_robotiq import XArm6Robotiq
    from mani_skill.sensors.camera import CameraConfig

    def wrist_camera(agent) -> list:
        return [
            CameraConfig(
                uid="wrist_camera",
                pose=sapien.Pose(p=WRIST_CAMERA_P, q=WRIST_CAMERA_Q),
                width=128,
                height=128,
                fov=math.pi / 2,
                near=0.01,
                far=100,
                mount=agent.robot.links_map["eef"],
            )
        ]

    if missing_asset("xarm7_robotiq") is None:

        @register_agent()
        class XArm7Robotiq(XArm6Robotiq):
            uid = "xarm7_robotiq"
            urdf_path = str(xarm7_robotiq_urdf())
            arm_joint_names = [f"joint{i}" for i in range(1, 8)]
            keyframes = dict(rest=Keyframe(qpos=np.array(XARM7_REST), pose=sapien.Pose()))

        @register_agent()
        class XArm7RobotiqWristCam(XArm7Robotiq):
            uid = "xarm7_robotiq_wristcam"

            @property
            def _sensor_configs(self):
                return wrist_camera(self)

    from mani_skill.utils.scene_builder.table import TableSceneBuilder

    original = TableSceneBuilder.initialize

    def initialize(self, env_idx):
        original(self, env_idx)
        _place(self.env)

    TableSceneBuilder.initialize = initialize
    from mani_skill.envs.tasks.tabletop.pick_cube_cfgs import PICK_CUBE_CONFIGS

    for robot in ROBOTS.values():  # each uid takes its record's PickCube layout
        layout = PICK_CUBE_CONFIGS.get(robot.pick_cube_layout or robot.name)
        for uid in robot.uids:
            if layout is not None:
                PICK_CUBE_CONFIGS.setdefault(uid, layout)
    _registered = True


def _place(u) -> None:
    """Put the robot where its record says after ManiSkill's scene did its part."""
    import sapien

    uid = u.robot_uids
    robot = robot_of_uid(uid)
    if robot is None:
        return
    if uid in robot.placed_by_blazer:
        u.agent.reset(u.agent.keyframes["rest"].qpos)
        u.agent.robot.set_pose(sapien.Pose(list(robot.base)))
    if u.spec is None:  # gym.make's first reset runs before the env has its id: an arm
        return  # moved now would stay there in the task ManiSkill lays out for it
    if (base := robot.moved_base(u.spec.id)) is not None:
        u.agent.robot.set_pose(sapien.Pose(list(base)))


def plain_replay_note(uid: str, env_id: str) -> str | None:
    """Why ManiSkill's own replay tool, without env states, cannot reset an episode of agent
    ``uid`` on ``env_id`` the way blazer ran it (it runs none of ``register()``'s hooks), or
    None where it can. The same conditions as ``_place``."""
    from manip.sim.tasks import ENV_TASKS

    robot = robot_of_uid(uid)
    if env_id in ENV_TASKS:
        why = f"{env_id} is blazer's own task"
    elif robot is not None and uid in robot.placed_by_blazer:
        why = f"blazer, not ManiSkill's table scene, places {uid} (base and rest pose)"
    elif robot is not None and robot.moved_base(env_id) is not None:
        why = f"blazer moves {uid}'s base nearer {env_id}'s objects"
    else:
        return None
    return (
        f"{why}: replay it with `blazer sim replay-h5`, or in ManiSkill's own tool with "
        "--use-first-env-state or --use-env-states"
    )


def missing_asset(robot: str) -> str | None:
    """Why ``robot`` cannot load (its asset is missing), or None. Without these assets the
    other robots still run; asking for one of these is one line instead of ManiSkill's
    download prompt (which would wait on the simulator's protocol pipe until the deadline)."""
    from mani_skill import ASSET_DIR

    asset = ROBOTS[robot].asset if robot in ROBOTS else None
    if asset is None or (path := Path(ASSET_DIR) / asset).exists():
        return None
    return (
        f"the {robot} robot asset is missing ({path}); point BLAZER_MANISKILL_ASSETS at a "
        f"folder holding data/{asset.rsplit('/', 1)[0]}"
    )


# the xArm-7 + Robotiq URDF --------------------------------------------------------------------
def xarm7_robotiq_urdf() -> Path:
    """Write (once) the xArm-7 arm from mani-skill with the Robotiq gripper, wrist camera
    link and TCP of the xArm-6 asset moved from link6 to link7 (the same flange frame), and
    an SRDF that lets adjacent links touch."""
    from mani_skill import ASSET_DIR, PACKAGE_ASSET_DIR

    arm_dir = Path(PACKAGE_ASSET_DIR) / "robots" / "xarm7"
    grip_dir = Path(ASSET_DIR) / "robots" / "xarm6"
    out = Path(ASSET_DIR) / "robots" / "xarm7_robotiq" / "xarm7_robotiq.urdf"
    if out.exists() and out.with_suffix(".srdf").exists():
        return out
    arm = ET.parse(arm_dir / "xarm7.urdf").getroot()
    grip = ET.parse(grip_dir / "xarm6_robotiq.urdf").getroot()
    _relative_meshes(arm, arm_dir, out.parent)
    _relative_meshes(grip, grip_dir, out.parent)
    arm_parts = {"world", "world_joint", "link_base"} | {f"link{i}" for i in range(1, 7)}
    arm_parts |= {f"joint{i}" for i in range(1, 7)}
    for el in list(grip):
        if el.tag in ("link", "joint") and el.get("name") in arm_parts:
            continue
        if el.tag == "joint" and el.find("parent").get("link") == "link6":
            el.find("parent").set("link", "link7")
        arm.append(el)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    ET.ElementTree(arm).write(tmp, xml_declaration=True, encoding="utf-8")
    tmp.replace(out)
    _write_srdf(arm, grip_dir / "xarm6_robotiq.srdf", out.with_suffix(".srdf"))
    write_convex_hulls(
        out.parent / m.get("filename") for c in arm.iter("collision") for m in c.iter("mesh")
    )
    return out


def _relative_meshes(root: ET.Element, folder: Path, out_dir: Path) -> None:
    """Mesh paths relative to the new URDF's folder (the loaders read them that way)."""
    import os

    for mesh in root.iter("mesh"):
        name = mesh.get("filename", "")
        if not name.startswith(("/", "package://")):
            mesh.set("filename", os.path.relpath(folder / name, out_dir))


def _write_srdf(urdf: ET.Element, grip_srdf: Path, out: Path) -> None:
    """Adjacent links, the gripper's own pairs (from the xArm-6 SRDF) and the last two arm
    links against the gripper may touch; every other pair is checked."""
    pairs: set[tuple[str, str]] = set()
    for joint in urdf.iter("joint"):
        pairs.add((joint.find("parent").get("link"), joint.find("child").get("link")))
    arm_links = {"link_base"} | {f"link{i}" for i in range(1, 8)}
    grip_links = [
        el.get("name") for el in urdf.iter("link") if el.get("name") not in arm_links | {"world"}
    ]
    for d in ET.parse(grip_srdf).getroot().iter("disable_collisions"):
        a, b = d.get("link1"), d.get("link2")
        if a in grip_links and b in grip_links:
            pairs.add((a, b))
    for link in grip_links:
        pairs |= {("link7", link), ("link6", link)}
    pairs.add(("link5", "link7"))
    robot = ET.Element("robot", name="xarm7_robotiq")
    for a, b in sorted(pairs):
        ET.SubElement(robot, "disable_collisions", link1=a, link2=b, reason="Adjacent")
    tmp = out.with_name(out.name + ".tmp")
    ET.ElementTree(robot).write(tmp, xml_declaration=True, encoding="utf-8")
    tmp.replace(out)
