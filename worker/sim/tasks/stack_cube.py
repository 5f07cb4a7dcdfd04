"""StackCube-v1: put the red cube A on top of the green cube B."""

from __future__ import annotations

from models.types import ObjectState, SceneState
from worker.sim.tasks.common import APPROACH_M, LIFT_M, actor_state, code_block, fmt, pt, wrap_deg

DESCRIPTION = "Stack the red cube (cube_a) on top of the green cube (cube_b) and let go."


def scene_objects(env) -> list[ObjectState]:
    side = 2 * float(env.cube_half_size[0])
    return [
        actor_state("cube_a", env.cubeA, (side, side, side)),
        actor_state("cube_b", env.cubeB, (side, side, side)),
    ]


def expert_plan(scene: SceneState) -> str:
    a, b = scene.object("cube_a"), scene.object("cube_b")
    x, y, z = a.position
    yaw = fmt(wrap_deg(a.yaw_deg, 90))
    place_z = b.position[2] + b.size[2] / 2 + a.size[2] / 2 + 0.005
    return code_block(
        [
            f"move_gripper({pt(x, y, z + APPROACH_M)}, yaw={yaw})",
            f"move_gripper({pt(x, y, z)}, yaw={yaw})",
            'close_gripper("cube_a")',
            f"move_gripper({pt(x, y, z + LIFT_M)}, yaw={yaw})",
            f"move_gripper({pt(b.position[0], b.position[1], place_z + 0.04)}, yaw={yaw})",
            f"move_gripper({pt(b.position[0], b.position[1], place_z)}, yaw={yaw})",
            "open_gripper()",
            "task_completed()",
        ]
    )
