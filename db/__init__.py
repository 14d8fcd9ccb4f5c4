"""Database: SQLModel tables, engine/session, query functions, Alembic migrations."""

# Tables that live outside db/models.py register themselves on the metadata when imported.
from db import campaign as _campaign  # noqa: F401
