"""Alembic environment and schema versions (``blazer db upgrade``)."""
