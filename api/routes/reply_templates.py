"""``/reply-templates`` — the inbox's standard replies (thanks, acknowledgement, feedback closed)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import (
    AnyUserDep,
    LeadDep,
    RequestIdDep,
    SessionDep,
)
from api.schemas.reply_templates import ReplyTemplateUpdate
from db import audit, inbox
from db.models import (
    ReplyTemplate,
)

router = APIRouter(prefix="/reply-templates", tags=["reply templates"])


@router.get("", response_model=list[ReplyTemplateUpdate])
def list_templates(_: AnyUserDep, session: SessionDep) -> list[ReplyTemplateUpdate]:
    return [ReplyTemplateUpdate(key=r.key, body=r.body) for r in inbox.reply_templates(session)]


@router.put("", response_model=ReplyTemplateUpdate, summary="Create or change a reply template")
def put_template(
    body: ReplyTemplateUpdate, principal: LeadDep, session: SessionDep, rid: RequestIdDep
) -> ReplyTemplateUpdate:
    row = inbox.reply_template(session, body.key) or ReplyTemplate(key=body.key, body="")
    row.body = body.body
    session.add(row)
    audit.record(session, principal, "reply_template.put", f"template:{body.key}", rid, body.model_dump())
    session.commit()
    return body
