"""LiftPegUpright-v1: stand the peg lying on the table upright."""

from __future__ import annotations

from manip.sim.tasks.common import (
    APPROACH_M,
    actor_state,
    bind_point,
    bind_yaw,
    code_block,
    offset,
)
from models.types import ObjectState, SceneState

DESCRIPTION = "Stand the peg that lies on the table upright on one of its ends."
GRASP_FROM_CENTRE_M = (
    0.10  # grasp towards one end, loosely, so the peg swings down (as ManiSkill's solution does)
)
TILT_DEG = 36


CAMERA = {"peg": ("peg", 180)}  # two colours: the segmenter grows one half into the whole


def scene_objects(env) -> list[ObjectState]:
    length, width = 2 * float(env.peg_half_length), 2 * float(env.peg_half_width)
    return [actor_state("peg", env.peg, (length, width, width), symmetry_deg=180)]


def expert_plan(scene: SceneState) -> str:
    d = GRASP_FROM_CENTRE_M
    return code_block(
        [
            bind_point("peg", scene.object("peg")),
            bind_yaw("yaw", scene.object("peg")),  # fingers close across the peg's width
            # along the hand's +x (the way tilt turns), so the lower end swings to the table
            f"grasp = [peg[0] + {d} * cos(yaw), peg[1] + {d} * sin(yaw), peg[2]]",
            f"move_gripper({offset('grasp', dz=APPROACH_M)}, yaw=yaw)",
            "move_gripper(grasp, yaw=yaw)",
            'close_gripper("peg", strength=0.6)',
            f"move_gripper({offset('grasp', dz=0.30)}, yaw=yaw)",
            f"move_gripper({offset('grasp', dz=0.30)}, yaw=yaw, tilt={TILT_DEG})",
            f"move_gripper({offset('grasp', dz=0.20)}, yaw=yaw, tilt={TILT_DEG})",
            "open_gripper()",
            "task_completed()",
        ]
    )
