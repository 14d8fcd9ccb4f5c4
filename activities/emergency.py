"""Side effects of the emergency workflow: projection, timeline, roster, crisis hold, statements, post-mortem."""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from connectors.base import PlatformConnector, PlatformError, PostRequest
from connectors.registry import ConnectorRegistry
from core.crisis_hold import wake_held
from db import crisis_hold
from db.emergency import input_for, open_incident
from db.engine import Database
from db.models import (
    Incident,
    IncidentEvent,
    IncidentPlanRow,
    PlatformAccount,
    TopicIncident,
    User,
    UserRole,
    utcnow,
)
from domain.emergency import ChannelResult, DrillScenario, IncidentInput, IncidentPlan, Mode, drill_mark
from domain.emergency_io import (
    EventInput,
    HoldInput,
    IncidentProjection,
    PostmortemInput,
    RosterInput,
    StatementPublishInput,
)
from domain.kernel import Platform
from domain.platform_rules import RULES

log = structlog.get_logger("socialops.emergency")


class EmergencyActivities:
    def __init__(self, db: Database, connectors: ConnectorRegistry) -> None:
        self.db = db
        self.connectors = connectors

    @activity.defn
    def project_incident(self, inp: IncidentProjection) -> None:
        with self.db.session() as session:
            row = session.get(Incident, inp.incident_id)
            if row is None:
                raise ApplicationError(f"incident {inp.incident_id} has no row", non_retryable=True)
            row.stage, row.updated_at = inp.stage, utcnow()
            if inp.level:
                row.level = inp.level
            if inp.commander:
                row.commander = inp.commander
            if inp.figures is not None:
                row.figures = inp.figures
            if inp.resolved_at is not None:
                row.resolved_at = inp.resolved_at
            session.add(row)
            if inp.stage in ("closed", "false_alarm"):  # the topic may open a new incident from now on
                for lock in session.exec(
                    select(TopicIncident).where(TopicIncident.incident_id == inp.incident_id)
                ):
                    session.delete(lock)
            session.commit()

    @activity.defn
    def record_event(self, inp: EventInput) -> None:
        with self.db.session() as session:
            session.add(IncidentEvent(**inp.model_dump()))
            try:
                session.commit()
            except IntegrityError:  # a retry of an event already written
                session.rollback()

    @activity.defn
    def roster(self, inp: RosterInput) -> dict[str, list[str]]:
        """Active users per role, oldest account first: who gets paged."""
        out: dict[str, list[str]] = {}
        with self.db.session() as session:
            for role in inp.roles:
                rows = session.exec(
                    select(User.name)
                    .join(UserRole, col(UserRole.user_id) == col(User.id))
                    .where(UserRole.role == role, User.active == True)  # noqa: E712
                    .order_by(col(User.id))
                ).all()
                out[role] = list(rows)
        return out

    @activity.defn
    async def set_crisis_hold(self, inp: HoldInput) -> list[int]:
        """Hold (this incident becomes a holder) or let go; the held items are woken only when the last
        holder has let go — another active incident keeps them held. Returns the items woken."""

        def _write() -> list[tuple[int, str]]:
            with self.db.session() as session:
                now = crisis_hold.change(
                    session, holder=inp.incident_id, active=inp.active, reason=inp.reason, by=inp.actor
                )
                session.commit()
                if now.active:
                    return []
                return [(i.id, i.workflow_id) for i in crisis_hold.held_items(session) if i.id]

        woken = await asyncio.to_thread(_write)
        await wake_held(activity.client(), [wid for _, wid in woken])
        return [i for i, _ in woken]

    @activity.defn
    def publish_statement(self, inp: StatementPublishInput) -> list[ChannelResult]:
        results: list[ChannelResult] = []
        for channel in inp.channels:
            try:
                platform = Platform(channel)
            except ValueError:
                continue  # customer_service and other non-platform channels are notifications
            key = f"incident-{inp.incident_id}-statement-{inp.statement_id}-{channel}"
            try:
                connector, account = self._target(platform, inp.drill)
                # A drill says so exactly once; a platform without titles (Weibo, Kuaishou) gets none.
                variant = inp.variants.get(channel)
                text = variant.body if variant else inp.text
                title = variant.title if variant else inp.title
                text = drill_mark(text) if inp.drill else text
                title = "" if RULES[platform].max_title_chars.value is None else title
                if inp.drill:
                    title = drill_mark(title) if title else ""
                ref = connector.find_by_key(platform, account, key) or connector.publish(
                    PostRequest(platform=platform, account=account, idempotency_key=key, title=title, text=text)
                )
                results.append(ChannelResult(channel=channel, ok=True, external_id=ref.external_id, url=ref.url))
            except PlatformError as exc:
                if exc.retryable:
                    raise ApplicationError(f"{channel}: {exc}", type="PlatformError") from exc
                results.append(ChannelResult(channel=channel, ok=False, error=str(exc)))
        return results

    def _target(self, platform: Platform, drill: bool) -> tuple[PlatformConnector, str]:
        with self.db.session() as session:
            account = session.exec(
                select(PlatformAccount)
                .where(PlatformAccount.platform == platform.value, PlatformAccount.active == True)  # noqa: E712
                .order_by(col(PlatformAccount.id))
            ).first()
        if drill:  # drills publish only to the sandbox platform
            return self.connectors.by_kind("sandbox"), account.handle if account else f"drill-{platform.value}"
        if account is None:
            raise PlatformError(f"no active {platform.value} account is configured", retryable=False)
        return self.connectors.for_account(platform, account.handle), account.handle

    @activity.defn
    def open_drill_incident(self, scenario: DrillScenario) -> IncidentInput:
        """A scheduled drill's incident row; idempotent per drill run (keyed by the calling workflow id)."""
        key = f"drill-run:{activity.info().workflow_id}"
        with self.db.session() as session:
            existing = session.exec(select(Incident).where(Incident.topic == key)).first()
            if existing is not None:  # a retry after a crash before the child started: the same incident
                return input_for(session, existing).model_copy(update={"drill": scenario})
            # no outbox row: the drill workflow starts this incident's process itself, as its child
            _row, inp = open_incident(
                session,
                title=f"【演练】{scenario.name}",
                description=scenario.description,
                reported_by="drill-schedule",
                evidence=[],
                topic=key,
                mode=Mode.drill,
                drill=scenario,
                record_start=False,
            )
            session.commit()
            return inp

    @activity.defn
    def store_postmortem(self, inp: PostmortemInput) -> int | None:
        """Store the post-mortem; a plan revision becomes the next version of that level's plan."""
        with self.db.session() as session:
            row = session.get(Incident, inp.incident_id)
            if row is None:
                raise ApplicationError(f"incident {inp.incident_id} has no row", non_retryable=True)
            row.postmortem = inp.postmortem
            session.add(row)
            version: int | None = None
            if inp.plan_revision is not None:
                plan = IncidentPlan.model_validate(inp.plan_revision)
                note = f"incident {inp.incident_id} post-mortem"
                existing = session.exec(
                    select(IncidentPlanRow).where(
                        IncidentPlanRow.level == plan.level.value, IncidentPlanRow.note == note
                    )
                ).first()
                if existing is not None:
                    version = existing.version
                else:
                    current = session.exec(
                        select(func.max(IncidentPlanRow.version)).where(IncidentPlanRow.level == plan.level.value)
                    ).one()
                    version = int(current or 0) + 1
                    session.add(
                        IncidentPlanRow(
                            level=plan.level.value,
                            version=version,
                            content=plan.model_dump(mode="json"),
                            created_by=inp.actor,
                            note=note,
                        )
                    )
            session.commit()
            return version
