"""The model registry's read side: versions of fine-tuned models by name (training writes them)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import session_scope
from models.errors import NotFound
from models.orm import ModelVersion


def find_model_version(name: str) -> ModelVersion | None:
    """The registered version called ``name``, or None (also when there is no database)."""
    try:
        with session_scope() as session:
            return session.scalars(
                select(ModelVersion).where(ModelVersion.name == name)
            ).one_or_none()
    except Exception:  # no database, no schema: the name is not a registered version
        return None


def get_model_version(session: Session, name: str) -> ModelVersion:
    version = session.scalars(select(ModelVersion).where(ModelVersion.name == name)).one_or_none()
    if version is None:
        known = session.scalars(
            select(ModelVersion.name).order_by(ModelVersion.id.desc()).limit(10)
        ).all()
        raise NotFound(f"no model version {name!r}; known: {', '.join(known) or 'none'}")
    return version
