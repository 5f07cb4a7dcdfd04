"""Helpers the task modules share: reading actor poses, writing copy-form expert plans.

An expert plan is written in *copy-then-arithmetic* form: every number taken from the scene
is bound to a name once, exactly as the prompt renders it (``manip.prompt.fmt_*``), and the
rest of the plan combines those names with fixed constants (offsets, heights, tilts). A
student model then only has to copy digits it can see, never do arithmetic on them.
"""

from __future__ import annotations

from manip.prompt import fmt_deg, fmt_point
from models.frames import yaw_of_quat
from models.types import ObjectState


def wrap_deg(angle: float, period: float) -> float:
    """Map an angle into [-period/2, period/2): a symmetric object's one canonical yaw."""
    return (angle + period / 2) % period - period / 2


def actor_state(
    name: str, actor, size, kind: str = "object", symmetry_deg: float = 360.0
) -> ObjectState:
    """An actor's pose as scene state. ``symmetry_deg`` is the turn that maps the object onto
    itself (90 for a cube, 180 for a peg): its yaw is reported in [-sym/2, sym/2), so a scene
    has one canonical yaw, and the expert's grasp yaw is the prompt's number as it stands."""
    p = actor.pose.p[0].tolist()
    q = actor.pose.q[0].tolist()
    return ObjectState(
        name=name,
        position=(round(p[0], 4), round(p[1], 4), round(p[2], 4)),
        yaw_deg=round(wrap_deg(yaw_of_quat(q), symmetry_deg), 2),
        size=(round(float(size[0]), 4), round(float(size[1]), 4), round(float(size[2]), 4)),
        kind=kind,
    )


def bind_point(name: str, obj: ObjectState) -> str:
    """``name = [x, y, z]`` with the object's centre as the prompt shows it."""
    return f"{name} = {fmt_point(obj.position)}"


def bind_yaw(name: str, obj: ObjectState) -> str:
    return f"{name} = {fmt_deg(obj.yaw_deg)}"


def offset(name: str, dx: float = 0.0, dy: float = 0.0, dz: float = 0.0) -> str:
    """``[name[0] + dx, name[1] + dy, name[2] + dz]``, or ``name`` when there is no offset."""
    if dx == dy == dz == 0:
        return name
    parts = []
    for i, d in enumerate((dx, dy, dz)):
        if d == 0:
            parts.append(f"{name}[{i}]")
        else:
            parts.append(f"{name}[{i}] {'+' if d > 0 else '-'} {const(abs(d))}")
    return "[" + ", ".join(parts) + "]"


def const(value: float) -> str:
    """A fixed constant of a plan (metres or degrees), shortest exact form."""
    return f"{value:.3f}".rstrip("0").rstrip(".") if value != 0 else "0"


def hand(yaw: str, tilt: float = 0.0) -> str:
    """A move's orientation arguments: ``yaw=...`` and, when tilted, ``tilt=...``."""
    return f"yaw={yaw}, tilt={const(tilt)}" if tilt else f"yaw={yaw}"


def code_block(lines: list[str]) -> str:
    return "```python\n" + "\n".join(lines) + "\n```"


APPROACH_M = 0.05  # stand-off above a grasp before descending, as ManiSkill's solutions do
LIFT_M = 0.10


def cube_and_goal_region(env) -> list[ObjectState]:
    """PushCube and PullCube: the cube, and the flat goal disk it must end inside."""
    side = 2 * float(env.cube_half_size)
    disk = 2 * float(env.goal_radius)
    return [
        actor_state("cube", env.obj, (side, side, side), symmetry_deg=90),
        actor_state("goal_region", env.goal_region, (disk, disk, 0.0), kind="goal"),
    ]


def listed_objects(env) -> list[ObjectState]:
    """A blazer task's present objects (``manip.sim.envs``), in the order it placed them."""
    return [actor_state(o.name, o.actor, o.size, o.kind, o.symmetry_deg) for o in env.listing]


def pick(var: str, name: str, yaw: str, lift: float = LIFT_M) -> list[str]:
    """Approach from above, descend, grasp ``name``, lift: ``var`` holds its centre."""
    return [
        f"move_gripper({offset(var, dz=APPROACH_M)}, yaw={yaw})",
        f"move_gripper({var}, yaw={yaw})",
        f'close_gripper("{name}")',
        f"move_gripper({offset(var, dz=lift)}, yaw={yaw})",
    ]


def place(
    var: str,
    yaw: str,
    dz: float,
    dx: float = 0.0,
    dy: float = 0.0,
    above: float = LIFT_M,
    retreat: bool = False,
) -> list[str]:
    """Carry to ``above`` over the spot ``var + (dx, dy, dz)``, descend, let go (and rise
    again when another pick follows, so the hand does not sweep what it just placed)."""
    over = f"move_gripper({offset(var, dx, dy, dz + above)}, yaw={yaw})"
    lines = [over, f"move_gripper({offset(var, dx, dy, dz)}, yaw={yaw})", "open_gripper()"]
    return lines + [over] if retreat else lines
