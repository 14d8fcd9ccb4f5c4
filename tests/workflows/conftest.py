"""Fixtures the workflow tests share: the sandbox platform and the seeded people."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.sandbox import SandboxPlatform
from db.engine import Database
from tests.content_helpers import People, seed_people
from tests.emergency_helpers import Team, seed_team
from tests.seeds import seed_accounts


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxPlatform]:
    sb = SandboxPlatform(f"sqlite:///{tmp_path / 'sandbox.db'}")
    yield sb
    sb.engine.dispose()


@pytest.fixture
def people(sqlite_database: Database) -> People:
    """The content people (and the brand's accounts)."""
    seed_accounts(sqlite_database)
    return seed_people(sqlite_database)


@pytest.fixture
def team(sqlite_database: Database) -> Team:
    """The emergency team (and the brand's accounts)."""
    seed_accounts(sqlite_database)
    return seed_team(sqlite_database)
