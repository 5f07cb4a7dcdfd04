"""PlaceSphere-v1: put the sphere into the shallow bin."""

from __future__ import annotations

from models.types import ObjectState, SceneState
from worker.sim.tasks.common import APPROACH_M, LIFT_M, actor_state, code_block, pt

DESCRIPTION = "Pick up the sphere and place it inside the bin, then let go."


def scene_objects(env) -> list[ObjectState]:
    d = 2 * float(env.radius)
    bin_xy = 2 * float(env.block_half_size[1])
    bin_h = 2 * float(env.edge_block_half_size[2]) + 2 * float(env.block_half_size[0])
    return [
        actor_state("sphere", env.obj, (d, d, d)),
        actor_state("bin", env.bin, (bin_xy, bin_xy, bin_h), kind="container"),
    ]


def expert_plan(scene: SceneState) -> str:
    s, b = scene.object("sphere"), scene.object("bin")
    x, y, z = s.position
    # the bin's floor is its bottom plate; the sphere rests on it, centred by the walls
    drop_z = b.position[2] - b.size[2] / 2 + 0.005 + s.size[2] / 2 + 0.01
    return code_block(
        [
            f"move_gripper({pt(x, y, z + APPROACH_M)}, yaw=45)",
            f"move_gripper({pt(x, y, z)}, yaw=45)",
            'close_gripper("sphere")',
            f"move_gripper({pt(x, y, z + LIFT_M)}, yaw=45)",
            f"move_gripper({pt(b.position[0], b.position[1], drop_z + LIFT_M)}, yaw=45)",
            f"move_gripper({pt(b.position[0], b.position[1], drop_z)}, yaw=45)",
            "open_gripper()",
            "task_completed()",
        ]
    )
