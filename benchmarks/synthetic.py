"""Synthetic episodes shaped like real ones (scene, plan and completion of realistic size)."""

from __future__ import annotations

import random

from manip.sim.tasks import TASKS as TASK_MODULES  # noqa: E402
from models.types import EpisodeRecord, FailureReason

TASKS = list(TASK_MODULES)
REASONS = [r for r in FailureReason]
COMPLETION = (
    "```python\n"
    + "move_gripper([0.0123, -0.0456, 0.07], yaw=12.5)\n" * 5
    + "task_completed()\n```"
)


def scene(seed: int) -> dict:
    rng = random.Random(seed)

    def obj(n):
        return {
            "name": n,
            "position": [rng.random(), rng.random(), 0.02],
            "yaw_deg": rng.random() * 90,
            "size": [0.04, 0.04, 0.04],
            "kind": "object",
        }

    return {
        "task": "PickCube-v1",
        "robot": "panda",
        "seed": seed,
        "description": "Pick up the cube.",
        "objects": [obj("cube"), obj("goal")],
        "ee_position": [0.0, 0.0, 0.18],
        "ee_yaw_deg": 0.0,
        "gripper_open": True,
        "workspace_min": [-0.6, -0.8, 0.0],
        "workspace_max": [0.2, 0.8, 0.6],
        "table_height": 0.0,
    }


PLAN = [
    {"op": "move", "position": [0.01, 0.02, 0.07], "yaw_deg": 12.5, "tilt_deg": 0.0, "line": i}
    for i in range(5)
]


def episodes(
    campaign_id: int, n: int, task_of=lambda i: TASKS[i % len(TASKS)], start: int = 0
) -> list[EpisodeRecord]:
    out = []
    for i in range(start, start + n):
        ok = i % 3 != 0
        out.append(
            EpisodeRecord(
                campaign_id=campaign_id,
                task=task_of(i),
                robot="panda",
                seed=i,
                attempt=0,
                teacher="expert",
                success=ok,
                failure_reason=None if ok else REASONS[i % len(REASONS)],
                failure_detail=None if ok else "line 3: stopped 3.1 cm from the target",
                prompt_version="v1",
                completion=COMPLETION,
                plan=PLAN,
                scene=scene(i),
                prompt_tokens=657,
                completion_tokens=140,
                timings={
                    "reset_s": 0.004,
                    "teacher_s": 0.0001,
                    "parse_s": 0.0003,
                    "motion_s": 0.41,
                },
                worker="bench",
            )
        )
    return out
