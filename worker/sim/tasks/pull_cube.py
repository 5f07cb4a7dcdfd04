"""PullCube-v1: pull the cube along -x, towards the robot, into the goal region."""

from __future__ import annotations

from models.types import ObjectState, SceneState
from worker.sim.tasks.common import code_block, cube_and_goal_region, pt

DESCRIPTION = "Pull the cube towards the robot until it is inside the goal region."


def scene_objects(env) -> list[ObjectState]:
    return cube_and_goal_region(env)


def expert_plan(scene: SceneState) -> str:
    cube, goal = scene.object("cube"), scene.object("goal_region")
    x, y, z = cube.position
    front = x + cube.size[0] / 2 + 0.03  # fingertips just past the cube's +x face
    stop = goal.position[0] + cube.size[0] / 2 + 0.03
    return code_block(
        [
            "close_gripper()",
            f"move_gripper({pt(front, y, z + 0.08)})",
            f"move_gripper({pt(front, y, z)})",
            f"move_gripper({pt(stop, y, z)})",
            "task_completed()",
        ]
    )
