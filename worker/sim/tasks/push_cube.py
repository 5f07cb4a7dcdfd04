"""PushCube-v1: push the cube along +x into the goal region."""

from __future__ import annotations

from models.types import ObjectState, SceneState
from worker.sim.tasks.common import code_block, cube_and_goal_region, pt

DESCRIPTION = "Push the cube across the table until it is inside the goal region."


def scene_objects(env) -> list[ObjectState]:
    return cube_and_goal_region(env)


def expert_plan(scene: SceneState) -> str:
    cube, goal = scene.object("cube"), scene.object("goal_region")
    x, y, z = cube.position
    behind = x - cube.size[0] / 2 - 0.03  # fingertips just behind the cube's -x face
    # the cube ends 5 cm short of the goal centre (well inside its 10 cm radius): the arm
    # is near the edge of its reach at the far end
    stop = goal.position[0] - cube.size[0] / 2 - 0.03 - 0.05
    return code_block(
        [
            "close_gripper()",
            f"move_gripper({pt(behind, y, z + 0.08)})",
            f"move_gripper({pt(behind, y, z)})",
            f"move_gripper({pt(stop, y, z)})",
            "task_completed()",
        ]
    )
