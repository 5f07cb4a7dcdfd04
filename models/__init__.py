"""Database models, engine/session factory and the domain types that cross process boundaries."""
