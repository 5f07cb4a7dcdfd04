"""vLLM in-process teacher for GPU workers: one batched ``LLM.chat`` call per seed block,
LoRA adapters through vLLM's LoRA support. Needs the ``gpu`` extra and a CUDA GPU.

UNTESTED on the CPU machines this project is built on (vLLM does not install there); written
against vLLM's documented API (``vllm.LLM``, ``SamplingParams``, ``LoRARequest``).
"""

from __future__ import annotations

import time

from manip.prompt import PROMPT_VERSION
from manip.teachers.base import Completion, TeacherRequest
from manip.teachers.models import resolve_model
from manip.teachers.naming import teacher_name
from models.errors import ConfigError


class VLLMTeacher:
    batched = True

    def __init__(
        self,
        model: str,
        adapter: str | None = None,
        max_new_tokens: int = 384,
        temperature: float = 0.0,
        gpu_memory_utilization: float = 0.85,
        max_lora_rank: int = 64,
    ) -> None:
        try:
            from vllm import LLM, SamplingParams
            from vllm.lora.request import LoRARequest
        except ImportError:
            raise ConfigError(
                "the vllm teacher needs `pip install blazer[gpu]` on a CUDA machine"
            ) from None
        resolved = resolve_model(model, adapter)
        self.name = teacher_name("vllm", {"model": model, "adapter": adapter})
        self.prompt_version = resolved.prompt_version or PROMPT_VERSION
        self.llm = LLM(
            model=resolved.base,
            enable_lora=resolved.adapter is not None,
            max_lora_rank=max_lora_rank,
            gpu_memory_utilization=gpu_memory_utilization,
        )
        self.sampling = SamplingParams(max_tokens=max_new_tokens, temperature=temperature)
        self.lora = LoRARequest("adapter", 1, resolved.adapter) if resolved.adapter else None

    def complete(self, requests: list[TeacherRequest]) -> list[Completion]:
        start = time.perf_counter()
        outputs = self.llm.chat(
            [r.messages for r in requests], self.sampling, lora_request=self.lora, use_tqdm=False
        )
        latency = time.perf_counter() - start
        return [
            Completion(
                o.outputs[0].text,
                len(o.prompt_token_ids),
                len(o.outputs[0].token_ids),
                latency,
                o.outputs[0].finish_reason,
            )
            for o in outputs
        ]

    def close(self) -> None:
        self.llm = None
