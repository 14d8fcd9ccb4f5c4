"""One dependency per process record — the door a route uses to reach it (404 when there is none).

``ContentItemDep``, ``IncidentDep`` and ``InteractionDep`` read the record named by the path; a route then
sends its change to the record's process with ``api.workflows.send`` (one update + error map + audit row).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.deps import SessionDep
from api.errors import not_found
from db.campaign import Campaign
from db.models import ContentItem, Incident, Interaction, User


def content_item(content_id: int, session: SessionDep) -> ContentItem:
    row = session.get(ContentItem, content_id)
    if row is None:
        raise not_found("content", content_id)
    return row


def incident(incident_id: int, session: SessionDep) -> Incident:
    row = session.get(Incident, incident_id)
    if row is None:
        raise not_found("incident", incident_id)
    return row


def interaction(item_id: int, session: SessionDep) -> Interaction:
    row = session.get(Interaction, item_id)
    if row is None:
        raise not_found("item", item_id)
    return row


def campaign(campaign_id: int, session: SessionDep) -> Campaign:
    row = session.get(Campaign, campaign_id)
    if row is None:
        raise not_found("campaign", campaign_id)
    return row


def user_record(user_id: int, session: SessionDep) -> User:
    row = session.get(User, user_id)
    if row is None:
        raise not_found("user", user_id)
    return row


ContentItemDep = Annotated[ContentItem, Depends(content_item)]
IncidentDep = Annotated[Incident, Depends(incident)]
InteractionDep = Annotated[Interaction, Depends(interaction)]
CampaignDep = Annotated[Campaign, Depends(campaign)]
