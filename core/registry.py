"""The one list of workflows and activities a worker runs (``worker.py`` and tests use it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from activities.accounts import AccountActivities
from activities.campaign import CampaignActivities
from activities.content import ContentActivities
from activities.emergency import EmergencyActivities
from activities.inbox import InboxActivities
from activities.monitoring import FeedFetcher, MonitoringActivities, http_feed
from activities.notify import NotificationActivities
from activities.system import SystemActivities
from connectors.base import PlatformConnector
from connectors.notifiers import Notifier
from connectors.registry import ConnectorRegistry
from core.settings import DEV_SECRET_KEY
from db.engine import Database
from workflows.account_tokens import AccountTokenWorkflow
from workflows.campaign import CampaignWorkflow
from workflows.content import ContentWorkflow
from workflows.emergency import DrillWorkflow, EmergencyWorkflow, IncidentTaskWorkflow
from workflows.inbox_poll import AccountPollWorkflow
from workflows.interaction import InteractionWorkflow
from workflows.monitoring import MonitoringWorkflow
from workflows.system import DailyChecksWorkflow, ReconcilerWorkflow, SystemCheckWorkflow

WORKFLOWS: list[type] = [
    SystemCheckWorkflow,
    ReconcilerWorkflow,
    DailyChecksWorkflow,
    ContentWorkflow,
    EmergencyWorkflow,
    IncidentTaskWorkflow,
    DrillWorkflow,
    MonitoringWorkflow,
    InteractionWorkflow,
    AccountPollWorkflow,
    CampaignWorkflow,
    AccountTokenWorkflow,
]


@dataclass
class Dependencies:
    """What activities need from the outside world; tests pass fakes."""

    db: Database
    connectors: dict[str, PlatformConnector] = field(default_factory=dict)
    notifiers: list[Notifier] | None = None  # None: the log notifier only
    fetch_feed: FeedFetcher = http_feed  # RSS sources' fetcher
    secret_key: str = DEV_SECRET_KEY  # seals campaign draw secrets (SOCIALOPS_SECRET_KEY)


def activities(deps: Dependencies) -> list[Callable[..., Any]]:
    system = SystemActivities(deps.db)
    registry = ConnectorRegistry(deps.db, deps.connectors)
    content = ContentActivities(deps.db, registry)
    emergency = EmergencyActivities(deps.db, registry)
    notify = NotificationActivities(deps.db, deps.notifiers)
    monitoring = MonitoringActivities(deps.db, registry, deps.fetch_feed)
    inbox = InboxActivities(deps.db, registry)
    campaign = CampaignActivities(deps.db, registry, deps.secret_key)
    accounts = AccountActivities(deps.db, registry, deps.secret_key)
    return [
        system.check_database,
        system.dispatch_pending_starts,
        system.calendar_coverage,
        content.sync_projection,
        content.save_version,
        content.compliance_scan,
        content.crisis_hold_status,
        content.publish,
        content.publish_status,
        content.confirm,
        content.fetch_metrics,
        content.retract,
        emergency.project_incident,
        emergency.record_event,
        emergency.roster,
        emergency.set_crisis_hold,
        emergency.publish_statement,
        emergency.open_drill_incident,
        emergency.store_postmortem,
        monitoring.sweep,
        monitoring.escalate,
        inbox.poll_account,
        inbox.mark_started,
        inbox.assign,
        inbox.reply,
        inbox.set_visibility,
        inbox.project,
        inbox.faq_lookup,
        inbox.open_feedback,
        inbox.close_feedback,
        inbox.save_faq,
        notify.notify,
        campaign.project,
        campaign.commit,
        campaign.publish_post,
        campaign.import_inbox,
        campaign.freeze,
        campaign.draw,
        accounts.check_tokens,
    ]
