"""StackPyramid-v1 (ManiSkill's): put the red cube next to the green one, then the blue cube
on top of both.

The red cube goes down beside the green one along one of the green cube's own axes, the one
that leaves the spot and the hand's fingers farthest from the blue cube, with the hand
turned to that axis: the cubes stand face to face and the fingers (closing across the
axis) stay clear of the green cube; the blue cube then bridges them, centred
over the seam."""

from __future__ import annotations

import math

from manip.sim.tasks.common import actor_state, bind_point, bind_yaw, code_block, pick, place
from models.types import ObjectState, SceneState

DESCRIPTION = (
    "Put the red cube (cube_a) next to the green cube (cube_b), then the blue cube (cube_c) "
    "on top of both, and let go."
)
BESIDE_M = 0.042  # centre to centre, side by side: a 2 mm gap between the faces
GAP_M = 0.005  # release this far above resting
FINGER_M = 0.045  # an open finger's distance from the grasp centre


CAMERA = {"cube_a": ("cubeA", 90), "cube_b": ("cubeB", 90), "cube_c": ("cubeC", 90)}


def scene_objects(env) -> list[ObjectState]:
    side = 2 * float(env.cube_half_size[0])
    return [
        actor_state(n, c, (side, side, side), symmetry_deg=90)
        for n, c in (("cube_a", env.cubeA), ("cube_b", env.cubeB), ("cube_c", env.cubeC))
    ]


def grip_turn(obj: ObjectState, others: list[ObjectState]) -> int:
    """0 or 90: the hand's turn from the cube's yaw that keeps the open fingers (which close
    along the hand's y) farthest from the other cubes, which may stand 6 cm away."""

    def clearance(turn: int) -> float:
        angle = math.radians(obj.yaw_deg + turn)
        x, y = obj.position[:2]
        fingers = [
            (x - FINGER_M * math.sin(angle), y + FINGER_M * math.cos(angle)),
            (x + FINGER_M * math.sin(angle), y - FINGER_M * math.cos(angle)),
        ]
        return min(math.dist(f, o.position[:2]) for f in fingers for o in others)

    return max((0, 90), key=clearance)


def expert_plan(scene: SceneState) -> str:
    a, b, c = (scene.object(n) for n in ("cube_a", "cube_b", "cube_c"))

    def clearance(turn: int) -> float:  # of the spot and the hand's fingers there from C
        angle = math.radians(b.yaw_deg + turn)
        x = b.position[0] + BESIDE_M * math.cos(angle)
        y = b.position[1] + BESIDE_M * math.sin(angle)
        dx, dy = -FINGER_M * math.sin(angle), FINGER_M * math.cos(angle)
        return min(
            math.dist(p, c.position[:2]) for p in ((x, y), (x + dx, y + dy), (x - dx, y - dy))
        )

    turn = max((0, 90, 180, -90), key=clearance)
    turn_a, turn_c = grip_turn(a, [b, c]), grip_turn(c, [a, b])
    at = lambda d, dz: f"[b[0] + {d} * cos(side), b[1] + {d} * sin(side), b[2] + {dz}]"  # noqa: E731
    return code_block(
        [
            bind_point("a", a),
            bind_yaw("yaw_a", a),
            bind_point("b", b),
            bind_yaw("yaw_b", b),
            f"side = yaw_b {'-' if turn < 0 else '+'} {abs(turn)}" if turn else "side = yaw_b",
            *pick("a", "cube_a", "yaw_a + 90" if turn_a else "yaw_a"),
            f"beside = {at(BESIDE_M, GAP_M)}",
            *place("beside", "side", 0.0, retreat=True),
            bind_point("c", c),
            bind_yaw("yaw_c", c),
            *pick("c", "cube_c", "yaw_c + 90" if turn_c else "yaw_c"),
            f"top = {at(BESIDE_M / 2, c.size[2] + GAP_M)}",
            *place("top", "side", 0.0),
            "task_completed()",
        ]
    )
