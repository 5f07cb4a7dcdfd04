"""transformers teacher: batched greedy or sampled generation on CPU or GPU, optionally with a
LoRA adapter (so a trained student can be the next campaign's teacher).

A row stops once its first code block is closed: the plan parser reads only that block, and
a model that keeps talking after it would otherwise spend the whole token limit."""

from __future__ import annotations

import time

from manip.plan_language import first_block_closed
from manip.prompt import PROMPT_VERSION
from manip.teachers.base import Completion, TeacherRequest
from manip.teachers.models import DEFAULT_MODEL, resolve_model
from manip.teachers.naming import teacher_name


class HFTeacher:
    batched = True

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        adapter: str | None = None,
        max_new_tokens: int = 384,
        batch_size: int = 8,
        temperature: float = 0.0,
        device: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        resolved = resolve_model(model, adapter)
        self.name = teacher_name("hf", {"model": model, "adapter": adapter})
        self.prompt_version = resolved.prompt_version or PROMPT_VERSION
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(resolved.base)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        net = AutoModelForCausalLM.from_pretrained(resolved.base, dtype=dtype)
        if resolved.adapter:
            from peft import PeftModel

            net = PeftModel.from_pretrained(net, resolved.adapter)
        self.model = net.to(self.device).eval()
        self.max_new_tokens, self.batch_size, self.temperature = (
            max_new_tokens,
            batch_size,
            temperature,
        )

    def complete(self, requests: list[TeacherRequest]) -> list[Completion]:
        out: list[Completion] = []
        for i in range(0, len(requests), self.batch_size):
            out.extend(self._batch(requests[i : i + self.batch_size]))
        return out

    def _batch(self, requests: list[TeacherRequest]) -> list[Completion]:
        import torch

        texts = [
            self.tokenizer.apply_chat_template(
                r.messages, add_generation_prompt=True, tokenize=False
            )
            for r in requests
        ]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.device
        )
        start = time.perf_counter()
        prompt_len = enc["input_ids"].shape[1]
        with torch.inference_mode():
            gen = self.model.generate(
                **enc,
                stopping_criteria=[BlockClosed(self.tokenizer, prompt_len)],
                max_new_tokens=self.max_new_tokens,
                do_sample=self.temperature > 0,
                temperature=self.temperature if self.temperature > 0 else None,
                top_p=None,
                top_k=None,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        latency = time.perf_counter() - start
        results = []
        for row, mask in zip(gen, enc["attention_mask"], strict=True):
            new = row[prompt_len:]
            n_new = int((new != self.tokenizer.pad_token_id).sum())
            finish = "length" if n_new >= self.max_new_tokens else "stop"
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            results.append(Completion(text, int(mask.sum()), n_new, latency, finish))
        return results

    def close(self) -> None:
        self.model = None


class BlockClosed:
    """A transformers stopping criterion: per row, true once the generated text's first code
    block is closed."""

    def __init__(self, tokenizer, prompt_len: int) -> None:
        self.tokenizer, self.prompt_len = tokenizer, prompt_len

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        texts = self.tokenizer.batch_decode(
            input_ids[:, self.prompt_len :], skip_special_tokens=True
        )
        return torch.tensor([first_block_closed(t) for t in texts], device=input_ids.device)
