"""RSS of one in-process export every ``--every`` episodes: where an export's memory goes as it
runs (a plateau after warm-up, or a slope per episode), which two whole-process peaks at two
sizes (bench_export_memory.py) cannot tell apart.

    .venv/bin/python -m benchmarks.trace_export_rss --db DB --dataset NAME --format lerobot \
        [--every 250] [--video-file-mb 1] [--data-file-mb 1]

``DB`` holds a snapshot of recorded episodes (made as bench_export_memory.py makes its own:
a few recorded episodes whose rows are copied to the size wanted); BLAZER_DATA_DIR must
point at its artifacts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, help="database URL")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--format", default="lerobot", choices=["lerobot", "maniskill-h5"])
    ap.add_argument("--every", type=int, default=250)
    ap.add_argument("--video-file-mb", type=float)
    ap.add_argument("--data-file-mb", type=float)
    args = ap.parse_args()
    os.environ["BLAZER_DATABASE_URL"] = args.db
    os.environ.pop("BLAZER_BROKER_URL", None)
    from models.db import session_scope
    from training.datasets import export_dataset

    seen, start = [0], time.perf_counter()

    def progress(_total: int) -> None:
        seen[0] += 1
        if seen[0] % args.every == 0:
            print(
                f"{seen[0]:6d} episodes  RSS {rss_mb():6.0f} MB  {time.perf_counter() - start:6.0f} s"
            )

    out = Path(tempfile.mkdtemp(prefix="blazer-trace-"))
    try:
        with session_scope() as session:
            export_dataset(
                session,
                args.dataset,
                args.format,
                out / "export",
                progress,
                (args.data_file_mb, args.video_file_mb),
            )
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"end: {seen[0]} episodes, RSS {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
