"""OpenAI-compatible HTTP teacher: ``vllm serve``, llama.cpp's server, or a hosted API.

One async client per call of ``complete``: up to ``concurrency`` requests in flight for a
seed block, a timeout per request, and bounded retries with exponential backoff on 429,
5xx and connection errors. Other errors fail that one episode as ``teacher_error``.
"""

from __future__ import annotations

import asyncio
import os
import random
import time

import httpx

from manip.prompt import PROMPT_VERSION
from manip.teachers.base import Completion, TeacherRequest
from manip.teachers.naming import teacher_name
from models.errors import ConfigError
from models.settings import get_settings

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAITeacher:
    batched = True

    def __init__(
        self,
        model: str = "smollm2-135m",
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout_s: float = 120.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_new_tokens: int = 384,
        temperature: float = 0.0,
    ) -> None:
        settings = get_settings()
        base_url = base_url or settings.openai_base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ConfigError("the openai teacher needs a base_url (e.g. http://127.0.0.1:8000/v1)")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.name = teacher_name("openai", {"model": model})
        self.prompt_version = PROMPT_VERSION
        key = api_key or settings.openai_api_key or os.environ.get("OPENAI_API_KEY")
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.concurrency, self.timeout_s = concurrency, timeout_s
        self.max_retries, self.backoff_s = max_retries, backoff_s
        self.max_new_tokens, self.temperature = max_new_tokens, temperature

    def complete(self, requests: list[TeacherRequest]) -> list[Completion]:
        return asyncio.run(self._all(requests))

    async def _all(self, requests: list[TeacherRequest]) -> list[Completion]:
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        sem = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(
            timeout=self.timeout_s, limits=limits, headers=self.headers
        ) as client:
            return list(await asyncio.gather(*(self._one(client, sem, r) for r in requests)))

    async def _one(
        self, client: httpx.AsyncClient, sem: asyncio.Semaphore, req: TeacherRequest
    ) -> Completion:
        body = {
            "model": self.model,
            "messages": req.messages,
            "max_tokens": self.max_new_tokens,
            "temperature": self.temperature,
        }
        start = time.perf_counter()
        error = "no attempt"
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1) * (1 + random.random() / 2))
            async with sem:
                try:
                    resp = await client.post(self.url, json=body)
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    error = f"{exc.__class__.__name__}: {exc}".strip(": ")
                    continue
            if resp.status_code in RETRY_STATUS:
                error = f"HTTP {resp.status_code}: {resp.text[:200]}"
                continue
            if resp.status_code != 200:
                return Completion(
                    None,
                    latency_s=time.perf_counter() - start,
                    error=f"HTTP {resp.status_code}: {resp.text[:300]}",
                )
            return _parse(resp, time.perf_counter() - start)
        return Completion(
            None,
            latency_s=time.perf_counter() - start,
            error=f"gave up after {self.max_retries + 1} tries: {error}",
        )

    def close(self) -> None:
        pass


def _parse(resp: httpx.Response, latency_s: float) -> Completion:
    try:
        data = resp.json()
        choice = data["choices"][0]
        content = choice["message"]["content"]
        if not isinstance(content, str):  # a list of parts, a number, null: not a completion
            return Completion(
                None,
                latency_s=latency_s,
                error=f"malformed response: message content is {type(content).__name__}, "
                f"not text: {resp.text[:200]}",
            )
        usage = data.get("usage") or {}
        finish = choice.get("finish_reason")
        return Completion(
            content,
            _count(usage.get("prompt_tokens")),
            _count(usage.get("completion_tokens")),
            latency_s,
            finish[:32] if isinstance(finish, str) else None,
        )
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return Completion(
            None,
            latency_s=latency_s,
            error=f"malformed response ({exc.__class__.__name__}): {resp.text[:200]}",
        )


def _count(value: object) -> int | None:
    """A token count as a server should send it (a non-negative int that fits the column), or
    None: a string, a float, a bool or a huge number is not recorded as one."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
        return value
    return None
