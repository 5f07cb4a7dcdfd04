"""A peft LoRA adapter as a llama.cpp GGUF adapter, so a trained student samples through
llama.cpp (the Q4_1 base it was trained from + this file) instead of transformers.

Why not llama.cpp's ``convert_lora_to_gguf.py``: it ships only in llama.cpp's source tree,
not in any wheel, and imports that tree's ``convert_hf_to_gguf``. What it does for a Llama
model is small and written here with the ``gguf`` package: tensor names mapped to GGUF's,
``lora_a`` (r x in) and ``lora_b`` (out x r) kept as they are, and the rows of the q and k
projections' ``lora_b`` permuted the way the converter permutes q and k weights for
llama.cpp's rotary layout (so ``B @ A`` lands on the permuted weight). llama.cpp scales the
product by ``alpha / r``, as peft does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from models.errors import ConfigError

ADAPTER_GGUF = "adapter.gguf"  # beside peft's files in the adapter folder
# peft module path -> GGUF tensor name (llama architecture)
_MODULES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_KEY = re.compile(r"layers\.(\d+)\.(\w+\.\w+)\.lora_([AB])\.weight$")


def _permute(rows: np.ndarray, n_head: int) -> np.ndarray:
    """The q/k row order llama.cpp's converter writes (rotary halves interleaved per head)."""
    return (
        rows.reshape(n_head, 2, rows.shape[0] // n_head // 2, *rows.shape[1:])
        .swapaxes(1, 2)
        .reshape(rows.shape)
    )


def export_gguf_adapter(adapter_dir: Path, base_config: dict, out: Path | None = None) -> Path:
    """Write ``adapter_dir/adapter.gguf`` (atomically) from peft's adapter files.

    ``base_config``: the base model's ``config.json`` (head counts for the q/k permutation).
    """
    import gguf
    from safetensors.numpy import load_file

    adapter_dir = Path(adapter_dir)
    cfg = json.loads((adapter_dir / "adapter_config.json").read_text())
    if cfg.get("use_rslora") or cfg.get("use_dora"):
        raise ConfigError("a GGUF adapter needs plain LoRA (no rsLoRA or DoRA scaling)")
    n_head = int(base_config["num_attention_heads"])
    n_kv = int(base_config.get("num_key_value_heads") or n_head)
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    out = Path(out or adapter_dir / ADAPTER_GGUF)
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch="llama")
    writer.add_type("adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(cfg["lora_alpha"]))
    written = 0
    for key in sorted(tensors):
        match = _KEY.search(key)
        if match is None or match.group(2) not in _MODULES:
            raise ConfigError(f"cannot map adapter tensor {key} to llama.cpp")
        layer, module, which = match.groups()
        array = tensors[key].astype(np.float32)
        if which == "B" and module == "self_attn.q_proj":
            array = _permute(array, n_head)
        elif which == "B" and module == "self_attn.k_proj":
            array = _permute(array, n_kv)
        writer.add_tensor(f"blk.{layer}.{_MODULES[module]}.weight.lora_{which.lower()}", array)
        written += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    if written == 0:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"{adapter_dir} holds no LoRA tensors")
    tmp.replace(out)
    return out


def gguf_adapter(adapter_dir: str | Path) -> Path:
    """The adapter's GGUF file, written once from peft's files if it is not there yet."""
    adapter_dir = Path(adapter_dir)
    out = adapter_dir / ADAPTER_GGUF
    if not out.exists():
        from manip.teachers.models import smollm2_folder

        base_config = json.loads((smollm2_folder() / "config.json").read_text())
        export_gguf_adapter(adapter_dir, base_config, out)
    return out
