"""Database: SQLModel tables, engine/session, query functions, Alembic migrations."""
