"""LiftPegUpright-v1: stand the peg lying on the table upright."""

from __future__ import annotations

import math

from models.types import ObjectState, SceneState
from worker.sim.tasks.common import APPROACH_M, actor_state, code_block, fmt, pt, wrap_deg

DESCRIPTION = "Stand the peg that lies on the table upright on one of its ends."


def scene_objects(env) -> list[ObjectState]:
    length, width = 2 * float(env.peg_half_length), 2 * float(env.peg_half_width)
    return [actor_state("peg", env.peg, (length, width, width))]


def expert_plan(scene: SceneState) -> str:
    peg = scene.object("peg")
    yaw = wrap_deg(peg.yaw_deg, 180)  # fingers close across the peg's width
    # grasp 10 cm from the centre towards one end, loosely, so the peg swings down as it
    # is lifted and tilted (what ManiSkill's own solution does)
    rad = math.radians(yaw)
    x = peg.position[0] + 0.10 * math.cos(rad)  # along the hand's +x, the way tilt turns
    y = peg.position[1] + 0.10 * math.sin(rad)
    z = peg.position[2]
    y_s = fmt(yaw)
    return code_block(
        [
            f"move_gripper({pt(x, y, z + APPROACH_M)}, yaw={y_s})",
            f"move_gripper({pt(x, y, z)}, yaw={y_s})",
            'close_gripper("peg", strength=0.6)',
            f"move_gripper({pt(x, y, z + 0.30)}, yaw={y_s})",
            f"move_gripper({pt(x, y, z + 0.30)}, yaw={y_s}, tilt=36)",
            f"move_gripper({pt(x, y, z + 0.20)}, yaw={y_s}, tilt=36)",
            "open_gripper()",
            "task_completed()",
        ]
    )
