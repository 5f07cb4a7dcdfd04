"""The openai teacher's client against llama.cpp's server (SmolLM2-135M) at concurrency
1, 8 and 32, against a bare httpx loop sending the same requests, in the same run.

    .venv/bin/python benchmarks/bench_teacher_http.py [--requests 32] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.common import print_table  # noqa: E402
from manip.teachers.base import TeacherRequest  # noqa: E402
from manip.teachers.openai_http import OpenAITeacher  # noqa: E402
from tests.openai_servers import LlamaServer  # noqa: E402

MESSAGES = json.loads((ROOT / "tests" / "golden" / "prompt_v1_PickCube-v1_seed0.json").read_text())


async def bare(url: str, n: int, concurrency: int, max_tokens: int) -> int:
    sem = asyncio.Semaphore(concurrency)
    body = {
        "model": "smollm2-135m",
        "messages": MESSAGES,
        "max_tokens": max_tokens,
        "temperature": 0.0,
    }
    async with httpx.AsyncClient(timeout=600) as client:

        async def one() -> int:
            async with sem:
                r = await client.post(url + "/chat/completions", json=body)
                return r.json()["usage"]["completion_tokens"]

        return sum(await asyncio.gather(*(one() for _ in range(n))))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=32)
    args = ap.parse_args()
    server = LlamaServer(n_ctx=2048)
    rows = []
    try:
        asyncio.run(bare(server.url, 2, 1, 4))  # warm-up
        for conc in (1, 8, 32):
            teacher = OpenAITeacher(
                model="smollm2-135m",
                base_url=server.url,
                concurrency=conc,
                max_new_tokens=args.max_tokens,
                timeout_s=600,
            )
            start = time.perf_counter()
            out = teacher.complete([TeacherRequest(None, MESSAGES) for _ in range(args.requests)])
            ours_s = time.perf_counter() - start
            assert all(c.error is None for c in out), [c.error for c in out if c.error][:2]
            ours_tok = sum(c.completion_tokens for c in out)
            start = time.perf_counter()
            bare_tok = asyncio.run(bare(server.url, args.requests, conc, args.max_tokens))
            bare_s = time.perf_counter() - start
            rows.append(
                [
                    conc,
                    f"{args.requests / ours_s:.2f}",
                    f"{ours_tok / ours_s:.1f}",
                    f"{args.requests / bare_s:.2f}",
                    f"{bare_tok / bare_s:.1f}",
                    f"{bare_s / ours_s:.2f}x",
                ]
            )
            print(rows[-1], flush=True)
    finally:
        server.stop()
    print_table(
        "Teacher HTTP client vs bare httpx (llama.cpp server, SmolLM2-135M)",
        ["concurrency", "ours req/s", "ours tok/s", "httpx req/s", "httpx tok/s", "ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
