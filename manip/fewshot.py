"""Write the few-shot prompt's worked examples (``worker/fewshot_examples.json``).

For each task, the first ``FEWSHOT_K`` validation seeds whose expert plan the simulator
verifies: the scene and the plan, stored once, so the ``v2fs`` prompt is one fixed text.
Validation seeds keep the examples out of every training and evaluation scene.

    python -m manip.fewshot            # all tasks, rewrite the file
"""

from __future__ import annotations

import json
import sys

from manip.plan_language import parse_plan
from manip.prompt import FEWSHOT_EXAMPLES, FEWSHOT_K
from manip.sim import make_simulator
from manip.sim.base import Simulator
from manip.sim.tasks import TASKS, get_task
from models.types import SeedSplit

MAX_TRIES = 20  # validation seeds tried per task before giving up


def build_examples(
    simulator: Simulator, tasks: list[str], k: int = FEWSHOT_K, robot: str = "panda"
) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for task in tasks:
        found: list[dict] = []
        for seed in range(SeedSplit.VAL.offset, SeedSplit.VAL.offset + MAX_TRIES):
            scene = simulator.reset(task, robot, seed)
            plan = get_task(task).expert_plan(scene)
            if simulator.execute(parse_plan(plan)).success:
                found.append({"scene": scene.to_json(), "completion": plan})
            if len(found) == k:
                break
        if len(found) < k:
            raise RuntimeError(f"{task}: only {len(found)} of {MAX_TRIES} expert plans verified")
        out[task] = found
    return out


def main(argv: list[str]) -> int:
    tasks = argv or list(TASKS)
    simulator = make_simulator("maniskill")
    try:
        examples = build_examples(simulator, tasks)
    finally:
        simulator.close()
    FEWSHOT_EXAMPLES.write_text(json.dumps(examples, indent=1, sort_keys=True) + "\n")
    print(f"wrote {FEWSHOT_EXAMPLES} ({', '.join(f'{t}: {len(v)}' for t, v in examples.items())})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
