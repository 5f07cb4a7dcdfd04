"""llama.cpp in-process teacher: the GGUF model on CPU (2.5 vs 7.7 s per sampled few-shot
episode for the transformers teacher, measured here).

Prompts are rendered with the chat template stored in the GGUF, one request at a time; the
KV cache of the previous prompt is reused up to the first differing token, so samples of
one scene and scenes sharing a few-shot prefix pay only for what is new. Like the
transformers teacher, a completion stops once its first code block is closed.
"""

from __future__ import annotations

import os
import time

from manip.plan_language import first_block_closed
from manip.prompt import PROMPT_VERSION
from manip.teachers.base import Completion, TeacherRequest
from manip.teachers.gguf_adapter import gguf_adapter
from manip.teachers.models import DEFAULT_MODEL, smollm2_gguf
from manip.teachers.naming import teacher_name
from models.errors import ConfigError
from models.registry import find_model_version


class LlamaCppTeacher:
    batched = True

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        max_new_tokens: int = 384,
        temperature: float = 0.0,
        n_ctx: int = 4096,
        threads: int | None = None,
        seed: int = 0,
    ) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        path, lora, prompt_version = _model_files(model)
        self.name = teacher_name("llamacpp", {"model": model})
        self.prompt_version = prompt_version
        threads = threads or len(os.sched_getaffinity(0))
        self.llm = Llama(
            model_path=path,
            lora_path=lora,
            n_ctx=n_ctx,
            n_threads=threads,
            seed=seed,
            verbose=False,
        )
        meta = self.llm.metadata
        eos = self.llm.detokenize([self.llm.token_eos()]).decode(errors="replace")
        self.template = Jinja2ChatFormatter(
            meta["tokenizer.chat_template"], eos_token=eos, bos_token=""
        )
        self.max_new_tokens, self.temperature = max_new_tokens, temperature

    def complete(self, requests: list[TeacherRequest]) -> list[Completion]:
        return [self._one(r) for r in requests]

    def _one(self, request: TeacherRequest) -> Completion:
        prompt = self.template(messages=request.messages).prompt
        ids = self.llm.tokenize(prompt.encode(), add_bos=False, special=True)
        start = time.perf_counter()
        out = self.llm.create_completion(
            ids,
            max_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=1.0,
            top_k=0,
            min_p=0.0,
            repeat_penalty=1.0,
            stopping_criteria=self._block_closed(len(ids)),
        )
        choice, usage = out["choices"][0], out["usage"]
        return Completion(
            choice["text"],
            usage["prompt_tokens"],
            usage["completion_tokens"],
            time.perf_counter() - start,
            choice.get("finish_reason"),
        )

    def _block_closed(self, prompt_len: int):
        from llama_cpp import StoppingCriteriaList

        def closed(input_ids, _logits) -> bool:
            text = self.llm.detokenize(list(input_ids[prompt_len:])).decode(errors="replace")
            return first_block_closed(text)

        return StoppingCriteriaList([closed])

    def close(self) -> None:
        self.llm = None


def _model_files(model: str) -> tuple[str, str | None, str]:
    """(base GGUF, LoRA GGUF or None, prompt version) for a model name: the built-in
    SmolLM2, a registered version of it (its adapter as GGUF, its training prompt), or a
    GGUF file."""
    if model == DEFAULT_MODEL:
        return str(smollm2_gguf()), None, PROMPT_VERSION
    version = find_model_version(model)
    if version is None:
        if not model.endswith(".gguf"):
            raise ConfigError(
                f"llamacpp teacher: {model!r} is neither {DEFAULT_MODEL}, a registered model "
                "version, nor a .gguf file"
            )
        return model, None, PROMPT_VERSION
    if version.base_model != DEFAULT_MODEL or not version.adapter_path:
        raise ConfigError(
            f"llamacpp teacher: model version {version.name} is not a LoRA adapter on "
            f"{DEFAULT_MODEL}; ask it through the hf teacher"
        )
    return str(smollm2_gguf()), str(gguf_adapter(version.adapter_path)), version.prompt_version
