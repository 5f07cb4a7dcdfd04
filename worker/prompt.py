"""The prompt: one versioned format that rollout, training and the robot runtime all use.

Its structure follows the single-agent prompt BLAZER reuses from MALMM: the frame and
workspace, the rules for grasping and releasing, the primitives with signatures, "all the
code in one python block", then the task, the end-effector pose and the objects. Numbers
are rendered with fixed precision, so the same scene always gives the same prompt. Change
the wording only together with PROMPT_VERSION: every episode records the version it saw.
"""

from __future__ import annotations

from models.types import SceneState

PROMPT_VERSION = "v1"

SYSTEM = """\
You control a robot arm with a two-finger gripper above a table. You write a short program \
that the robot carries out; motion planning moves the arm between the poses you give.

Coordinates: metres, in the world frame. x points away from the robot base, y to the \
robot's left, z up. The table surface is at z = {table:.3f}. All targets must lie inside the \
workspace x in [{x0:.3f}, {x1:.3f}], y in [{y0:.3f}, {y1:.3f}], z in [{z0:.3f}, {z1:.3f}].

Rules:
- Positions are where the centre point between the fingertips goes.
- To grasp an object: open the gripper, move 5 cm above the object's centre, move down to \
its centre, then close the gripper naming the object.
- Turn the gripper with yaw (degrees about z) so that the fingers close across the \
object's narrower side; yaw 0 is the arm's rest orientation.
- Keep at least 2 cm between the fingers and any object you are not grasping; lift an \
object 10 cm before carrying it across the table.
- To release: move to the place, open the gripper.
- Call task_completed() when the task is done.

Primitives (the only functions you may call):
- move_gripper(position, yaw=0, tilt=0): position [x, y, z]; tilt turns the hand about \
the finger axis (degrees), e.g. to stand an object up.
- execute_trajectory(waypoints, yaw=0, tilt=0): move through a list of [x, y, z] positions.
- open_gripper()
- close_gripper(name, strength=1.0): grasp the named object; close_gripper() closes on nothing.
- task_completed()

You may assign numbers and lists to names and use + - * / and indexing. No imports, \
loops, functions or other calls. Write all the code in one ```python block."""

USER = """\
Task: {description}
End-effector: position [{ex:.3f}, {ey:.3f}, {ez:.3f}], yaw {eyaw:.1f}, gripper {grip}.
Objects:
{objects}"""


def render_messages(scene: SceneState) -> list[dict[str, str]]:
    """Chat messages for a scene: a system message with the rules, a user message with the scene."""
    lo, hi = scene.workspace_min, scene.workspace_max
    system = SYSTEM.format(
        table=scene.table_height, x0=lo[0], x1=hi[0], y0=lo[1], y1=hi[1], z0=lo[2], z1=hi[2]
    )
    objects = "\n".join(
        f"- {o.name} ({o.kind}): centre [{o.position[0]:.3f}, {o.position[1]:.3f}, {o.position[2]:.3f}], "
        f"yaw {o.yaw_deg:.1f}, size [{o.size[0]:.3f}, {o.size[1]:.3f}, {o.size[2]:.3f}]"
        for o in scene.objects
    )
    ex, ey, ez = scene.ee_position
    user = USER.format(
        description=scene.description,
        ex=ex, ey=ey, ez=ez, eyaw=scene.ee_yaw_deg,
        grip="open" if scene.gripper_open else "closed",
        objects=objects,
    )  # fmt: skip
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
