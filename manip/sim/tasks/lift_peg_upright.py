"""LiftPegUpright-v1: stand the peg lying on the table upright."""

from __future__ import annotations

from manip.sim.robots import get_robot
from manip.sim.tasks.common import (
    APPROACH_M,
    actor_state,
    bind_point,
    bind_yaw,
    code_block,
    const,
    hand,
    offset,
)
from models.types import ObjectState, SceneState

DESCRIPTION = "Stand the peg that lies on the table upright on one of its ends."


CAMERA = {"peg": ("peg", 180)}  # two colours: the segmenter grows one half into the whole


def scene_objects(env) -> list[ObjectState]:
    length, width = 2 * float(env.peg_half_length), 2 * float(env.peg_half_width)
    return [actor_state("peg", env.peg, (length, width, width), symmetry_deg=180)]


def expert_plan(scene: SceneState) -> str:
    s = get_robot(scene.robot).peg_swing
    d = const(s.grasp_from_centre_m)
    dz = s.grasp_dz_m
    z = f"peg[2] {'+' if dz > 0 else '-'} {const(abs(dz))}" if dz else "peg[2]"
    return code_block(
        [
            bind_point("peg", scene.object("peg")),
            bind_yaw("yaw", scene.object("peg")),  # fingers close across the peg's width
            # along the hand's +x (the way tilt turns), so the lower end swings to the table
            f"grasp = [peg[0] + {d} * cos(yaw), peg[1] + {d} * sin(yaw), {z}]",
            f"move_gripper({offset('grasp', dz=APPROACH_M)}, yaw=yaw)",
            "move_gripper(grasp, yaw=yaw)",
            f'close_gripper("peg", strength={const(s.strength)})',
            f"move_gripper({offset('grasp', dz=s.lift_m)}, {hand('yaw', s.lift_tilt_deg)})",
            f"move_gripper({offset('grasp', dz=s.lift_m)}, {hand('yaw', s.tilt_deg)})",
            f"move_gripper({offset('grasp', dz=s.lower_m)}, {hand('yaw', s.tilt_deg)})",
            "open_gripper()",
            "task_completed()",
        ]
    )
