"""Helpers the task modules share: reading actor poses, formatting expert plans."""

from __future__ import annotations

import math

from models.types import ObjectState


def yaw_of_quat(q) -> float:
    """Yaw about world z, degrees, of a (w, x, y, z) quaternion."""
    w, x, y, z = (float(v) for v in q)
    return math.degrees(math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def actor_state(name: str, actor, size, kind: str = "object") -> ObjectState:
    p = actor.pose.p[0].tolist()
    q = actor.pose.q[0].tolist()
    return ObjectState(
        name=name,
        position=(round(p[0], 4), round(p[1], 4), round(p[2], 4)),
        yaw_deg=round(yaw_of_quat(q), 2),
        size=tuple(round(float(s), 4) for s in size),
        kind=kind,
    )


def wrap_deg(angle: float, period: float) -> float:
    """Map an angle into [-period/2, period/2): a symmetric object grasped the short way."""
    return (angle + period / 2) % period - period / 2


def fmt(v: float) -> str:
    return f"{v:.4f}".rstrip("0").rstrip(".") if v != 0 else "0"


def pt(x: float, y: float, z: float) -> str:
    return f"[{fmt(x)}, {fmt(y)}, {fmt(z)}]"


def code_block(lines: list[str]) -> str:
    return "```python\n" + "\n".join(lines) + "\n```"


APPROACH_M = 0.05  # stand-off above a grasp before descending, as ManiSkill's solutions do
LIFT_M = 0.10


def cube_and_goal_region(env) -> list[ObjectState]:
    """PushCube and PullCube: the cube, and the flat goal disk it must end inside."""
    side = 2 * float(env.cube_half_size)
    disk = 2 * float(env.goal_radius)
    return [
        actor_state("cube", env.obj, (side, side, side)),
        actor_state("goal_region", env.goal_region, (disk, disk, 0.0), kind="goal"),
    ]
