from __future__ import annotations

import structlog
from sqlalchemy.exc import IntegrityError
from temporalio import activity

from db.engine import Database
from db.models import Notification
from domain.activity_io import NotifyInput

log = structlog.get_logger("socialops.notify")


class NotificationActivities:
    """Records every reminder/escalation/alert (idempotent by ``dedupe_key``) and logs it.

    Delivery to group bots and e-mail plugs in here (issue: emergency response, notifier interface).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn
    def notify(self, inp: NotifyInput) -> bool:
        with self.db.session() as session:
            session.add(
                Notification(
                    recipient_role=inp.recipient_role,
                    recipient_user=inp.recipient_user,
                    kind=inp.kind,
                    subject=inp.subject,
                    body=inp.body,
                    ref=inp.ref,
                    dedupe_key=inp.dedupe_key,
                )
            )
            try:
                session.commit()
            except IntegrityError:
                return False  # already sent (activity retry)
        log.info(
            "notification",
            kind=inp.kind,
            role=inp.recipient_role,
            user=inp.recipient_user,
            subject=inp.subject,
            ref=inp.ref,
        )
        return True
