"""Column types used by both the ORM and the episode declaration (models.types)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Integer
from sqlalchemy.dialects.postgresql import JSONB

# Python None is SQL NULL (not JSON 'null'), so `IS NULL` filters mean what they say and the
# ORM path and the COPY path (models.recording) store the same thing.
JSONType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY, so big ids fall back to Integer there.
BigId = BigInteger().with_variant(Integer(), "sqlite")
