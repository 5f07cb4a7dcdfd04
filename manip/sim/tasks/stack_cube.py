"""StackCube-v1: put the red cube A on top of the green cube B."""

from __future__ import annotations

from manip.sim.tasks.common import (
    APPROACH_M,
    LIFT_M,
    actor_state,
    bind_point,
    bind_yaw,
    code_block,
    offset,
)
from models.types import ObjectState, SceneState

DESCRIPTION = "Stack the red cube (cube_a) on top of the green cube (cube_b) and let go."
PLACE_GAP_M = 0.005  # release A this far above resting on B


CAMERA = {"cube_a": ("cubeA", 90), "cube_b": ("cubeB", 90)}  # red on green


def scene_objects(env) -> list[ObjectState]:
    side = 2 * float(env.cube_half_size[0])
    return [
        actor_state("cube_a", env.cubeA, (side, side, side), symmetry_deg=90),
        actor_state("cube_b", env.cubeB, (side, side, side), symmetry_deg=90),
    ]


def expert_plan(scene: SceneState) -> str:
    a, b = scene.object("cube_a"), scene.object("cube_b")
    place = b.size[2] / 2 + a.size[2] / 2 + PLACE_GAP_M  # A's centre above B's centre
    return code_block(
        [
            bind_point("cube_a", a),
            bind_yaw("yaw", a),
            bind_point("cube_b", b),
            f"move_gripper({offset('cube_a', dz=APPROACH_M)}, yaw=yaw)",
            "move_gripper(cube_a, yaw=yaw)",
            'close_gripper("cube_a")',
            f"move_gripper({offset('cube_a', dz=LIFT_M)}, yaw=yaw)",
            f"move_gripper({offset('cube_b', dz=place + 0.04)}, yaw=yaw)",
            f"move_gripper({offset('cube_b', dz=place)}, yaw=yaw)",
            "open_gripper()",
            "task_completed()",
        ]
    )
