"""PickCube-v1: pick up the cube and hold it at the goal point."""

from __future__ import annotations

from manip.sim.robots import get_robot
from manip.sim.tasks.common import (
    APPROACH_M,
    actor_state,
    bind_point,
    bind_yaw,
    code_block,
    hand,
    offset,
)
from models.types import ObjectState, SceneState

DESCRIPTION = "Pick up the cube and move it to the goal position, then hold still."


# what the perception cameras look for (scene name -> env attribute, symmetry in degrees), and
# what the instruction gives instead: the goal point is a place in the air, not a thing
CAMERA = {"cube": ("cube", 90)}
GIVEN = ("goal",)


def scene_objects(env) -> list[ObjectState]:
    side = 2 * float(env.cube_half_size)
    goal = 2 * float(env.goal_thresh)
    return [
        actor_state("cube", env.cube, (side, side, side), symmetry_deg=90),
        actor_state("goal", env.goal_site, (goal, goal, goal), kind="goal"),
    ]


def expert_plan(scene: SceneState) -> str:
    cube, goal = scene.object("cube"), scene.object("goal")
    return code_block(
        [
            bind_point("cube", cube),
            bind_yaw("yaw", cube),
            bind_point("goal", goal),
            f"move_gripper({offset('cube', dz=APPROACH_M)}, yaw=yaw)",
            "move_gripper(cube, yaw=yaw)",
            'close_gripper("cube")',
            f"move_gripper(goal, {hand('yaw', get_robot(scene.robot).carry_tilt_deg)})",
            "task_completed()",
        ]
    )
