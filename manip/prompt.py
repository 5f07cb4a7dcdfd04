"""The prompt: one versioned format that rollout, training and the robot runtime all use.

``v1`` (the teacher prompt) follows the single-agent structure BLAZER reuses from MALMM:
the frame and workspace, the rules for grasping and releasing, the primitives with
signatures, "all the code in one python block", then the task, the end-effector pose and
the objects. ``v2`` (the student prompt) keeps only what a fine-tuned student still needs
(frame, primitives, the one-block rule) in front of the same scene rendering: the system
text is most of an example's tokens, and a student never reads the rules it was trained on.

``v2fs`` (the few-shot teacher prompt) is v2 with worked examples in front of the scene: for
the same task, ``FEWSHOT_K`` scenes from *validation* seeds (never a training or evaluation
scene) each followed by the expert's verified plan, as earlier chat turns. The examples are
pinned in ``fewshot_examples.json`` (written by ``python -m manip.fewshot``), so the version
names one exact text. Only the teacher sees them: a dataset renders its episodes with v2.

Numbers are rendered with fixed precision (``fmt_m``, ``fmt_deg``), so the same scene
always gives the same prompt, and the expert writes its plans with the same functions, so
every number it takes from the scene is one the prompt shows. Change the wording only
together with a new version: every episode, dataset and model records the version it used.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from models.errors import ConfigError
from models.types import SceneState

PROMPT_VERSION = "v1"  # what a campaign renders unless its spec names another
STUDENT_PROMPT_VERSION = "v2"  # what a dataset for a student renders by default


def fmt_m(value: float) -> str:
    """A length or coordinate as the prompt shows it: metres, 3 decimals."""
    return f"{value:.3f}"


def fmt_deg(value: float) -> str:
    """An angle as the prompt shows it: degrees, 1 decimal."""
    return f"{value:.1f}"


def fmt_point(values: Sequence[float]) -> str:
    return "[" + ", ".join(fmt_m(v) for v in values) + "]"


_V1_SYSTEM = """\
You control a robot arm with a two-finger gripper above a table. You write a short program \
that the robot carries out; motion planning moves the arm between the poses you give.

Coordinates: metres, in the world frame. x points away from the robot base, y to the \
robot's left, z up. The table surface is at z = {table}. All targets must lie inside the \
workspace x in [{x0}, {x1}], y in [{y0}, {y1}], z in [{z0}, {z1}].

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

_V2_SYSTEM = """\
You control a robot arm with a two-finger gripper. Coordinates are metres in the world \
frame (x away from the robot, y to its left, z up); yaw and tilt are degrees. Write one \
```python block that calls only move_gripper(position, yaw=0, tilt=0), open_gripper(), \
close_gripper(name, strength=1.0) and task_completed(); bind numbers and lists to names and \
use + - * /, indexing, cos() and sin()."""

_USER = """\
Task: {description}
End-effector: position {ee}, yaw {eyaw}, gripper {grip}.
Objects:
{objects}"""

SYSTEMS = {"v1": _V1_SYSTEM, "v2": _V2_SYSTEM, "v2fs": _V2_SYSTEM}
PROMPT_VERSIONS = tuple(SYSTEMS)
FEWSHOT_VERSIONS = {"v2fs"}  # versions that put worked examples before the scene
FEWSHOT_K = 2  # worked examples per prompt
FEWSHOT_EXAMPLES = Path(__file__).with_name("fewshot_examples.json")


@cache
def fewshot_examples() -> dict[str, list[dict]]:
    """task -> [{"scene": SceneState json, "completion": expert plan}], from validation seeds."""
    return json.loads(FEWSHOT_EXAMPLES.read_text())


def check_version(version: str) -> str:
    if not isinstance(version, str) or version not in SYSTEMS:
        raise ConfigError(
            f"unknown prompt version {version!r}; known: {', '.join(PROMPT_VERSIONS)}"
        )
    return version


def render_messages(scene: SceneState, version: str = PROMPT_VERSION) -> list[dict[str, str]]:
    """Chat messages for a scene: a system message with the rules, a user message with the
    scene; a few-shot version puts worked (user, assistant) turns between them."""
    messages = [{"role": "system", "content": _system(scene, check_version(version))}]
    if version in FEWSHOT_VERSIONS:
        examples = fewshot_examples().get(scene.task, [])
        if len(examples) < FEWSHOT_K:
            raise ConfigError(
                f"prompt {version}: no worked examples for {scene.task}; "
                "run `python -m manip.fewshot` to write them"
            )
        for ex in examples[:FEWSHOT_K]:
            messages.append({"role": "user", "content": _user(SceneState.from_json(ex["scene"]))})
            messages.append({"role": "assistant", "content": ex["completion"]})
    messages.append({"role": "user", "content": _user(scene)})
    return messages


def _system(scene: SceneState, version: str) -> str:
    lo, hi = scene.workspace_min, scene.workspace_max
    return SYSTEMS[version].format(
        table=fmt_m(scene.table_height),
        x0=fmt_m(lo[0]),
        x1=fmt_m(hi[0]),
        y0=fmt_m(lo[1]),
        y1=fmt_m(hi[1]),
        z0=fmt_m(lo[2]),
        z1=fmt_m(hi[2]),
    )


def _user(scene: SceneState) -> str:
    objects = "\n".join(
        f"- {o.name} ({o.kind}): centre {fmt_point(o.position)}, yaw {fmt_deg(o.yaw_deg)}, "
        f"size {fmt_point(o.size)}"
        for o in scene.objects
    )
    return _USER.format(
        description=scene.description,
        ee=fmt_point(scene.ee_position),
        eyaw=fmt_deg(scene.ee_yaw_deg),
        grip="open" if scene.gripper_open else "closed",
        objects=objects,
    )
