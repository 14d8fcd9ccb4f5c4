"""``/drill-schedules`` (Temporal Schedules) and ``/drills`` (their runs and scorecards) (R-5.1.8)."""

from __future__ import annotations

from fastapi import APIRouter
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError, RPCStatusCode

from api import workflows as wf
from api.deps import AnyUserDep, PlannersDep, RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.errors import conflict, not_found
from api.schemas.drills import DrillPublic, DrillScheduleCreate, DrillSchedulePublic, NoteIn
from db import emergency
from db.accounts import Principal
from domain import ids
from workflows.emergency import DrillWorkflow

router = APIRouter(prefix="/drill-schedules", tags=["drills"])
runs = APIRouter(prefix="/drills", tags=["drills"])  # the runs the schedules started


async def _describe(client: TemporalDep, key: str) -> DrillSchedulePublic:
    try:
        desc = await client.get_schedule_handle(ids.drill_schedule(key)).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise not_found("drill schedule", key) from None
        raise
    return DrillSchedulePublic(
        key=key,
        schedule_id=desc.id,
        paused=desc.schedule.state.paused,
        note=desc.schedule.state.note or "",
        next_runs=desc.info.next_action_times[:5],
        recent_runs=[getattr(a.action, "workflow_id", "") for a in desc.info.recent_actions],
    )


@router.post("", response_model=DrillSchedulePublic, status_code=201, summary="Schedule drills")
async def create_drill_schedule(
    body: DrillScheduleCreate,
    principal: PlannersDep,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    rid: RequestIdDep,
) -> DrillSchedulePublic:
    c = body.calendar  # months, day, time and the time zone are checked by the schema
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            DrillWorkflow.run, body.scenario, id=ids.drill_run(body.key), task_queue=settings.task_queue
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    month=[ScheduleRange(m) for m in sorted(set(c.months))],
                    day_of_month=[ScheduleRange(c.day_of_month)],
                    hour=[ScheduleRange(c.hour)],
                    minute=[ScheduleRange(c.minute)],
                )
            ],
            time_zone_name=body.timezone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(note=body.note or body.scenario.name),
    )
    try:
        await client.create_schedule(ids.drill_schedule(body.key), schedule)
    except ScheduleAlreadyRunningError:
        raise conflict(f"drill schedule {body.key!r} already exists", field="key") from None
    await wf.write_audit(
        session, principal, "drill_schedule.create", f"schedule:{body.key}", rid, body.model_dump(mode="json")
    )
    return await _describe(client, body.key)


@router.get("", response_model=list[DrillSchedulePublic])
async def list_drill_schedules(_: AnyUserDep, client: TemporalDep) -> list[DrillSchedulePublic]:
    out = []
    async for s in await client.list_schedules():
        if s.id.startswith("drill-"):
            out.append(await _describe(client, s.id.removeprefix("drill-")))
    return out


@router.get("/{key}", response_model=DrillSchedulePublic)
async def get_drill_schedule(key: str, _: AnyUserDep, client: TemporalDep) -> DrillSchedulePublic:
    return await _describe(client, key)


async def _act(
    client: TemporalDep, session: SessionDep, principal: Principal, key: str, action: str, rid: str, note: str = ""
) -> DrillSchedulePublic:
    await _describe(client, key)  # 404 first
    handle = client.get_schedule_handle(ids.drill_schedule(key))
    if action == "pause":
        await handle.pause(note=note or f"paused by {principal.name}")
    elif action == "unpause":
        await handle.unpause(note=note or f"resumed by {principal.name}")
    elif action == "trigger":
        await handle.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)
    await wf.write_audit(session, principal, f"drill_schedule.{action}", f"schedule:{key}", rid, {"note": note})
    return await _describe(client, key)


@router.post("/{key}/pause", response_model=DrillSchedulePublic)
async def pause(
    key: str, body: NoteIn, principal: PlannersDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> DrillSchedulePublic:
    return await _act(client, session, principal, key, "pause", rid, body.note)


@router.post("/{key}/unpause", response_model=DrillSchedulePublic)
async def unpause(
    key: str, body: NoteIn, principal: PlannersDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> DrillSchedulePublic:
    return await _act(client, session, principal, key, "unpause", rid, body.note)


@router.post("/{key}/trigger", response_model=DrillSchedulePublic, summary="Run a drill now")
async def trigger(
    key: str, principal: PlannersDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> DrillSchedulePublic:
    return await _act(client, session, principal, key, "trigger", rid)


@router.delete("/{key}", status_code=204)
async def delete_drill_schedule(
    key: str, principal: PlannersDep, session: SessionDep, client: TemporalDep, rid: RequestIdDep
) -> None:
    await _describe(client, key)
    await client.get_schedule_handle(ids.drill_schedule(key)).delete()
    await wf.write_audit(session, principal, "drill_schedule.delete", f"schedule:{key}", rid, {})


@runs.get("", response_model=list[DrillPublic], summary="Drill runs and their scorecards")
def list_drills(_: AnyUserDep, session: SessionDep) -> list[DrillPublic]:
    rows = emergency.drills(session)
    return [
        DrillPublic(
            incident_id=r.id or 0,
            title=r.title,
            stage=r.stage,
            level=r.level,
            started_at=r.created_at,
            scenario=r.drill_scenario,
            scorecard=r.figures,
        )
        for r in rows
    ]
