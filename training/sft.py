"""Supervised fine-tuning with LoRA on a dataset snapshot: loss on completion tokens only.

Our own loop (training/loop.py) rather than TRL's SFTTrainer: it is ~150 lines, has no
CPU-specific flags to get wrong, and gives checkpoint/resume and the registry record in one
place; TRL works too (the notes measured it) but adds a dependency for no new capability.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from models.db import session_scope
from models.errors import ConfigError
from training.datasets import get_dataset, iter_examples
from training.loop import TrainConfig, latest_checkpoint, train
from training.lora import LoraSettings, load_base, with_lora
from training.runs import default_run_dir, hyperparameters, tracked_run

log = logging.getLogger(__name__)
IGNORE = -100


@dataclass
class Tokenized:
    input_ids: list[int]
    labels: list[int]


def tokenize_example(
    tokenizer, messages: list[dict], completion: str, max_len: int
) -> Tokenized | None:
    """Prompt tokens are masked out of the loss; None if the prompt alone is too long."""
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    prompt = _ids(prompt)
    full = _ids(
        tokenizer.apply_chat_template(
            messages + [{"role": "assistant", "content": completion}], tokenize=True
        )
    )
    if full[: len(prompt)] != prompt or len(prompt) >= max_len:
        return None
    full = full[:max_len]
    return Tokenized(full, [IGNORE] * len(prompt) + full[len(prompt) :])


def _ids(encoded) -> list[int]:
    return list(
        encoded["input_ids"] if isinstance(encoded, dict) or hasattr(encoded, "keys") else encoded
    )


def collate(items: list[Tokenized], pad_id: int):
    import torch

    width = max(len(t.input_ids) for t in items)
    ids = torch.full((len(items), width), pad_id)
    labels = torch.full((len(items), width), IGNORE)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for i, t in enumerate(items):
        ids[i, : len(t.input_ids)] = torch.tensor(t.input_ids)
        labels[i, : len(t.labels)] = torch.tensor(t.labels)
        mask[i, : len(t.input_ids)] = 1
    return ids, labels, mask


def run_sft(
    dataset: str,
    base: str,
    config: TrainConfig,
    lora: LoraSettings,
    *,
    name: str | None = None,
    parent: str | None = None,
    lineage: str | None = None,
    out_dir: Path | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> str:
    """Fine-tune ``base`` on ``dataset``; register and return the new model version's name."""
    with session_scope() as session:
        ds = get_dataset(session, dataset)
        examples = list(iter_examples(session, ds))
        dataset_id = ds.id
    hyper = hyperparameters(config, lora)
    version = name or f"{dataset}-sft"
    out = out_dir or default_run_dir("sft", version)

    def fit() -> dict:
        tokenizer, net = load_base(base)
        resumed = latest_checkpoint(out)
        model = with_lora(net, lora)
        items = [
            tokenize_example(tokenizer, e["messages"], e["completion"], config.max_len)
            for e in examples
        ]
        kept = [(t, e["weight"]) for t, e in zip(items, examples, strict=True) if t is not None]
        if not kept:
            raise ConfigError(f"no example of {dataset!r} fits in max_len={config.max_len} tokens")
        if len(kept) < len(items):
            log.warning(
                "%d example(s) longer than %d tokens left out",
                len(items) - len(kept),
                config.max_len,
            )
        data = [t for t, _ in kept]

        def loss_of(indices: list[int]):
            ids, labels, mask = collate([data[i] for i in indices], tokenizer.pad_token_id)
            return model(input_ids=ids, attention_mask=mask, labels=labels).loss

        log.info("SFT on %d examples (resume: %s)", len(data), resumed)
        metrics = train(model, [w for _, w in kept], loss_of, config, out, progress=progress)
        metrics["examples"] = len(data)
        return metrics

    return tracked_run(
        "sft",
        version=version,
        base=base,
        dataset_id=dataset_id,
        hyper=hyper,
        out=out,
        parent=parent,
        lineage=lineage,
        fit=fit,
    )
