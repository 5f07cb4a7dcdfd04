"""The chaos soak's short version (benchmarks/chaos_soak.py; the 30-minute run is in
benchmarks/README.md): a recording campaign on a private PostgreSQL, a private Redis and two
workers while faults land at random every 20-60 s; nothing is stored twice, every task ends
with exactly N, every row's shard verifies, orphans are found and removed, and the exports
replay in ManiSkill's own tool with the database's success count."""

from __future__ import annotations

import pytest

from benchmarks.chaos_soak import soak

pytestmark = pytest.mark.cluster


def test_a_short_chaos_soak_loses_nothing_and_stores_nothing_twice(tmp_path):
    report = soak(minutes=3, per_task=8, seed=1, image_size=32, out=tmp_path)
    assert report["state"] == "done" and report["faults"], report
    assert report["duplicates"] == 0 and report["exact_n"], report
    assert report["corrupt"] == 0 and report["missing"] == 0, report
    assert report["check_after_repair"], report
    assert report["attempts"] == report["rows"] + report["surplus"], report  # every one counted
    assert report["h5_replay_successes"] == report["h5_export_successes"], report
    assert report["h5_export_successes"] == report["h5_db_successes"], report
    assert report["lerobot_frames"] == report["db_frames"], report
    assert report["lerobot_episodes"] == report["db_episodes"], report
