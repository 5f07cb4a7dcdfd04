"""PlaceSphere-v1: put the sphere into the shallow bin."""

from __future__ import annotations

from manip.sim.tasks.common import (
    APPROACH_M,
    LIFT_M,
    actor_state,
    bind_point,
    code_block,
    offset,
)
from models.types import ObjectState, SceneState

DESCRIPTION = "Pick up the sphere and place it inside the bin, then let go."
GRASP_YAW = "45"  # a sphere has no preferred yaw; 45 keeps the fingers clear of the bin walls


CAMERA = {"sphere": ("obj", 360), "bin": ("bin", 90)}  # 360: round, its yaw is 0


def scene_objects(env) -> list[ObjectState]:
    d = 2 * float(env.radius)
    bin_xy = 2 * float(env.block_half_size[1])
    bin_h = 2 * float(env.edge_block_half_size[2]) + 2 * float(env.block_half_size[0])
    return [
        actor_state("sphere", env.obj, (d, d, d), symmetry_deg=90),
        actor_state("bin", env.bin, (bin_xy, bin_xy, bin_h), kind="container", symmetry_deg=90),
    ]


def expert_plan(scene: SceneState) -> str:
    s, b = scene.object("sphere"), scene.object("bin")
    # the sphere rests on the bin's bottom plate (5 mm thick); release 1 cm above that
    drop = -b.size[2] / 2 + 0.005 + s.size[2] / 2 + 0.01
    return code_block(
        [
            bind_point("sphere", s),
            bind_point("bin", b),
            f"move_gripper({offset('sphere', dz=APPROACH_M)}, yaw={GRASP_YAW})",
            f"move_gripper(sphere, yaw={GRASP_YAW})",
            'close_gripper("sphere")',
            f"move_gripper({offset('sphere', dz=LIFT_M)}, yaw={GRASP_YAW})",
            f"move_gripper({offset('bin', dz=drop + LIFT_M)}, yaw={GRASP_YAW})",
            f"move_gripper({offset('bin', dz=drop)}, yaw={GRASP_YAW})",
            "open_gripper()",
            "task_completed()",
        ]
    )
