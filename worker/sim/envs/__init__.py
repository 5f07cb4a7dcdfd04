"""blazer's own ManiSkill tasks (one env per file); ``register()`` imports them, which
registers their ids with ManiSkill (once per process, in the simulator process)."""

from __future__ import annotations

import importlib

# task id -> its module here (each module's @register_env uses the same id)
ENVS = {
    "PutBlock-v1": "put_block",
    "StackBlocks-v1": "stack_blocks",
    "RubbishInBin-v1": "rubbish_in_bin",
    "EmptyContainer-v1": "empty_container",
    "InsertInPeg-v1": "insert_in_peg",
    "BlockInBasket-v1": "block_in_basket",
    "BlockOnColour-v1": "block_on_colour",
    "ClosestBasket-v1": "closest_basket",
}
ENV_TASKS = tuple(ENVS)


def register() -> None:
    for module in ENVS.values():
        importlib.import_module(f"worker.sim.envs.{module}")
