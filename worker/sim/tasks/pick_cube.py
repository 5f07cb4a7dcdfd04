"""PickCube-v1: pick up the cube and hold it at the goal point."""

from __future__ import annotations

from models.types import ObjectState, SceneState
from worker.sim.tasks.common import APPROACH_M, actor_state, code_block, fmt, pt, wrap_deg

DESCRIPTION = "Pick up the cube and move it to the goal position, then hold still."


def scene_objects(env) -> list[ObjectState]:
    side = 2 * float(env.cube_half_size)
    goal = 2 * float(env.goal_thresh)
    return [
        actor_state("cube", env.cube, (side, side, side)),
        actor_state("goal", env.goal_site, (goal, goal, goal), kind="goal"),
    ]


def expert_plan(scene: SceneState) -> str:
    cube, goal = scene.object("cube"), scene.object("goal")
    x, y, z = cube.position
    yaw = fmt(wrap_deg(cube.yaw_deg, 90))
    return code_block(
        [
            "# grasp the cube from above, across two faces",
            f"move_gripper({pt(x, y, z + APPROACH_M)}, yaw={yaw})",
            f"move_gripper({pt(x, y, z)}, yaw={yaw})",
            'close_gripper("cube")',
            f"move_gripper({pt(*goal.position)}, yaw={yaw})",
            "task_completed()",
        ]
    )
