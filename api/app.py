"""FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from temporalio.client import Client

from api.deps import TemporalGateway
from api.errors import install_error_handlers
from api.middleware import RequestContextMiddleware
from api.routes import (
    accounts,
    audit_log,
    campaigns,
    content,
    health,
    inbox,
    incidents,
    monitoring,
    operations,
    plans,
)
from core.settings import Settings, get_settings
from db.engine import Database

PUBLIC_PATHS = (
    frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}) | campaigns.PUBLIC_PATHS
)
# Routes that authenticate inside the handler (bearer token, or a signed feed key for calendar apps).
SELF_AUTHENTICATED_PATHS = frozenset({"/content/calendar.ics", "/monitoring/ingest/{source_key}"})


def iter_api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (newer FastAPI wraps them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from iter_api_routes(route.original_router.routes)
        elif hasattr(route, "routes"):
            yield from iter_api_routes(route.routes)


def create_app(
    settings: Settings | None = None, db: Database | None = None, temporal_client: Client | None = None
) -> FastAPI:
    settings = settings or get_settings()
    owns_db = db is None
    database = db or Database(settings.effective_database_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_db:
            database.dispose()

    app = FastAPI(
        title="socialops API",
        version="0.1.0",
        description="社会化媒体运营系统 — durable processes for content, engagement, monitoring, emergencies.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.temporal = TemporalGateway(settings, temporal_client)
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health.router)
    app.include_router(accounts.router)
    app.include_router(audit_log.router)
    app.include_router(content.router)
    app.include_router(operations.router)
    app.include_router(incidents.router)
    app.include_router(plans.router)
    app.include_router(monitoring.router)
    app.include_router(inbox.router)
    app.include_router(campaigns.router)
    return app
