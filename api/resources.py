"""One dependency per process record — the door a route uses to reach it (404 when there is none).

``ContentItemDep``, ``IncidentDep``, ``InteractionDep`` and ``CampaignDep`` read the record named by the path;
a route then sends its change to the record's process through ``api.workflows.Door`` (one update + error
map + audit row).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends
from sqlmodel import Session

from api.deps import SessionDep
from api.errors import not_found
from api.params import PathId
from db.campaign import Campaign
from db.models import ContentItem, Incident, Interaction, User

R = TypeVar("R")


def record(session: Session, model: type[R], ident: int, what: str) -> R:
    row: Any = session.get(model, ident)
    if row is None:
        raise not_found(what, ident)
    return row  # type: ignore[no-any-return]


def content_item(content_id: PathId, session: SessionDep) -> ContentItem:
    return record(session, ContentItem, content_id, "content")


def incident(incident_id: PathId, session: SessionDep) -> Incident:
    return record(session, Incident, incident_id, "incident")


def interaction(item_id: PathId, session: SessionDep) -> Interaction:
    return record(session, Interaction, item_id, "item")


def campaign(campaign_id: PathId, session: SessionDep) -> Campaign:
    return record(session, Campaign, campaign_id, "campaign")


def user_record(user_id: PathId, session: SessionDep) -> User:
    return record(session, User, user_id, "user")


ContentItemDep = Annotated[ContentItem, Depends(content_item)]
IncidentDep = Annotated[Incident, Depends(incident)]
InteractionDep = Annotated[Interaction, Depends(interaction)]
CampaignDep = Annotated[Campaign, Depends(campaign)]
