"""Side effects of monitoring: sweep sources (RSS, platform search), analyse and store, escalate."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import feedparser
import httpx
import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from temporalio import activity
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from connectors.registry import ConnectorRegistry
from db.emergency import input_for, open_incident
from db.engine import Database
from db.models import Incident, MonitoredItem, MonitorSource, MonitorTopic, TopicIncident, TopicStat
from db.monitoring import high_risk_in, ingest, mark_escalated, record_escalations, topic_counts
from domain import ids
from domain.emergency import Evidence, EvidenceBatch
from domain.kernel import Platform
from domain.monitoring import EwmaState, RawItem, SpikeDetector
from domain.monitoring_io import EscalateInput, EscalateResult, SweepInput, SweepResult

log = structlog.get_logger("socialops.monitoring")


def parse_feed(content: bytes) -> list[RawItem]:
    feed = feedparser.parse(content)
    items = []
    for e in feed.entries:
        ident = e.get("id") or e.get("link") or e.get("title")
        text = e.get("summary") or e.get("description") or e.get("title") or ""
        if not ident or not text:
            continue
        published = None
        if e.get("published_parsed"):
            y, mo, d, h, mi, sec = e.published_parsed[:6]
            published = datetime(y, mo, d, h, mi, sec, tzinfo=UTC)
        items.append(
            RawItem(
                external_id=str(ident)[:200],
                url=e.get("link", ""),
                title=e.get("title", "")[:500],
                text=text[:20000],
                author=e.get("author", "")[:200],
                published_at=published,
            )
        )
    return items


FeedFetcher = Callable[[str], bytes]


def http_feed(url: str) -> bytes:
    """The default feed fetcher: GET the feed (redirects followed); an HTTP error is the source's error."""
    r = httpx.get(url, timeout=20, follow_redirects=True)
    r.raise_for_status()
    return r.content


class MonitoringActivities:
    def __init__(self, db: Database, connectors: ConnectorRegistry, fetch_feed: FeedFetcher = http_feed) -> None:
        self.db = db
        self.connectors = connectors
        self.fetch_feed = fetch_feed  # injected: tests and air-gapped sites pass their own

    def _fetch(
        self, source: MonitorSource, spec_terms: list[str], since: datetime, until: datetime
    ) -> list[RawItem]:
        if source.kind == "rss":
            return parse_feed(self.fetch_feed(source.url))
        if source.kind == "platform":
            # ``account://<platform>/<handle>``: a connected account's search, through the registry like
            # every other call to a real account; ``<connector>://<platform>`` (sandbox://weibo): a connector
            # not tied to an account (the sandbox's brand chatter).
            kind, _, rest = source.url.partition("://")
            if kind == "account":
                name, _, handle = rest.partition("/")
                platform = Platform(name)
                connector = self.connectors.for_account(platform, handle)
            else:
                platform = Platform(rest or "weibo")
                connector = self.connectors.by_kind(kind)
            hits = connector.search(platform, spec_terms, since, until)
            return [RawItem.model_validate(h.model_dump()) for h in hits]
        return []  # webhook and manual sources push; nothing to fetch

    @activity.defn
    async def sweep(self, inp: SweepInput) -> SweepResult:
        """Fetch, analyse and store; the topic's figures count everything that arrived in the window (swept,
        pushed or entered by hand, and items another topic's sweep stored first); high-risk items that also
        match other topics are handed to those topics' workflows at once."""
        result, keys = await asyncio.to_thread(self._sweep, inp)
        if keys:
            from core.dispatch import dispatch

            await dispatch(activity.client(), self.db, activity.info().task_queue, keys=keys)
        return result

    def _sweep(self, inp: SweepInput) -> tuple[SweepResult, list[str]]:
        spec = inp.spec
        result = SweepResult()
        terms = [*spec.groups.brand, *spec.groups.product, *spec.groups.founder, *spec.groups.industry]
        with self.db.session() as session:
            sources = session.exec(
                select(MonitorSource).where(col(MonitorSource.key).in_(spec.sources), MonitorSource.active == True)  # noqa: E712
            ).all()
            others: dict[str, list[int]] = {}
            for source in sources:
                try:
                    items = self._fetch(source, terms, inp.window_start, inp.now)
                except Exception as exc:  # one broken source must not stop the others
                    result.errors.append(f"{source.key}: {exc}")
                    log.warning("source failed", source=source.key, error=str(exc))
                    continue
                result.fetched += len(items)
                res = ingest(session, source, items, inp.now, keep_unmatched=False)
                result.duplicates += res.duplicates
                for key, found in res.high_risk.items():
                    if key == spec.key:
                        result.high_risk_ids += found
                    else:
                        others.setdefault(key, []).extend(found)
            keys = record_escalations(session, others, skip=spec.key)
            session.commit()
            result.stored, result.negative = topic_counts(session, inp.window_start, inp.now, spec.key).get(
                spec.key, (0, 0)
            )
            high = high_risk_in(session, spec.key, inp.window_start, inp.now)
            result.spike, result.spike_detail = self._spike(session, spec.key, inp, result, high)
        return result, keys

    def _spike(self, session: Any, key: str, inp: SweepInput, res: SweepResult, high: int) -> tuple[bool, str]:
        topic = session.exec(select(MonitorTopic).where(MonitorTopic.key == key)).first()
        if topic is None:
            return False, ""
        state = dict(topic.spike_state or {})
        volume = SpikeDetector(state=EwmaState.model_validate(state.get("volume", {})))
        share = SpikeDetector(
            state=EwmaState.model_validate(state.get("negative_share", {})),
            min_value=0.3,
            k=3.0,
            poisson=False,
            min_std=0.05,
        )
        v_spike, v_z = volume.update(res.stored)
        neg_share = res.negative / res.stored if res.stored else 0.0
        s_spike, s_z = share.update(neg_share) if res.stored else (False, 0.0)
        topic.spike_state = {"volume": volume.state.model_dump(), "negative_share": share.state.model_dump()}
        session.add(topic)
        detail = ""
        if v_spike:
            detail += f"声量突增：{res.stored} 条（基线 {volume.state.mean:.1f}，z={v_z:.1f}）"
        if s_spike:
            detail += f"负面占比突增：{neg_share:.0%}（z={s_z:.1f}）"
        stat = session.exec(
            select(TopicStat).where(TopicStat.topic_key == key, TopicStat.window_start == inp.window_start)
        ).first()
        if stat is None:
            session.add(
                TopicStat(
                    topic_key=key,
                    window_start=inp.window_start,
                    volume=res.stored,
                    negative=res.negative,
                    high_risk=high,
                    spike=v_spike or s_spike,
                    detail={
                        "volume_z": round(v_z, 2) if v_z != float("inf") else None,
                        "negative_share": round(neg_share, 3),
                        "note": detail,
                    },
                )
            )
        session.commit()
        return v_spike or s_spike, detail

    @activity.defn
    async def escalate(self, inp: EscalateInput) -> EscalateResult:
        """Open the topic's incident or join the open one: one per topic, even for simultaneous hits.

        The ``topic_incidents`` primary key decides who creates it; the workflow start uses
        update-with-start with USE_EXISTING, so a retry never starts a second one.
        """
        incident_id, created, inp_wf = await asyncio.to_thread(self._claim, inp)
        evidence = await asyncio.to_thread(self._evidence, inp.topic_key, inp.item_ids, incident_id)
        client = activity.client()
        from workflows.emergency import EmergencyWorkflow

        batch = EvidenceBatch(source=f"monitor:{inp.topic_key}", items=evidence)
        # Creator and joiners alike: update-with-start, so a joiner that arrives before the creator has
        # started the workflow starts the very same one (same id, USE_EXISTING) instead of failing.
        op = WithStartWorkflowOperation(
            EmergencyWorkflow.run,
            inp_wf,
            id=ids.incident(incident_id),
            task_queue=activity.info().task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        attached = await client.execute_update_with_start_workflow(
            EmergencyWorkflow.attach_evidence, batch, start_workflow_operation=op
        )
        return EscalateResult(incident_id=incident_id, created=created, attached=int(attached))

    def _claim(self, inp: EscalateInput) -> tuple[int, bool, Any]:
        with self.db.session() as session:
            lock = session.get(TopicIncident, inp.topic_key)
            if lock is not None:
                row = session.get(Incident, lock.incident_id)
                if row is not None and row.stage not in ("closed", "false_alarm"):
                    return lock.incident_id, False, input_for(session, row)
                session.delete(lock)
                session.commit()
            first = session.get(MonitoredItem, inp.item_ids[0]) if inp.item_ids else None
            row, wf_input = open_incident(
                session,
                title=f"舆情高风险：{inp.topic_name}" + (f" — {first.text[:40]}" if first else ""),
                description="监测系统自动升级：高风险舆情",
                reported_by="monitoring",
                evidence=[],
                topic=inp.topic_key,
            )
            assert row.id is not None
            session.add(TopicIncident(topic_key=inp.topic_key, incident_id=row.id))
            try:
                session.commit()
            except IntegrityError:  # another hit claimed the topic first: join its incident
                session.rollback()
                lock = session.get(TopicIncident, inp.topic_key)
                assert lock is not None
                winner = session.get(Incident, lock.incident_id)
                assert winner is not None
                return lock.incident_id, False, input_for(session, winner)
            return row.id, True, wf_input

    def _evidence(self, topic: str, item_ids: list[int], incident_id: int) -> list[Evidence]:
        """The items as evidence, also written to the incident's record (its evidence list shows them)."""
        with self.db.session() as session:
            rows = mark_escalated(session, topic, item_ids, incident_id)
            out = []
            for r in rows:
                note = f"[{r.risk_level}/{r.sentiment}] {r.text[:80]}"
                out.append(Evidence(url=r.url or f"socialops://monitoring/items/{r.id}", note=note))
            incident = session.get(Incident, incident_id)
            if incident is not None and out:
                known = {e.get("url") for e in incident.evidence}
                incident.evidence = [*incident.evidence, *(e.model_dump() for e in out if e.url not in known)]
                session.add(incident)
            session.commit()
        return out or [Evidence(url="socialops://monitoring", note="高风险舆情")]
