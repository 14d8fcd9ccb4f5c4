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
from api.limits import RequestLimitsMiddleware
from api.middleware import RequestContextMiddleware
from api.openapi import install_openapi
from api.routes import (
    audit_log,
    campaigns,
    codec,
    compliance_terms,
    content,
    crisis_hold,
    drills,
    faq,
    feedback,
    health,
    inbox,
    incident_plans,
    incidents,
    me,
    monitoring,
    notifications,
    platform_accounts,
    reply_templates,
    reviews,
    risk_matrix,
    sandbox,
    shifts,
    statement_templates,
    users,
)
from connectors import plugins
from core.settings import Settings, get_settings
from db.engine import Database

PUBLIC_PATHS = (
    frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/codec/sign-in"})
    | campaigns.PUBLIC_PATHS
)
# Routes that authenticate inside the handler (bearer token, a signed feed key for calendar apps, an OAuth state).
SELF_AUTHENTICATED_PATHS = frozenset(
    {"/content/calendar.ics", "/monitoring/ingest/{source_key}", "/platform-accounts/oauth/callback"}
)
# Routes that take batches, with the larger body limit (settings.max_ingest_request_bytes).
INGEST_PATHS = frozenset(
    {
        "/monitoring/ingest/{source_key}",
        "/monitoring/items",
        "/inbox/ingest/{platform}/{account}",
        "/campaigns/{campaign_id}/entries",
    }
)


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
        if getattr(app.state, "sandbox", None) is not None:
            app.state.sandbox.engine.dispose()

    app = FastAPI(
        title="socialops API",
        version="0.1.0",
        description="社会化媒体运营系统 — durable processes for content, engagement, monitoring, emergencies.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = database
    plugins.install_rules(plugins.factories().values())  # a plug-in's platform rules, as the worker sees them
    app.state.temporal = TemporalGateway(settings, temporal_client)
    install_error_handlers(app)
    # The last added runs first: the request id and access log wrap the limits, which wrap everything else.
    app.add_middleware(
        RequestLimitsMiddleware,
        max_bytes=settings.max_request_bytes,
        max_ingest_bytes=settings.max_ingest_request_bytes,
        ingest_paths=INGEST_PATHS,
        max_json_depth=settings.max_json_depth,
    )
    app.add_middleware(RequestContextMiddleware)
    for module in (
        health,
        me,
        users,
        audit_log,
        content,
        reviews,
        platform_accounts,
        crisis_hold,
        compliance_terms,
        notifications,
        incidents,
        incident_plans,
        statement_templates,
        risk_matrix,
        drills,
        monitoring,
        inbox,
        feedback,
        faq,
        reply_templates,
        shifts,
        sandbox,
        campaigns,
    ):
        app.include_router(module.router)
    app.include_router(drills.runs)
    codec.install(app, settings)  # the Temporal UI's codec endpoint and its CORS
    install_openapi(
        app, iter_api_routes(app.routes), self_authenticated=SELF_AUTHENTICATED_PATHS, ingest=INGEST_PATHS
    )
    return app
