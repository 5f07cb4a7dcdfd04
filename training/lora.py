"""Model and adapter set-up for fine-tuning: base model, tokenizer, a fresh or resumed LoRA."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class LoraSettings:
    r: int = 64  # BLAZER: rank 64
    alpha: int = 16  # BLAZER: alpha 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")


def load_base(model: str, device: str = "cpu"):
    """Tokenizer and base model for a name (alias, folder or hub id), fp32 on CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from manip.teachers.models import resolve_model

    path = resolve_model(model).base
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    net = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
    return tokenizer, net


def with_lora(net, lora: LoraSettings, adapter: Path | None = None):
    """Wrap ``net`` in a trainable LoRA: a new one, or the adapter saved at ``adapter``."""
    from peft import LoraConfig, PeftModel, get_peft_model

    if adapter is not None:
        return PeftModel.from_pretrained(net, str(adapter), is_trainable=True)
    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(net, config)
