"""Idempotent bulk recording of episodes: the one write path for rollout results.

Recording the same batch twice stores it once (``ON CONFLICT DO NOTHING`` on the episode
key). In the same transaction the per-task counters and the ``episode_stats`` summary move
by exactly the rows that were new, and a task that already has its N successes takes no
more successes: a success past the one that filled it is counted (attempts, surplus, stats)
but not stored. A failure is always stored: every attempt that ran is on record.

On PostgreSQL the rows travel by ``COPY`` (a multi-row INSERT with thousands of parameters
spends most of its time being built and parsed): straight into ``episodes`` when an index
probe shows none of them can be stored yet, else into a per-connection temporary table and
on with one ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING``. SQLite takes the ORM's
batched INSERT. Tables the recorder grows are ANALYZEd after large growth
(``models.upkeep``), so its lookups keep their index plans on a server without autovacuum.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import cast

import orjson
import psycopg
from sqlalchemy import Table, bindparam, select, tuple_, update
from sqlalchemy.orm import Session

from models import upkeep
from models.db import dialect_insert
from models.orm import CampaignTask, Episode, EpisodeStat, utcnow
from models.types import EPISODE_KEY, EpisodeRecord

log = logging.getLogger(__name__)

SURPLUS = "surplus"  # the summary's outcome for a success that was counted, not stored

ROW_BATCH = 1000
STAGE_TABLE = "episodes_stage"
COLUMNS = (*(f.name for f in fields(EpisodeRecord)), "created_at")
_JSON_COLUMNS = frozenset(
    f.name for f in fields(EpisodeRecord) if f.metadata["column"].sql == "json"
)
_COLUMN_LIST = ", ".join(COLUMNS)


@dataclass
class RecordResult:
    inserted: int = 0
    duplicates: int = 0
    surplus: int = 0
    successes: int = 0


GroupKey = tuple[int, str, str]  # (campaign_id, task, robot): one campaign task


def record_episodes(
    session: Session, records: Sequence[EpisodeRecord], *, cap_successes: bool = True
) -> RecordResult:
    """Record a batch of episodes once. The caller owns the transaction.

    Statements per call, whatever the number of tasks in the batch: lock the batch's
    campaign tasks (one ``FOR UPDATE``, in id order: no deadlocks between workers), insert
    (COPY + one INSERT), move the counters (one UPDATE) and the summary (one upsert). Only a
    task whose cap would bind looks up which of its records are already stored, so that a
    duplicate cannot take a new success's place under the cap.
    """
    groups: dict[GroupKey, list[EpisodeRecord]] = defaultdict(list)
    for rec in records:
        rec = rec.storable()
        groups[(rec.campaign_id, rec.task, rec.robot)].append(rec)
    if not groups:
        return RecordResult()
    ctasks = _lock_tasks(session, list(groups))
    candidates: list[EpisodeRecord] = []
    surplus: list[EpisodeRecord] = []
    for key in sorted(groups):
        recs = _unique(groups[key])
        ctask = ctasks.get(key)
        if cap_successes and ctask is not None:
            left = ctask.target_successes - ctask.successes
            if sum(r.success for r in recs) > left:
                recs, extra = _cap(_without_existing(session, key, recs), left)
                surplus += extra
        candidates += recs
    locked = len(ctasks) == len(groups)  # every group's task row is ours until commit
    inserted = _bulk_insert(session, candidates, locked) if candidates else []
    result = RecordResult(
        inserted=len(inserted),
        duplicates=len(records) - len(inserted) - len(surplus),
        surplus=len(surplus),
        successes=sum(r.success for r in inserted),
    )
    _bump_counters(session, ctasks, inserted, surplus)
    _bump_stats(session, inserted, surplus)
    if inserted:
        upkeep.analyze_if_grown(
            session, {"episodes": upkeep.EPISODE_FILTER_COLUMNS, "episode_stats": None}
        )
    return result


def _lock_tasks(session: Session, keys: list[GroupKey]) -> dict[GroupKey, CampaignTask]:
    rows = session.scalars(
        select(CampaignTask)
        .where(tuple_(CampaignTask.campaign_id, CampaignTask.task, CampaignTask.robot).in_(keys))
        .order_by(CampaignTask.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {(t.campaign_id, t.task, t.robot): t for t in rows}


def _unique(recs: list[EpisodeRecord]) -> list[EpisodeRecord]:
    """The first record of each (seed, attempt): a batch may repeat one."""
    seen: set[tuple[int, int]] = set()
    out = []
    for rec in recs:
        if (rec.seed, rec.attempt) not in seen:
            seen.add((rec.seed, rec.attempt))
            out.append(rec)
    return out


def _without_existing(session, key: GroupKey, recs: list[EpisodeRecord]) -> list[EpisodeRecord]:
    """Drop records already stored (a re-delivered job): one range scan on the episode
    key's index (a block's seeds are consecutive, so the range is tight)."""
    campaign_id, task, robot = key
    seeds = [r.seed for r in recs]
    existing = set(
        session.execute(
            select(Episode.seed, Episode.attempt).where(
                # a row comparison: only the episode key's index serves it (see _PROBE_SQL)
                tuple_(Episode.campaign_id, Episode.task, Episode.robot, Episode.seed).between(
                    tuple_(campaign_id, task, robot, min(seeds)),
                    tuple_(campaign_id, task, robot, max(seeds)),
                )
            )
        ).all()
    )
    return [r for r in recs if (r.seed, r.attempt) not in existing]


def _cap(
    recs: list[EpisodeRecord], successes_left: int
) -> tuple[list[EpisodeRecord], list[EpisodeRecord]]:
    """(kept, surplus): every failure, and successes in seed order up to the task's target."""
    kept: list[EpisodeRecord] = []
    surplus: list[EpisodeRecord] = []
    for rec in sorted(recs, key=lambda r: (r.seed, r.attempt)):
        if rec.success and successes_left <= 0:
            surplus.append(rec)
            continue
        kept.append(rec)
        successes_left -= rec.success
    return kept, surplus


def _bulk_insert(session: Session, recs: list[EpisodeRecord], locked: bool) -> list[EpisodeRecord]:
    """Insert what is not there yet; returns the records that were new."""
    if session.get_bind().dialect.name != "postgresql":
        return _orm_insert(session, recs)
    driver = _driver(session)
    now = utcnow()
    if locked and not _any_stored(driver, recs):
        try:
            with driver.transaction():  # a savepoint: a surprise conflict falls back below
                _copy(driver, "episodes", recs, now)
            return recs
        except psycopg.errors.UniqueViolation:
            log.warning("a batch thought new met a stored episode; recording it via the stage")
    return _staged_insert(driver, recs, now)


def _any_stored(driver: psycopg.Connection, recs: list[EpisodeRecord]) -> bool:
    """Whether any stored episode shares a group and falls in the seed range of ``recs``: one
    seek on the episode key's index per group (see _PROBE_SQL)."""
    ranges: dict[GroupKey, list[int]] = {}
    for r in recs:
        lo_hi = ranges.setdefault((r.campaign_id, r.task, r.robot), [r.seed, r.seed])
        lo_hi[0], lo_hi[1] = min(lo_hi[0], r.seed), max(lo_hi[1], r.seed)
    groups = _columns((*k, lo, hi) for k, (lo, hi) in ranges.items())
    return bool(driver.execute(_PROBE_SQL, groups).fetchone()[0])


def _copy(driver: psycopg.Connection, table: str, recs: list[EpisodeRecord], now: datetime) -> None:
    with driver.cursor() as cur, cur.copy(f"COPY {table} ({_COLUMN_LIST}) FROM STDIN") as copy:
        for rec in recs:
            copy.write_row(_copy_row(rec, now))


def _staged_insert(
    driver: psycopg.Connection, recs: list[EpisodeRecord], now: datetime
) -> list[EpisodeRecord]:
    """COPY into the connection's stage table, then one INSERT … SELECT … ON CONFLICT DO
    NOTHING into episodes: what some other delivery already stored is skipped."""
    by_key = {r.key(): r for r in recs}
    driver.execute(_STAGE_SQL)
    _copy(driver, STAGE_TABLE, recs, now)
    return [by_key[k] for k in driver.execute(_MOVE_SQL).fetchall()]


def _copy_row(rec: EpisodeRecord, now: datetime) -> list:
    """The record as COPY's row: JSON fields as orjson text, the failure reason as its value."""
    row = list(_FIELDS_OF(rec))
    for i in _JSON_AT:
        if row[i] is not None:
            row[i] = orjson.dumps(row[i]).decode()
    if row[_REASON_AT] is not None:
        row[_REASON_AT] = row[_REASON_AT].value
    row.append(now)
    return row


_FIELDS_OF = attrgetter(*COLUMNS[:-1])  # one C call for every field, in column order
_JSON_AT = [i for i, name in enumerate(COLUMNS) if name in _JSON_COLUMNS]
_REASON_AT = COLUMNS.index("failure_reason")
_KEY_LIST = ", ".join(EPISODE_KEY)
# ON COMMIT DELETE ROWS empties it at commit; the DELETE covers a second call in one
# transaction. No ORDER BY on the move: the batch's task rows are locked, so no other
# transaction inserts these keys.
_STAGE_SQL = (
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_TABLE} ON COMMIT DELETE ROWS AS "
    f"SELECT {_COLUMN_LIST} FROM episodes WITH NO DATA; DELETE FROM {STAGE_TABLE}"
)
# A seek on the episode key: the first stored key at or after (group, lowest seed), then "is
# it in the group and range". Only the unique index answers a row comparison ordered by its
# own columns without reading the whole table, so the plan holds whatever the statistics say
# (with plain equalities and empty statistics the planner may pick the (task, robot) index).
_PROBE_SQL = (
    "SELECT count(*) FROM unnest(%s::int[], %s::varchar[], %s::varchar[], %s::bigint[], "
    "%s::bigint[]) AS g(c, t, r, lo, hi) CROSS JOIN LATERAL (SELECT e.campaign_id, e.task, "
    "e.robot, e.seed FROM episodes e WHERE (e.campaign_id, e.task, e.robot, e.seed) >= "
    "(g.c, g.t, g.r, g.lo) ORDER BY e.campaign_id, e.task, e.robot, e.seed LIMIT 1) AS n "
    "WHERE n.campaign_id = g.c AND n.task = g.t AND n.robot = g.r AND n.seed <= g.hi"
)
_MOVE_SQL = (
    f"INSERT INTO episodes ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM {STAGE_TABLE} "
    f"ON CONFLICT ({_KEY_LIST}) DO NOTHING RETURNING {_KEY_LIST}"
)


def _orm_insert(session: Session, recs: list[EpisodeRecord]) -> list[EpisodeRecord]:
    # one cached statement, executed for many rows: SQLAlchemy batches it into multi-row
    # INSERTs ("insertmanyvalues") and still hands back what each row's RETURNING gave
    stmt = (
        dialect_insert(session)(Episode)
        .on_conflict_do_nothing(index_elements=list(EPISODE_KEY))
        .returning(*(getattr(Episode, k) for k in EPISODE_KEY))
    )
    by_key = {r.key(): r for r in recs}
    inserted: list[EpisodeRecord] = []
    for i in range(0, len(recs), ROW_BATCH):
        rows = [r.to_json() for r in recs[i : i + ROW_BATCH]]
        inserted.extend(by_key[tuple(k)] for k in session.execute(stmt, rows))
    return inserted


def _bump_counters(
    session: Session,
    ctasks: dict[GroupKey, CampaignTask],
    inserted: list[EpisodeRecord],
    surplus: list[EpisodeRecord],
) -> None:
    """Move each campaign task's counters by what was new: (successes, attempts, surplus)."""
    moves: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for rec in inserted:
        task = ctasks.get((rec.campaign_id, rec.task, rec.robot))
        if task is not None:
            moves[task.id][0] += rec.success
            moves[task.id][1] += 1
    for rec in surplus:
        move = moves[ctasks[(rec.campaign_id, rec.task, rec.robot)].id]
        move[1] += 1
        move[2] += 1
    if not moves:
        return
    ids, successes, attempts, extra = _columns((i, *m) for i, m in sorted(moves.items()))
    if session.get_bind().dialect.name == "postgresql":
        _raw(session, _PG_COUNTERS_SQL, (ids, successes, attempts, extra))
    else:
        table = cast(Table, CampaignTask.__table__)
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("task_id"))
            .values(
                successes=table.c.successes + bindparam("d_successes"),
                attempts=table.c.attempts + bindparam("d_attempts"),
                surplus_discarded=table.c.surplus_discarded + bindparam("d_surplus"),
            ),
            [
                {"task_id": i, "d_successes": s, "d_attempts": a, "d_surplus": x}
                for i, s, a, x in zip(ids, successes, attempts, extra, strict=True)
            ],
        )
    for task in ctasks.values():  # the UPDATE went around the ORM: reload on next access
        session.expire(task, ["successes", "attempts", "surplus_discarded"])


def _bump_stats(
    session: Session, stored: Iterable[EpisodeRecord], surplus: Iterable[EpisodeRecord] = ()
) -> None:
    """The summary by outcome; a success past its task's N counts as ``surplus``: an attempt
    and a success of the teacher, but no row."""
    counts = Counter((r.campaign_id, r.task, r.robot, r.teacher, r.outcome()) for r in stored)
    counts.update((r.campaign_id, r.task, r.robot, r.teacher, SURPLUS) for r in surplus)
    if not counts:
        return
    if session.get_bind().dialect.name == "postgresql":
        _raw(session, _PG_STATS_SQL, _columns((*k, n) for k, n in sorted(counts.items())))
        return
    rows = [
        {"campaign_id": c, "task": t, "robot": rb, "teacher": te, "outcome": o, "count": n}
        for (c, t, rb, te, o), n in sorted(counts.items())
    ]
    stmt = dialect_insert(session)(EpisodeStat).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["campaign_id", "task", "robot", "teacher", "outcome"],
        set_={"count": EpisodeStat.count + stmt.excluded.count},
    )
    session.execute(stmt)


def _columns(rows: Iterable[tuple]) -> list[list]:
    """Rows to columns (what ``unnest`` takes)."""
    return [list(c) for c in zip(*rows, strict=True)]


def _driver(session: Session) -> psycopg.Connection:
    """The session's psycopg connection, in the session's transaction."""
    return session.connection().connection.driver_connection


def _raw(session: Session, sql: str, params) -> None:
    """One statement on the session's psycopg connection, skipping SQLAlchemy's statement
    building: these run once per recorded batch."""
    _driver(session).execute(sql, params)


# PostgreSQL: the whole batch's moves as arrays, one statement each
_PG_COUNTERS_SQL = (
    "UPDATE campaign_tasks t SET successes = t.successes + v.s, attempts = t.attempts + v.a, "
    "surplus_discarded = t.surplus_discarded + v.x "
    "FROM unnest(%s::bigint[], %s::int[], %s::int[], %s::int[]) AS v(id, s, a, x) WHERE t.id = v.id"
)
_PG_STATS_SQL = (
    "INSERT INTO episode_stats (campaign_id, task, robot, teacher, outcome, count) "
    "SELECT * FROM unnest(%s::int[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[]) "
    "ON CONFLICT (campaign_id, task, robot, teacher, outcome) "
    "DO UPDATE SET count = episode_stats.count + excluded.count"
)
