"""PullCube-v1: pull the cube along -x, towards the robot, into the goal region."""

from __future__ import annotations

from manip.sim.tasks.common import bind_point, code_block, const, cube_and_goal_region, offset
from models.types import ObjectState, SceneState

DESCRIPTION = "Pull the cube towards the robot until it is inside the goal region."
CLEARANCE_M = 0.03  # fingertips this far past the cube's far (+x) face


# the goal region is a red and white target drawn on the table: a camera sees it
CAMERA = {"cube": ("obj", 90), "goal_region": ("goal_region", 360)}


def scene_objects(env) -> list[ObjectState]:
    return cube_and_goal_region(env)


def expert_plan(scene: SceneState) -> str:
    cube = scene.object("cube")
    front = cube.size[0] / 2 + CLEARANCE_M
    return code_block(
        [
            bind_point("cube", cube),
            bind_point("goal", scene.object("goal_region")),
            "close_gripper()",
            f"move_gripper({offset('cube', dx=front, dz=0.08)})",
            f"move_gripper({offset('cube', dx=front)})",
            f"move_gripper([goal[0] + {const(front)}, cube[1], cube[2]])",
            "task_completed()",
        ]
    )
