from __future__ import annotations

import structlog
from sqlmodel import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from connectors.notifiers import LogNotifier, Message, Notifier, NotifierError
from db.engine import Database
from db.models import Notification, utcnow
from domain.emergency import drill_mark
from domain.notify_io import NotifyInput

log = structlog.get_logger("socialops.notify")


class NotificationActivities:
    """Records every reminder, page, escalation and alert, then delivers it through the configured channels.

    Idempotent by ``dedupe_key``: a retry after a delivery failure delivers again, a retry after success
    does nothing. Drills are marked 【演练】 on every channel.
    """

    def __init__(self, db: Database, notifiers: list[Notifier] | None = None) -> None:
        self.db = db
        self.notifiers: list[Notifier] = notifiers if notifiers is not None else [LogNotifier()]

    @activity.defn
    def notify(self, inp: NotifyInput) -> bool:
        with self.db.session() as session:
            row = session.exec(select(Notification).where(Notification.dedupe_key == inp.dedupe_key)).first()
            if row is not None and row.delivered_at is not None:
                return False
            if row is None:
                row = Notification(
                    recipient_role=inp.recipient_role,
                    recipient_user=inp.recipient_user,
                    kind=inp.kind,
                    subject=drill_mark(inp.subject) if inp.drill else inp.subject,
                    body=inp.body,
                    ref=inp.ref,
                    dedupe_key=inp.dedupe_key,
                    drill=inp.drill,
                )
                session.add(row)
                session.commit()
            message = Message(
                subject=inp.subject, body=self._body(inp), kind=inp.kind, drill=inp.drill, ref=inp.ref
            )
            failures: list[str] = []
            for notifier in self.notifiers:
                try:
                    notifier.send(message)
                except NotifierError as exc:
                    failures.append(f"{notifier.name}: {exc}")
                    log.warning(
                        "notification channel failed", channel=notifier.name, error=str(exc), code=exc.code
                    )
            if failures and len(failures) == len(self.notifiers):
                raise ApplicationError("every channel failed: " + "; ".join(failures), type="NotifierError")
            row.delivered_at = utcnow()
            session.add(row)
            session.commit()
        return True

    @staticmethod
    def _body(inp: NotifyInput) -> str:
        who = inp.recipient_user or (f"角色 {inp.recipient_role}" if inp.recipient_role else "")
        return "\n".join(x for x in (f"接收人：{who}" if who else "", inp.body, inp.ref) if x)
