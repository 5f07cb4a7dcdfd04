"""Ingest: synthetic episodes through ``record_episodes`` into PostgreSQL, against a bare
psycopg COPY of the same prepared records, in the same run.

Both sides start from the same list of ``EpisodeRecord``s built before any clock starts;
each timer covers only turning them into rows and sending them (the bare side serialises
with the same orjson and writes one COPY stream per batch, straight into ``episodes``:
no duplicate check, no counters, no stats). Measured on a fresh database:

1. growth: ``--rows`` (200k) recorded in batches of ``--batch``, rows/s over the first 50k
   and over all of them, and the last-50k / first-50k time ratio (the server runs without
   autovacuum; blazer's own upkeep keeps the statistics);
2. the same batches again (all duplicates: the idempotency cost);
3. ``--big`` (1M) rows already in the table (made server-side, then analyzed, as the
   recorder's upkeep would have left a table it grew), then 50k more through each side.

    .venv/bin/python benchmarks/bench_ingest.py [--rows 200000] [--batch 1000] [--big 1000000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402

from benchmarks.common import Timer, print_table, scratch_postgres  # noqa: E402
from benchmarks.synthetic import TASKS, episodes  # noqa: E402
from models.db import session_scope  # noqa: E402
from models.orm import Campaign, CampaignTask, utcnow  # noqa: E402
from models.recording import COLUMNS, _copy_row, record_episodes  # noqa: E402

WINDOW = 50_000


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


def ours(recs, batch: int) -> list[float]:
    """Seconds after each window of WINDOW rows."""
    marks = []
    with Timer() as t:
        for i in range(0, len(recs), batch):
            with session_scope() as s:
                record_episodes(s, recs[i : i + batch])
            if (i + batch) % WINDOW == 0:
                marks.append(t.elapsed())
    return marks


def bare_copy(raw_url: str, recs, batch: int) -> list[float]:
    sql = f"COPY episodes ({', '.join(COLUMNS)}) FROM STDIN"
    marks = []
    with psycopg.connect(raw_url) as conn, Timer() as t:
        for i in range(0, len(recs), batch):
            now = utcnow()
            with conn.cursor() as cur, cur.copy(sql) as cp:
                for r in recs[i : i + batch]:
                    cp.write_row(_copy_row(r, now))
            conn.commit()
            if (i + batch) % WINDOW == 0:
                marks.append(t.elapsed())
    return marks


def preload(raw_url: str, campaign_id: int, n: int) -> None:
    """n rows made by the server from one template row."""
    with psycopg.connect(raw_url) as conn:
        cols = [c for c in COLUMNS if c not in ("campaign_id", "seed")]
        conn.execute(
            f"INSERT INTO episodes (campaign_id, seed, {', '.join(cols)}) "
            f"SELECT %s, 1000000000 + g, {', '.join('t.' + c for c in cols)} FROM generate_series(1, %s) g, "
            "(SELECT * FROM episodes LIMIT 1) t",
            (campaign_id, n),
        )
        # a table the recorder grew was analyzed as it grew (models.upkeep); this one was made
        # server-side in one statement, so it is analyzed here, as part of the set-up
        conn.execute("ANALYZE episodes")


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--big", type=int, default=1_000_000)
    args = ap.parse_args()
    if args.rows < 2 * WINDOW or args.rows % WINDOW or args.batch < 1 or WINDOW % args.batch:
        sys.exit(
            f"bench_ingest: --rows must be a multiple of {WINDOW:,} and at least {2 * WINDOW:,} "
            f"(growth compares the first and last {WINDOW:,}), --batch a divisor of {WINDOW:,}"
        )
    table = []
    with scratch_postgres() as url:
        raw = url.replace("postgresql+psycopg://", "postgresql://")
        ours_id, copy_id = make_campaign("ours"), make_campaign("copy")
        mine, theirs = episodes(ours_id, args.rows), episodes(copy_id, args.rows)
        o, c = ours(mine, args.batch), bare_copy(raw, theirs, args.batch)
        with Timer() as again:
            ours(mine, args.batch)
        growth_o = (o[-1] - o[-2]) / o[0]
        growth_c = (c[-1] - c[-2]) / c[0]
        table += [
            [
                f"first {WINDOW:,} rows",
                rate(WINDOW, o[0]),
                rate(WINDOW, c[0]),
                f"{c[0] / o[0]:.2f}x",
            ],
            [
                f"all {args.rows:,} rows",
                rate(args.rows, o[-1]),
                rate(args.rows, c[-1]),
                f"{c[-1] / o[-1]:.2f}x",
            ],
            [
                f"last-{WINDOW // 1000}k / first-{WINDOW // 1000}k time (growth)",
                f"{growth_o:.2f}x",
                f"{growth_c:.2f}x",
                "",
            ],
            [f"{args.rows:,} duplicates again", rate(args.rows, again.seconds), "", ""],
        ]
    with scratch_postgres() as url:
        raw = url.replace("postgresql+psycopg://", "postgresql://")
        big_id, ours_id, copy_id = (
            make_campaign("big"),
            make_campaign("ours"),
            make_campaign("copy"),
        )
        bare_copy(raw, episodes(big_id, args.batch), args.batch)  # the template row
        preload(raw, big_id, args.big)
        mine, theirs = episodes(ours_id, WINDOW), episodes(copy_id, WINDOW)
        o, c = ours(mine, args.batch), bare_copy(raw, theirs, args.batch)
        table.append(
            [
                f"{WINDOW:,} rows into a table of {args.big:,}",
                rate(WINDOW, o[0]),
                rate(WINDOW, c[0]),
                f"{c[0] / o[0]:.2f}x",
            ]
        )
    print_table(
        f"Ingest into PostgreSQL, batches of {args.batch}",
        ["measure", "record_episodes rows/s", "bare COPY rows/s", "ours vs COPY"],
        table,
    )


if __name__ == "__main__":
    main()
