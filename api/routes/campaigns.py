"""Campaigns (R-4.2.3, R-3.1): plan, checklist, review, entries, pause, beacon, draw, results, prizes.

The draw's public artefacts — ``draw.json``, inclusion proofs and the verifier itself — need no token:
anyone must be able to check a result. Schemas live here with the routes (``*Create / *Public``).

Over 400 lines because a campaign's door has many thin routes (one per step of its process); each route
only parses, authorises and calls the workflow or a query.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from api import resources
from api import workflows as wf
from api.deps import (
    AnyUserDep,
    DbDep,
    MaybeTemporalDep,
    RequestIdDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
    require_roles,
)
from api.errors import ApiError, bad_request, from_request
from api.openapi import documented_error
from api.params import PathId, PathIndex
from api.resources import CampaignDep
from api.schemas.campaigns import (
    AddressCreate,
    BeaconCreate,
    CampaignPublic,
    CampaignSummary,
    ChecklistPublic,
    ComplaintCreate,
    EntriesCreate,
    EntriesPublic,
    PrizeCreate,
    ReasonCreate,
    ResultsCreate,
    ReviewCreate,
    WinnerPublic,
)
from api.workflows import DoorDep, actor
from core.sealing import address_sealer
from core.settings import Settings
from db import audit, outbox, platform_accounts
from db import campaign as q
from db.accounts import Principal
from db.campaign import Campaign, CampaignAddress, CampaignEntry
from domain.campaign import verify_draw
from domain.campaign.checklist import check, needs_leadership
from domain.campaign.models import (
    ActorRequest,
    BeaconRequest,
    CampaignInput,
    CampaignPlan,
    CampaignState,
    ComplaintRequest,
    PrizeEvent,
    PrizeUpdate,
    ResultsApproval,
    ReviewRequest,
    ReviseRequest,
    Stage,
    SubmitRequest,
    SubmitResult,
    Thresholds,
)
from domain.roles import Role
from workflows.campaign import CampaignWorkflow

router = APIRouter(prefix="/campaigns", tags=["campaigns"])
PUBLIC_PATHS = frozenset(
    {"/campaigns/verify_draw.py", "/campaigns/{campaign_id}/draw.json", "/campaigns/{campaign_id}/proof"}
)
PLANNERS = (Role.marketing, Role.ops_head, Role.content_creator)
REVIEWERS = (Role.risk_compliance, Role.leadership)
ENTRY_FEEDERS = (Role.interaction_agent, Role.platform_admin, Role.ops_head)
PRIZE_HANDLERS = (Role.interaction_agent, Role.ops_head)
PlannerDep = Annotated[Principal, Depends(require_roles(*PLANNERS))]
ReviewerDep = Annotated[Principal, Depends(require_roles(*REVIEWERS))]
FeederDep = Annotated[Principal, Depends(require_roles(*ENTRY_FEEDERS))]
BeaconDep = Annotated[Principal, Depends(require_roles(Role.risk_compliance, Role.ops_head))]
ResultsDep = Annotated[Principal, Depends(require_roles(Role.ops_head, Role.leadership))]
PrizeDep = Annotated[Principal, Depends(require_roles(*PRIZE_HANDLERS))]
ComplaintDep = Annotated[
    Principal, Depends(require_roles(Role.interaction_agent, Role.ops_head, Role.risk_compliance))
]


# --- schemas ----------------------------------------------------------------------------------------


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(
        prize_cap=settings.campaign_prize_cap_cny,
        leadership_budget=settings.campaign_leadership_budget_cny,
        leadership_prize_value=settings.campaign_leadership_prize_cny,
    )


def _summary(row: Campaign, *, starting: bool = False) -> CampaignSummary:
    assert row.id is not None
    return CampaignSummary(
        process="starting" if starting else "started", id=row.id, title=row.title, owner=row.owner_name, stage=row.stage, commitment=row.commitment,
        beacon_round=row.beacon_round, n=row.n, root=row.root, created_at=row.created_at,
    )  # fmt: skip


def _check_accounts(session: SessionDep, plan: CampaignPlan) -> None:
    for i, a in enumerate(plan.accounts):
        row = platform_accounts.by_handle(session, a.platform.value, a.account)
        if row is None or not row.active:
            raise bad_request(f"accounts.{i}.account", f"no active {a.platform.value} account named {a.account!r}")


# --- plan, checklist, review ------------------------------------------------------------------------


@router.post("/checklist", response_model=ChecklistPublic, summary="Run the rules checklist on a plan (no record)")
def checklist(body: CampaignPlan, _: PlannerDep, settings: SettingsDep) -> ChecklistPublic:
    t = thresholds(settings)
    findings = check(body, t)
    return ChecklistPublic(
        findings=findings,
        blocking=any(f.severity.value == "blocking" for f in findings),
        needs_leadership=needs_leadership(body, t),
    )


@router.post("", response_model=CampaignSummary, status_code=201, summary="Plan a campaign (R-4.2.3)")
async def create_campaign(
    body: CampaignPlan, principal: PlannerDep, session: SessionDep, client: MaybeTemporalDep, db: DbDep,
    settings: SettingsDep, rid: RequestIdDep,
) -> CampaignSummary:  # fmt: skip

    def write() -> Campaign:
        _check_accounts(session, body)
        row = q.create(session, body, principal.user_id, principal.name)
        assert row.id is not None
        inp = CampaignInput(
            campaign_id=row.id,
            owner=principal.name,
            owner_id=principal.user_id,
            plan=body,
            thresholds=thresholds(settings),
        )
        outbox.add_start(
            session, row.workflow_id, "CampaignWorkflow", inp, summary=f"活动 #{row.id}：{body.title}"
        )
        audit.record(session, principal, "campaign.create", f"campaign:{row.id}", rid, {"title": body.title})
        session.commit()
        return row

    row = await run_in_threadpool(write)
    running = await wf.start_recorded(client, db, settings.task_queue, [row.workflow_id])
    return _summary(row, starting=row.workflow_id not in running)


@router.get("", response_model=list[CampaignSummary], summary="Campaigns, newest first")
def list_campaigns(
    _: AnyUserDep, session: SessionDep, stage: Annotated[str | None, Query(max_length=32)] = None
) -> list[CampaignSummary]:
    return [_summary(r) for r in q.campaigns(session, stage)]


@router.get("/verify_draw.py", response_class=PlainTextResponse, summary="The standalone verifier (public)")
def verifier() -> PlainTextResponse:
    return PlainTextResponse(Path(verify_draw.__file__).read_text(encoding="utf-8"), media_type="text/x-python")


@router.get("/{campaign_id}", response_model=CampaignPublic)
async def get_campaign(
    campaign_id: PathId, _: AnyUserDep, session: SessionDep, client: TemporalDep
) -> CampaignPublic:
    row = await run_in_threadpool(resources.campaign, campaign_id, session)
    state: CampaignState | None = None
    error: str | None = None
    try:
        state = await wf.query(client, row.workflow_id, CampaignWorkflow.current)
    except ApiError as exc:
        error = exc.message
    return CampaignPublic(
        **_summary(row).model_dump(), plan=row.plan, plan_hash=row.plan_hash, results_text=row.results_text,
        report=row.report, state=state, state_error=error,
    )  # fmt: skip


@router.put("/{campaign_id}/plan", response_model=CampaignState, summary="Change the plan (draft only)")
async def revise(
    campaign_id: PathId, principal: PlannerDep, campaign: CampaignDep, body: CampaignPlan, session: SessionDep, client: TemporalDep,
    rid: RequestIdDep,
) -> CampaignState:  # fmt: skip
    await run_in_threadpool(_check_accounts, session, body)
    req = ReviseRequest(actor=actor(principal), plan=body)
    out: CampaignState = await wf.send(session, client, principal, rid, campaign, CampaignWorkflow.revise, req, action="campaign.revise")  # fmt: skip
    return out


@router.post("/{campaign_id}/submit", response_model=SubmitResult, summary="Checklist, then review")
async def submit(
    campaign_id: PathId,
    principal: PlannerDep,
    campaign: CampaignDep,
    door: DoorDep,
) -> SubmitResult:
    result: SubmitResult = await door.send(principal, campaign, CampaignWorkflow.submit, SubmitRequest(actor=actor(principal)), action="campaign.submit")  # fmt: skip
    if not result.submitted:
        blocking = [f for f in result.findings if f.severity.value == "blocking"]
        raise ApiError(
            422, "checklist_failed", "the rules checklist found blocking problems; fix the plan and submit again",
            field=blocking[0].field, fields=[{"field": f.field, "reason": f.reason} for f in blocking],
            findings=[f.model_dump(mode="json") for f in result.findings],
        )  # fmt: skip
    return result


@router.post("/{campaign_id}/reviews", summary="Approve, request changes or reject (risk_compliance, leadership)")
async def review(
    campaign_id: PathId, principal: ReviewerDep, campaign: CampaignDep, body: ReviewCreate, session: SessionDep, client: TemporalDep,
    door: DoorDep,
) -> Any:  # fmt: skip
    req = ReviewRequest(actor=actor(principal), **body.model_dump())
    return await door.send(principal, campaign, CampaignWorkflow.review, req, action="campaign.review", detail={"stage": body.stage.value, "decision": body.decision.value})  # fmt: skip


@router.post("/{campaign_id}/cancel", response_model=CampaignState, summary="Cancel before launch")
async def cancel(
    campaign_id: PathId, principal: PlannerDep, campaign: CampaignDep, body: ReasonCreate, session: SessionDep, client: TemporalDep,
    door: DoorDep,
) -> CampaignState:  # fmt: skip
    out: CampaignState = await door.send(principal, campaign, CampaignWorkflow.cancel, ActorRequest(actor=actor(principal), reason=body.reason), action="campaign.cancel", detail={"reason": body.reason})  # fmt: skip
    return out


@router.post("/{campaign_id}/pause", response_model=CampaignState, summary="Stop counting new entries")
async def pause(
    campaign_id: PathId,
    principal: PlannerDep,
    campaign: CampaignDep,
    door: DoorDep,
) -> CampaignState:
    out: CampaignState = await door.send(principal, campaign, CampaignWorkflow.pause, ActorRequest(actor=actor(principal)), action="campaign.pause")  # fmt: skip
    return out


@router.post("/{campaign_id}/resume", response_model=CampaignState, summary="Count entries again")
async def resume(
    campaign_id: PathId,
    principal: PlannerDep,
    campaign: CampaignDep,
    door: DoorDep,
) -> CampaignState:
    out: CampaignState = await door.send(principal, campaign, CampaignWorkflow.resume, ActorRequest(actor=actor(principal)), action="campaign.resume")  # fmt: skip
    return out


# --- entries ----------------------------------------------------------------------------------------


@router.post(
    "/{campaign_id}/entries", response_model=EntriesPublic, summary="Add entries from the inbox/connectors"
)
def add_entries(
    campaign_id: PathId, body: EntriesCreate, principal: FeederDep, session: SessionDep, rid: RequestIdDep
) -> EntriesPublic:
    row = resources.campaign(campaign_id, session)
    if row.stage not in (Stage.running.value, Stage.paused.value):
        raise ApiError(409, "conflict", f"the campaign is not taking entries (stage {row.stage})", field="stage")
    new = [from_request(q.NewEntry, **e.model_dump()) for e in body.entries]
    stored, known = q.add_entries(session, campaign_id, new)
    audit.record(
        session, principal, "campaign.entries", f"campaign:{campaign_id}", rid, {"stored": stored, "known": known}
    )
    session.commit()
    return EntriesPublic(stored=stored, already_known=known)


@router.get("/{campaign_id}/figures", summary="Participation figures")
def figures(campaign_id: PathId, _: AnyUserDep, session: SessionDep) -> dict[str, Any]:
    resources.campaign(campaign_id, session)
    return q.figures(session, campaign_id)


@router.get("/{campaign_id}/exclusions", summary="Every excluded entry with its reason (after the freeze)")
def exclusions(campaign_id: PathId, _: ReviewerDep, session: SessionDep) -> list[dict[str, Any]]:
    resources.campaign(campaign_id, session)
    rows = q.excluded_entries(session, campaign_id)
    return [{"entry_id": r.id, "entrant": f"{r.platform}:{r.user}", "code": r.exclusion_code,
             "reason": r.exclusion_reason} for r in rows]  # fmt: skip


# --- the draw (public artefacts) --------------------------------------------------------------------


@router.post("/{campaign_id}/beacon", response_model=CampaignState, summary="Enter the public random value")
async def beacon(
    campaign_id: PathId, principal: BeaconDep, campaign: CampaignDep, body: BeaconCreate, session: SessionDep, client: TemporalDep,
    door: DoorDep,
) -> CampaignState:  # fmt: skip
    req = BeaconRequest(actor=actor(principal), **body.model_dump())
    out: CampaignState = await door.send(principal, campaign, CampaignWorkflow.enter_beacon, req, action="campaign.beacon", detail=body.model_dump())  # fmt: skip
    return out


@router.get(
    "/{campaign_id}/draw.json",
    summary="The draw document anyone can verify (public)",
    responses={409: documented_error("The draw has not taken place yet")},
)
def draw_json(campaign_id: PathId, session: SessionDep) -> JSONResponse:
    row = resources.campaign(campaign_id, session)
    if row.draw is None:
        raise ApiError(409, "conflict", "the draw has not taken place yet", field="stage")
    return JSONResponse(
        row.draw, headers={"Content-Disposition": f'attachment; filename="draw-{campaign_id}.json"'}
    )


@router.get(
    "/{campaign_id}/proof",
    summary="An entrant's inclusion proof in the frozen list (public)",
    responses={409: documented_error("The entrant list is not frozen yet")},
)
def proof(
    campaign_id: PathId, session: SessionDep, entrant: Annotated[str, Query(min_length=3, max_length=240)]
) -> dict[str, Any]:
    row = resources.campaign(campaign_id, session)
    if row.n is None:
        raise ApiError(409, "conflict", "the entrant list is not frozen yet", field="stage")
    leaves = q.frozen_leaves(session, campaign_id)
    hashes = [verify_draw.leaf_hash(leaf.encode("utf-8")) for _, leaf in leaves]
    index = next((i for i, (_, leaf) in enumerate(leaves) if leaf == entrant), None)
    if index is None:
        raise ApiError(404, "not_found", f"{entrant} is not in the frozen entrant list", field="entrant")
    return {"entrant": entrant, "index": index, "n": row.n, "root": row.root,
            "leaf_hash": hashes[index].hex(), "proof": [p.hex() for p in verify_draw.inclusion_proof(hashes, index)]}  # fmt: skip


# --- results, prizes, complaints --------------------------------------------------------------------


@router.post(
    "/{campaign_id}/results/approve", response_model=CampaignState, summary="Approve the results statement"
)
async def approve_results(
    campaign_id: PathId, principal: ResultsDep, campaign: CampaignDep, body: ResultsCreate, session: SessionDep, client: TemporalDep,
    door: DoorDep,
) -> CampaignState:  # fmt: skip
    out: CampaignState = await door.send(principal, campaign, CampaignWorkflow.approve_results, ResultsApproval(actor=actor(principal), text_hash=body.text_hash), action="campaign.results")  # fmt: skip
    return out


@router.get("/{campaign_id}/winners", response_model=list[WinnerPublic], summary="Winners to contact (prize team)")
async def winners(
    campaign_id: PathId, _: PrizeDep, session: SessionDep, client: TemporalDep
) -> list[WinnerPublic]:
    row = await run_in_threadpool(resources.campaign, campaign_id, session)
    state: CampaignState = await wf.query(client, row.workflow_id, CampaignWorkflow.current)

    def read() -> list[WinnerPublic]:
        out = []
        for slot in state.slots:
            entry = session.get(CampaignEntry, slot.entry_id) if slot.entry_id else None
            out.append(
                WinnerPublic(
                    slot=slot.slot, prize=slot.prize, status=slot.status.value,
                    entrant=f"{entry.platform}:{entry.user}" if entry else None, address_due=slot.address_due,
                    has_address=bool(slot.entry_id and session.get(CampaignAddress, slot.entry_id)),
                    forfeits=slot.history,
                )
            )  # fmt: skip
        return out

    return await run_in_threadpool(read)


@router.post(
    "/{campaign_id}/prizes/{slot}/address", response_model=CampaignState, summary="Store a winner's address"
)
async def address(
    campaign_id: PathId, principal: PrizeDep, campaign: CampaignDep, slot: PathIndex, body: AddressCreate, session: SessionDep, client: TemporalDep,
    settings: SettingsDep, rid: RequestIdDep,
) -> CampaignState:  # fmt: skip
    """Sealed in the database (never in workflow history); the workflow only learns that it arrived."""
    row = await run_in_threadpool(resources.campaign, campaign_id, session)
    state: CampaignState = await wf.query(client, row.workflow_id, CampaignWorkflow.current)
    if not 0 <= slot < len(state.slots) or state.slots[slot].entry_id is None:
        raise ApiError(404, "not_found", f"prize slot {slot} has no winner", field="slot")
    entry_id = state.slots[slot].entry_id
    assert entry_id is not None
    req = PrizeUpdate(actor=actor(principal), slot=slot, event=PrizeEvent.address_received)
    sealed = address_sealer(settings.secret_key.get_secret_value()).seal(
        body.model_dump_json().encode("utf-8"), f"entry:{entry_id}"
    )

    def stage() -> None:
        existing = session.get(CampaignAddress, entry_id)
        if existing is None:
            session.add(CampaignAddress(entry_id=entry_id, campaign_id=campaign_id, sealed=sealed))
        else:
            existing.sealed = sealed
            session.add(existing)

    await run_in_threadpool(stage)
    out: CampaignState = await wf.send(session, client, principal, rid, campaign, CampaignWorkflow.prize, req, action="campaign.address", detail={"slot": slot})  # fmt: skip
    return out


@router.post(
    "/{campaign_id}/prizes/{slot}", response_model=CampaignState, summary="Shipped, delivered or declined"
)
async def prize(
    campaign_id: PathId, principal: PrizeDep, campaign: CampaignDep, slot: PathIndex, body: PrizeCreate, session: SessionDep, client: TemporalDep,
    door: DoorDep,
) -> CampaignState:  # fmt: skip
    if body.event is PrizeEvent.address_received:
        raise ApiError(422, "validation_error", "event: send the address to …/address", field="event",
                       fields=[{"field": "event", "reason": "send the address to …/address"}])  # fmt: skip
    req = PrizeUpdate(actor=actor(principal), slot=slot, event=body.event, note=body.note)
    out: CampaignState = await door.send(principal, campaign, CampaignWorkflow.prize, req, action=f"campaign.prize.{body.event.value}", detail={"slot": slot, "note": body.note})  # fmt: skip
    return out


@router.post("/{campaign_id}/complaints", summary="Record a complaint about the campaign")
async def complaint(
    campaign_id: PathId, principal: ComplaintDep, campaign: CampaignDep, body: ComplaintCreate, session: SessionDep, client: TemporalDep,
    door: DoorDep,
) -> dict[str, int]:  # fmt: skip
    count: int = await door.send(principal, campaign, CampaignWorkflow.complaint, ComplaintRequest(actor=actor(principal), note=body.note), action="campaign.complaint", detail={"note": body.note})  # fmt: skip
    return {"complaints": count}
