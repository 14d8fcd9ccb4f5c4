"""Query functions for plans, the statement library, the risk matrix and incidents."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from db import outbox
from db.models import Incident, IncidentEvent, IncidentPlanRow, RiskMatrixRow, StatementTemplateRow
from domain import ids
from domain.emergency import DrillScenario, Evidence, IncidentInput, IncidentPlan, Mode
from domain.risk import RiskLevel, RiskMatrix, default_matrix


def current_plans(session: Session) -> tuple[dict[RiskLevel, IncidentPlan], dict[RiskLevel, int]]:
    plans: dict[RiskLevel, IncidentPlan] = {}
    versions: dict[RiskLevel, int] = {}
    for level in (RiskLevel.low, RiskLevel.medium, RiskLevel.high):
        row = latest_plan(session, level)
        if row is not None:
            plans[level] = IncidentPlan.model_validate(row.content)
            versions[level] = row.version
    return plans, versions


def latest_plan(session: Session, level: RiskLevel) -> IncidentPlanRow | None:
    """The current (highest) version of the level's plan."""
    return session.exec(
        select(IncidentPlanRow)
        .where(IncidentPlanRow.level == level.value)
        .order_by(col(IncidentPlanRow.version).desc())
    ).first()


def plan_versions(session: Session, level: RiskLevel) -> list[IncidentPlanRow]:
    """Every version of the level's plan, oldest first."""
    return list(
        session.exec(
            select(IncidentPlanRow)
            .where(IncidentPlanRow.level == level.value)
            .order_by(col(IncidentPlanRow.version))
        ).all()
    )


def next_plan_version(session: Session, level: RiskLevel) -> int:
    return (
        max(
            [r.version for r in session.exec(select(IncidentPlanRow).where(IncidentPlanRow.level == level.value))]
            or [0]
        )
        + 1
    )


def matrix(session: Session) -> RiskMatrix:
    row = session.get(RiskMatrixRow, 1)
    if row is None:
        return default_matrix()
    return RiskMatrix.model_validate({"cells": row.cells, "priority": row.priority})


def approved_template(session: Session, key: str) -> StatementTemplateRow | None:
    return session.exec(
        select(StatementTemplateRow)
        .where(StatementTemplateRow.key == key, StatementTemplateRow.status == "approved")
        .order_by(col(StatementTemplateRow.version).desc())
    ).first()


def templates(session: Session, key: str | None, approved_only: bool) -> list[StatementTemplateRow]:
    """Statement templates (of ``key``; only approved versions), by key then version."""
    stmt = select(StatementTemplateRow)
    if key:
        stmt = stmt.where(StatementTemplateRow.key == key)
    if approved_only:
        stmt = stmt.where(StatementTemplateRow.status == "approved")
    return list(
        session.exec(stmt.order_by(col(StatementTemplateRow.key), col(StatementTemplateRow.version))).all()
    )


def template_version(session: Session, key: str, version: int) -> StatementTemplateRow | None:
    return session.exec(
        select(StatementTemplateRow).where(
            StatementTemplateRow.key == key, StatementTemplateRow.version == version
        )
    ).first()


def next_template_version(session: Session, key: str) -> int:
    current = session.exec(
        select(func.max(StatementTemplateRow.version)).where(StatementTemplateRow.key == key)
    ).one()
    return int(current or 0) + 1


def incidents(
    session: Session, mode: Mode | None, stage: str | None, level: RiskLevel | None, limit: int
) -> list[Incident]:
    """Incidents (and drills) matching every given filter, newest first."""
    stmt = select(Incident)
    if mode:
        stmt = stmt.where(Incident.mode == mode.value)
    if stage:
        stmt = stmt.where(Incident.stage == stage)
    if level:
        stmt = stmt.where(Incident.level == level.value)
    return list(session.exec(stmt.order_by(col(Incident.id).desc()).limit(limit)))


def drills(session: Session) -> list[Incident]:
    """Every drill run, newest first."""
    return list(
        session.exec(select(Incident).where(Incident.mode == "drill").order_by(col(Incident.id).desc())).all()
    )


def incident_events(session: Session, incident_id: int) -> list[IncidentEvent]:
    """The incident's timeline, in order."""
    return list(
        session.exec(
            select(IncidentEvent).where(IncidentEvent.incident_id == incident_id).order_by(col(IncidentEvent.seq))
        ).all()
    )


def input_for(session: Session, row: Incident) -> IncidentInput:
    """The workflow input for an incident row (current plans), e.g. to join it with update-with-start."""
    plans, versions = current_plans(session)
    m = matrix(session)
    assert row.id is not None
    return IncidentInput(
        incident_id=row.id,
        title=row.title,
        description=row.description,
        reported_by=row.reported_by,
        evidence=[Evidence.model_validate(e) for e in row.evidence],
        topic=row.topic,
        mode=Mode(row.mode),
        plans=plans,
        plan_versions=versions,
        matrix_cells={i.value: {k.value: v.value for k, v in r.items()} for i, r in m.cells.items()},
    )


def open_incident(
    session: Session,
    *,
    title: str,
    description: str,
    reported_by: str,
    evidence: list[Evidence],
    topic: str = "",
    mode: Mode = Mode.real,
    drill: DrillScenario | None = None,
    record_start: bool = True,
) -> tuple[Incident, IncidentInput]:
    """Insert the incident row (flushed, not committed) and build the workflow input from current plans.

    With ``record_start`` the process start is recorded in the same transaction (db/outbox.py); a caller
    that starts the workflow itself, durably (a drill's child workflow), passes False.
    """
    plans, versions = current_plans(session)
    if set(plans) != {RiskLevel.low, RiskLevel.medium, RiskLevel.high}:
        raise ValueError("plans: a plan for each of low, medium and high is required")
    row = Incident(
        title=title,
        description=description,
        topic=topic,
        mode=mode.value,
        reported_by=reported_by,
        evidence=[e.model_dump() for e in evidence],
        drill_scenario=drill.model_dump(mode="json") if drill else None,
        stage="starting",  # until its process runs and projects its first stage (confirming)
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    row.workflow_id = ids.incident(row.id)
    m = matrix(session)
    inp = IncidentInput(
        incident_id=row.id,
        title=title,
        description=description,
        reported_by=reported_by,
        evidence=evidence,
        topic=topic,
        mode=mode,
        plans=plans,
        plan_versions=versions,
        matrix_cells={i.value: {k.value: v.value for k, v in row_.items()} for i, row_ in m.cells.items()},
        drill=drill,
    )
    if record_start:
        outbox.add_start(session, row.workflow_id, "EmergencyWorkflow", inp, summary=f"事件 #{row.id}：{title}")
    return row, inp
