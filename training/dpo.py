"""Direct preference optimisation from the episode database, the paper's named next step:
on the same (task, robot, seed) scene, a verified success is preferred to a failure.

The reference model is the base with the LoRA switched off (peft's ``disable_adapter``),
so no second copy of the model is held in memory.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from manip.prompt import STUDENT_PROMPT_VERSION as STUDENT_PROMPT
from models.db import session_scope
from models.errors import ConfigError
from models.orm import Dataset
from models.registry import find_model_version
from training.datasets import DatasetSpec, build_dataset, get_dataset, iter_examples
from training.loop import TrainConfig, train
from training.lora import LoraSettings, load_base, with_lora
from training.recipes import recipe
from training.runs import default_run_dir, hyperparameters, tracked_run
from training.sft import IGNORE, collate, tokenize_example

log = logging.getLogger(__name__)
DPO_BETA = 0.1
DPO_LR = 1.5e-4  # a tenth of the CPU SFT rate: DPO starts from the trained student


def preference_pairs(examples: list[dict]) -> list[tuple[dict, dict]]:
    """(chosen, rejected) pairs: every failure of a scene against a success of the same scene."""
    by_scene: dict[tuple, dict[bool, list[dict]]] = defaultdict(lambda: {True: [], False: []})
    for e in examples:
        by_scene[(e["task"], e["robot"], e["seed"])][bool(e["success"])].append(e)
    pairs = []
    for key in sorted(by_scene):
        wins, losses = by_scene[key][True], by_scene[key][False]
        for i, loss in enumerate(losses):
            if wins and loss["completion"] != wins[i % len(wins)]["completion"]:
                pairs.append((wins[i % len(wins)], loss))
    return pairs


def sequence_logprob(model, ids, labels, mask):
    """Sum of log p(token) over the completion tokens of each row."""
    import torch

    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
    targets = labels[:, 1:]
    keep = targets != IGNORE
    logp = (
        torch.log_softmax(logits.float(), dim=-1)
        .gather(-1, targets.clamp(min=0).unsqueeze(-1))
        .squeeze(-1)
    )
    return (logp * keep).sum(-1)


def run_dpo(
    dataset: str,
    base: str,
    config: TrainConfig,
    lora: LoraSettings,
    *,
    name: str | None = None,
    init_adapter: Path | None = None,
    parent: str | None = None,
    out_dir: Path | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> str:
    import torch

    with session_scope() as session:
        ds = get_dataset(session, dataset)
        pairs = preference_pairs(list(iter_examples(session, ds)))
        dataset_id = ds.id
    if not pairs:
        raise ConfigError(
            f"dataset {dataset!r} has no scene with both a success and a failure; build it with "
            "--all-outcomes from campaigns that share seeds (e.g. an expert and an LLM campaign)"
        )
    beta = float(config.extra.get("beta", DPO_BETA))
    hyper = hyperparameters(config, lora)
    version = name or f"{dataset}-dpo"
    out = out_dir or default_run_dir("dpo", version)

    def fit() -> dict:
        tokenizer, net = load_base(base)
        model = with_lora(net, lora, init_adapter)
        tok = [
            (
                tokenize_example(tokenizer, c["messages"], c["completion"], config.max_len),
                tokenize_example(tokenizer, r["messages"], r["completion"], config.max_len),
            )
            for c, r in pairs
        ]
        tok = [p for p in tok if p[0] is not None and p[1] is not None]

        def loss_of(indices: list[int]):
            chosen = collate([tok[i][0] for i in indices], tokenizer.pad_token_id)
            rejected = collate([tok[i][1] for i in indices], tokenizer.pad_token_id)
            with torch.no_grad(), model.disable_adapter():
                ref_c, ref_r = sequence_logprob(model, *chosen), sequence_logprob(model, *rejected)
            pol_c, pol_r = sequence_logprob(model, *chosen), sequence_logprob(model, *rejected)
            margin = beta * ((pol_c - ref_c) - (pol_r - ref_r))
            return -torch.nn.functional.logsigmoid(margin).mean()

        log.info("DPO on %d pairs, beta %.2f", len(tok), beta)
        metrics = train(model, [1.0] * len(tok), loss_of, config, out, progress=progress)
        metrics["pairs"] = len(tok)
        return metrics

    return tracked_run(
        "dpo",
        version=version,
        base=base,
        dataset_id=dataset_id,
        hyper=hyper,
        out=out,
        parent=parent,
        fit=fit,
    )


def dpo_from_student(
    student: str,
    sources: list[str],
    *,
    name: str,
    pairs: str,
    base: str,
    recipe_name: str,
    minutes: float,
    overrides: dict | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> str:
    """SFT+DPO: from ``student``'s adapter, every failure of a scene against a success of the
    same scene in ``sources`` (the teacher's own samples; snapshot ``pairs``), registered as
    ``name``; ``overrides``: recipe fields (e.g. ``max_steps`` in a test). Each part is
    skipped when it exists, so a killed run resumes."""
    with session_scope() as session:
        if session.scalars(select(Dataset).where(Dataset.name == pairs)).one_or_none() is None:
            build_dataset(
                session,
                DatasetSpec(pairs, sources, success_only=False, prompt_version=STUDENT_PROMPT),
            )
    if find_model_version(name) is None:
        fields = {"lr": DPO_LR, "epochs": 1, "warmup_steps": 2, **(overrides or {})}
        config, lora = recipe(recipe_name, max_minutes=minutes, **fields)
        adapter = find_model_version(student).adapter_path
        run_dpo(
            pairs,
            base,
            config,
            lora,
            name=name,
            init_adapter=Path(adapter),
            parent=student,
            progress=progress,
        )
    return name
