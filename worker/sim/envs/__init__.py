"""blazer's own ManiSkill tasks (one env per file); ``register()`` imports them, which
registers their ids with ManiSkill (once per process, in the simulator process)."""

from __future__ import annotations

import importlib

ENV_MODULES = ("put_block", "stack_blocks", "rubbish_in_bin", "empty_container", "insert_in_peg",
               "block_in_basket", "block_on_colour", "closest_basket")  # fmt: skip


ENV_TASKS = ("PutBlock-v1", "StackBlocks-v1", "RubbishInBin-v1", "EmptyContainer-v1",
             "InsertInPeg-v1", "BlockInBasket-v1", "BlockOnColour-v1", "ClosestBasket-v1")  # fmt: skip


def register() -> None:
    for name in ENV_MODULES:
        importlib.import_module(f"worker.sim.envs.{name}")
