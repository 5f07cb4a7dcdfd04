"""The web console over 1,000,000 episodes in PostgreSQL: every page's server time (the
``Server-Timing`` header of the real ``blazer ui`` process, warm, p50 and p95 of 20 requests),
and each episode list page beside the same SQL run bare through psycopg, in one run.

    .venv/bin/python benchmarks/bench_ui.py [--rows 1000000]

Goals (issue 30): every page p95 <= 200 ms; an episode list page <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from benchmarks.common import print_table, scratch_postgres  # noqa: E402
from benchmarks.synthetic import CAMPAIGNS, fill_postgres  # noqa: E402

BARE_LIST = (
    "SELECT id, campaign_id, task, robot, seed, attempt, teacher, success, failure_reason, "
    "traj_uri, created_at FROM episodes WHERE {where} ORDER BY id DESC LIMIT 51"
)


def pages(mid_id: int, some_id: int) -> list[tuple[str, str, str | None]]:
    """(label, path, the list page's WHERE run bare or None)."""
    return [
        ("campaigns", "/", None),
        ("campaign (live progress)", "/campaigns/campaign-1", None),
        ("campaign progress block", "/campaigns/campaign-1/progress", None),
        ("workers and queue", "/workers", None),
        ("failures (all)", "/failures", None),
        ("failures (one campaign)", "/failures?campaign=campaign-3", None),
        ("episodes, newest", "/episodes", "true"),
        (
            "episodes, campaign",
            "/episodes?campaign=campaign-3",
            "campaign_id = (SELECT id FROM campaigns WHERE name = 'campaign-3')",
        ),
        (
            "episodes, task + robot",
            "/episodes?task=StackCube-v1&robot=widowxai",
            "task = 'StackCube-v1' AND robot = 'widowxai'",
        ),
        (
            "episodes, teacher",
            "/episodes?teacher=registry:student-v3",
            "teacher = 'registry:student-v3'",
        ),
        (
            "episodes, outcome failure",
            "/episodes?outcome=failure",
            "success = false",
        ),
        (
            "episodes, rare reason (timeout)",
            "/episodes?reason=timeout",
            "success = false AND failure_reason = 'timeout'",
        ),
        (
            "episodes, seed range",
            "/episodes?seed_min=400000&seed_max=400100",
            "seed >= 400000 AND seed <= 400100",
        ),
        (
            "episodes, campaign + reason, older page",
            f"/episodes?campaign=campaign-2&reason=motion_failed&before={mid_id}",
            "campaign_id = (SELECT id FROM campaigns WHERE name = 'campaign-2') AND "
            f"success = false AND failure_reason = 'motion_failed' AND id < {mid_id}",
        ),
        ("episode page", f"/episodes/{some_id}", None),
        ("datasets", "/datasets", None),
        ("models", "/models", None),
    ]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=20)
    args = ap.parse_args()
    with scratch_postgres() as url:
        start = time.perf_counter()
        fill_postgres(url, args.rows)
        fill_s = time.perf_counter() - start
        bare_url = url.replace("+psycopg", "")
        with psycopg.connect(bare_url) as conn:
            mid_id = conn.execute("SELECT max(id) / 2 FROM episodes").fetchone()[0]
            some_id = conn.execute("SELECT max(id) - 7 FROM episodes").fetchone()[0]
        port = free_port()
        env = {**os.environ, "BLAZER_DATABASE_URL": url}
        server = subprocess.Popen(
            [sys.executable, "-m", "blazer.cli", "ui", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(base + "/static/console.css", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            rows = []
            with (
                httpx.Client(base_url=base, timeout=30) as client,
                psycopg.connect(bare_url) as conn,
            ):
                for label, path, where in pages(mid_id, some_id):
                    server_ms = []
                    for i in range(args.requests + 2):
                        got = client.get(path)
                        assert got.status_code == 200, (path, got.status_code, got.text[:300])
                        if i >= 2:  # two warm-up requests
                            timing = got.headers["server-timing"].split("dur=")[1]
                            server_ms.append(float(timing))
                    bare = ""
                    if where is not None:
                        sql = BARE_LIST.format(where=where)
                        bare_ms = []
                        for i in range(args.requests + 2):
                            t0 = time.perf_counter()
                            conn.execute(sql).fetchall()
                            if i >= 2:
                                bare_ms.append(1000 * (time.perf_counter() - t0))
                        bare = f"{pct(bare_ms, 95):.1f}"
                        ratio = f"{pct(server_ms, 95) / max(pct(bare_ms, 95), 0.01):.1f}x"
                    else:
                        ratio = ""
                    goal = 100 if where is not None else 200
                    p95 = pct(server_ms, 95)
                    rows.append(
                        [
                            label,
                            f"{statistics.median(server_ms):.1f}",
                            f"{p95:.1f}",
                            bare,
                            ratio,
                            f"{'ok' if p95 <= goal else 'OVER'} (<= {goal})",
                        ]
                    )
        finally:
            server.terminate()
            server.wait(10)
    print_table(
        f"Console (blazer ui) over {args.rows:,} episodes in PostgreSQL, {CAMPAIGNS} campaigns"
        f" (fill {fill_s:.0f} s)",
        ["page", "server p50 ms", "server p95 ms", "bare SQL p95 ms", "page / bare", "goal"],
        rows,
    )


if __name__ == "__main__":
    main()
