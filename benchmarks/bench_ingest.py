"""Ingest: 200,000 synthetic episodes through ``record_episodes`` into PostgreSQL, against a
bare psycopg COPY of the same rows in the same run.

    .venv/bin/python benchmarks/bench_ingest.py [--rows 200000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402

from benchmarks.common import Timer, print_table, scratch_postgres  # noqa: E402
from benchmarks.synthetic import TASKS, episodes  # noqa: E402
from models.db import session_scope  # noqa: E402
from models.orm import Campaign, CampaignTask  # noqa: E402
from models.recording import record_episodes  # noqa: E402

COLUMNS = ["campaign_id", "task", "robot", "seed", "attempt", "teacher", "success", "failure_reason",
           "failure_detail", "prompt_version", "completion", "plan", "scene", "prompt_tokens",
           "completion_tokens", "timings", "worker", "created_at"]  # fmt: skip


def make_campaign(name: str) -> int:
    with session_scope() as s:
        c = Campaign(name=name, teacher_kind="expert", teacher="expert", teacher_config={}, spec={})
        s.add(c)
        s.flush()
        for t in TASKS:
            s.add(
                CampaignTask(
                    campaign_id=c.id,
                    task=t,
                    robot="panda",
                    target_successes=10**9,
                    attempt_cap=10**9,
                    next_seed=0,
                )
            )
        return c.id


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000)
    args = ap.parse_args()
    with scratch_postgres() as url:
        ours_id, copy_id = make_campaign("ours"), make_campaign("copy")
        recs = episodes(ours_id, args.rows)
        with Timer() as ours:
            for i in range(0, len(recs), args.batch):
                with session_scope() as s:
                    record_episodes(s, recs[i : i + args.batch])
        with Timer() as again:  # idempotency cost: the same rows a second time store nothing
            for i in range(0, len(recs), args.batch):
                with session_scope() as s:
                    assert record_episodes(s, recs[i : i + args.batch]).inserted == 0
        raw = url.replace("postgresql+psycopg://", "postgresql://")
        with Timer() as copy, psycopg.connect(raw) as conn, conn.cursor() as cur:
            with cur.copy(f"COPY episodes ({', '.join(COLUMNS)}) FROM STDIN") as cp:
                for r in episodes(copy_id, args.rows):
                    cp.write_row([copy_id, r.task, r.robot, r.seed, r.attempt, r.teacher, r.success,
                                  r.failure_reason.value if r.failure_reason else None, r.failure_detail,
                                  r.prompt_version, r.completion, json.dumps(r.plan), json.dumps(r.scene),
                                  r.prompt_tokens, r.completion_tokens, json.dumps(r.timings), r.worker, "now()"])  # fmt: skip
            conn.commit()
    rows = [
        ["record_episodes (idempotent, counters + stats)", args.rows, f"{ours.seconds:.1f}", f"{args.rows / ours.seconds:,.0f}", f"{copy.seconds / ours.seconds:.2f}x"],
        ["record_episodes again (all duplicates)", args.rows, f"{again.seconds:.1f}", f"{args.rows / again.seconds:,.0f}", ""],
        ["bare psycopg COPY", args.rows, f"{copy.seconds:.1f}", f"{args.rows / copy.seconds:,.0f}", "1.00x"],
    ]  # fmt: skip
    print_table("Ingest into PostgreSQL", ["path", "rows", "seconds", "rows/s", "vs COPY"], rows)


if __name__ == "__main__":
    main()
