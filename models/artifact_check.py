"""``blazer artifacts check``: every episode row's shard exists and its bytes match the row's
checksum, and every shard under the artifact root is referenced by some row. ``repair``
removes the orphans (shards no row points at: a job killed after writing its shard and
before recording its rows) that are older than a job could still be in flight."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.artifacts import ArtifactStore, configured_url
from models.orm import Episode

ORPHAN_MIN_AGE_S = 3600.0  # younger unreferenced shards may belong to a job still recording


@dataclass
class ArtifactReport:
    rows: int = 0
    shards: int = 0
    missing: list[tuple[int, str]] = field(default_factory=list)  # (episode id, uri)
    corrupt: list[tuple[int, str, str]] = field(default_factory=list)  # (id, uri, why)
    orphans: list[str] = field(default_factory=list)
    recent: list[str] = field(default_factory=list)  # unreferenced, too young to remove
    removed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupt or set(self.orphans) - set(self.removed))


def _rows_by_shard(session: Session) -> Iterator[tuple[str, list[tuple[int, str, str | None]]]]:
    """(uri, [(episode id, key, sha256)]) per shard, streamed in uri order."""
    rows = session.execute(
        select(Episode.traj_uri, Episode.id, Episode.traj_key, Episode.traj_sha256)
        .where(Episode.traj_uri.is_not(None))
        .order_by(Episode.traj_uri, Episode.id)
        .execution_options(yield_per=10_000)
    )
    uri: str | None = None
    group: list[tuple[int, str, str | None]] = []
    for row_uri, eid, key, sha in rows:
        if row_uri != uri and group:
            yield uri, group
            group = []
        uri = row_uri
        group.append((eid, key, sha))
    if group:
        yield uri, group


def check_artifacts(session: Session, store: ArtifactStore, repair: bool = False) -> ArtifactReport:
    import fsspec
    import h5py

    report = ArtifactReport()
    referenced: set[str] = set()
    for uri, items in _rows_by_shard(session):
        referenced.add(uri)
        report.rows += len(items)
        try:
            with fsspec.open(configured_url(uri), "rb") as fh, h5py.File(fh, "r") as f:
                for eid, key, sha in items:
                    if f"episodes/{key}" not in f:
                        report.missing.append((eid, f"{uri}#{key}"))
                    elif not sha:
                        report.corrupt.append((eid, uri, "no checksum recorded"))
                    elif hashlib.sha256(f[f"episodes/{key}"][()].tobytes()).hexdigest() != sha:
                        report.corrupt.append((eid, uri, "checksum mismatch"))
        except (OSError, ValueError):
            report.missing.extend((eid, uri) for eid, _, _ in items)
    shards = store.shards()
    report.shards = len(shards)
    now = time.time()
    for uri in shards:
        if uri in referenced:
            continue
        if now - _mtime(store, uri) < ORPHAN_MIN_AGE_S:
            report.recent.append(uri)
            continue
        report.orphans.append(uri)
        if repair:
            store.remove(uri)
            report.removed.append(uri)
    return report


def _mtime(store: ArtifactStore, uri: str) -> float:
    path = f"{store.root.rstrip('/')}/{uri[len(store.uri('')) :]}"
    try:
        return store.fs.modified(path).timestamp()
    except (NotImplementedError, OSError, AttributeError):
        return 0.0  # unknown age: old enough
