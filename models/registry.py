"""The model registry's read side: versions of fine-tuned models by name (training writes them)."""

from __future__ import annotations

from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session

from models.db import session_scope
from models.errors import NotFound
from models.orm import ModelVersion


def find_model_version(name: str) -> ModelVersion | None:
    """The version called ``name`` or, when ``name`` is a lineage, its promoted version; None
    when nothing is registered under it (or the database has no blazer schema yet). A
    database that cannot be reached raises DatabaseError: a registered model's name must
    never quietly become a hub id."""
    with session_scope() as session:
        if not inspect(session.connection()).has_table(ModelVersion.__tablename__):
            return None
        version = session.scalars(
            select(ModelVersion).where(ModelVersion.name == name)
        ).one_or_none()
        return version or current_version(session, name)


def get_model_version(session: Session, name: str) -> ModelVersion:
    version = session.scalars(select(ModelVersion).where(ModelVersion.name == name)).one_or_none()
    if version is None:
        known = session.scalars(
            select(ModelVersion.name).order_by(ModelVersion.id.desc()).limit(10)
        ).all()
        raise NotFound(f"no model version {name!r}; known: {', '.join(known) or 'none'}")
    return version


def promote(session: Session, name: str) -> ModelVersion:
    """Make ``name`` the promoted version of its lineage (the one a lineage's name deploys)."""
    version = get_model_version(session, name)
    if version.lineage:
        session.execute(
            update(ModelVersion)
            .where(ModelVersion.lineage == version.lineage)
            .values(promoted=False)
        )
    version.promoted = True
    return version


def current_version(session: Session, lineage: str) -> ModelVersion | None:
    """The promoted version of a lineage, if any."""
    return session.scalars(
        select(ModelVersion)
        .where(ModelVersion.lineage == lineage, ModelVersion.promoted.is_(True))
        .order_by(ModelVersion.id.desc())
    ).first()
