"""Column types used by both the ORM and the episode declaration (models.types)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB

# Python None is SQL NULL (not JSON 'null'), so `IS NULL` filters mean what they say and the
# ORM path and the COPY path (models.recording) store the same thing.
JSONType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY, so big ids fall back to Integer there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def sql_type(name: str):
    """The column type an episode field names (models.types keeps names, not SQLAlchemy
    objects, so that the simulator process, which imports the declaration, does not import
    SQLAlchemy): ``integer``, ``bigint``, ``boolean``, ``text``, ``json`` or ``string:N``."""
    kind, _, size = name.partition(":")
    if kind == "string":
        return String(int(size))
    return {
        "integer": Integer(),
        "bigint": BigInteger(),
        "boolean": Boolean(),
        "text": Text(),
        "json": JSONType,
    }[kind]
