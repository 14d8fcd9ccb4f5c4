"""The connectors a process (worker or API) uses: the installed plug-ins built over the sealed DB store."""

from __future__ import annotations

from connectors import plugins
from connectors.base import PlatformConnector
from connectors.credentials import ConnectorContext
from core.settings import Settings
from db.engine import Database
from db.platform_accounts import DbCredentialStore


def context(settings: Settings, db: Database) -> ConnectorContext:
    return ConnectorContext(
        credentials=DbCredentialStore(db, settings.secret_key),
        options={"sandbox_url": settings.effective_sandbox_url},
    )


def installed(settings: Settings, db: Database) -> dict[str, PlatformConnector]:
    """Every installed connector (the worker's registry), with their platform rules put in place."""
    plugins.install_rules(plugins.factories().values())
    return plugins.build(context(settings, db))
