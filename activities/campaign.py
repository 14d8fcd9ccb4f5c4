"""Side effects of the campaign workflow: projection, the sealed draw secret, posts, freeze and draw.

The secret is generated and sealed here and never returned: the workflow sees only the commitment. The
draw opens it, builds draw.json (which reveals it, as the protocol requires) and returns entry ids.
"""

from __future__ import annotations

import hashlib
import json
import secrets

import structlog
from sqlmodel import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from connectors.base import PlatformError, PlatformTimeout, PostRequest
from connectors.registry import ConnectorRegistry
from core.sealing import secret_sealer
from db import campaign as q
from db.campaign import Campaign, CampaignEntry, CampaignSecret
from db.engine import Database
from db.models import utcnow
from domain.campaign import draw as drawing
from domain.campaign.entries import select_entrants
from domain.campaign.io import (
    CommitInput,
    DrawInput,
    DrawOutput,
    FreezeInput,
    InboxImportInput,
    PostInput,
    PostResult,
    ProjectionInput,
)
from domain.campaign.models import DrawResult, FreezeResult, Pick
from domain.campaign.verify_draw import leaf_hash, root_from_hashes

log = structlog.get_logger("socialops.campaign")


class CampaignActivities:
    def __init__(self, db: Database, connectors: ConnectorRegistry, secret_key: str) -> None:
        self.db = db
        self.connectors = connectors
        self.sealer = secret_sealer(secret_key)

    def _row(self, session, campaign_id: int) -> Campaign:  # type: ignore[no-untyped-def]
        row = session.get(Campaign, campaign_id)
        if row is None:  # retryable: the API commits the row just after starting the workflow
            raise ApplicationError(f"campaign {campaign_id} has no row (yet)", type="NotFound")
        return row  # type: ignore[no-any-return]

    @activity.defn(name="campaign_project")
    def project(self, inp: ProjectionInput) -> None:
        with self.db.session() as session:
            row = self._row(session, inp.campaign_id)
            row.stage = inp.stage.value
            row.title = inp.plan.title
            row.plan = inp.plan.model_dump(mode="json")
            row.plan_hash = inp.plan_hash
            row.commitment = inp.commitment or row.commitment
            row.beacon_round = inp.beacon_round or row.beacon_round
            row.post_ref = inp.post_ref or row.post_ref
            row.results_text = inp.results_text or row.results_text
            if inp.report is not None:
                row.report = inp.report.model_dump(mode="json")
            row.updated_at = utcnow()
            session.add(row)
            session.commit()

    @activity.defn(name="campaign_commit")
    def commit(self, inp: CommitInput) -> str:
        """Generate and seal the 32-byte secret once; a retry returns the same commitment."""
        with self.db.session() as session:
            existing = session.get(CampaignSecret, inp.campaign_id)
            if existing is not None:
                return existing.commitment
            secret = secrets.token_bytes(32)
            commitment = drawing.commitment_hex(inp.campaign_id, secret)
            sealed = self.sealer.seal(secret, f"campaign:{inp.campaign_id}")
            session.add(CampaignSecret(campaign_id=inp.campaign_id, sealed=sealed, commitment=commitment))
            session.commit()
            return commitment

    @activity.defn(name="campaign_publish_post")
    def publish_post(self, inp: PostInput) -> PostResult:
        """Idempotent by key: a post the platform already has under our key is not published again."""
        try:
            connector = self.connectors.for_account(inp.platform, inp.account)
            ref = connector.find_by_key(inp.platform, inp.account, inp.idempotency_key)
            if ref is None:
                ref = connector.publish(
                    PostRequest(
                        platform=inp.platform,
                        account=inp.account,
                        idempotency_key=inp.idempotency_key,
                        title=inp.title,
                        text=inp.text,
                    )
                )
        except PlatformTimeout as exc:
            raise ApplicationError(f"outcome unknown: {exc}", type="PlatformTimeout") from exc
        except PlatformError as exc:
            raise ApplicationError(
                str(exc), exc.code, type="PlatformError", non_retryable=not exc.retryable
            ) from exc
        return PostResult(external_id=ref.external_id, url=ref.url)

    @activity.defn(name="campaign_import_inbox")
    def import_inbox(self, inp: InboxImportInput) -> int:
        """Entries from the engagement inbox (comments, keyword comments, DMs, mentions as reposts)."""
        with self.db.session() as session:
            self._row(session, inp.campaign_id)
            return q.import_inbox(session, inp.campaign_id, inp.plan, inp.since, inp.until)

    @activity.defn(name="campaign_freeze")
    def freeze(self, inp: FreezeInput) -> FreezeResult:
        """Fix the eligible list (entry order), log every exclusion with its reason, store N and the root."""
        with self.db.session() as session:
            records = q.entries(session, inp.campaign_id)
            eligible, excluded = select_entrants(records, inp.plan, inp.pauses, inp.opened)
            rows = {
                r.id: r
                for r in session.exec(
                    select(CampaignEntry).where(CampaignEntry.campaign_id == inp.campaign_id)
                ).all()
            }
            for index, e in enumerate(eligible):
                row = rows[e.id]
                row.status, row.leaf_index, row.exclusion_code, row.exclusion_reason = "eligible", index, "", ""
                session.add(row)
            counts: dict[str, int] = {}
            for x in excluded:
                row = rows[x.entry_id]
                row.status, row.leaf_index = "excluded", None
                row.exclusion_code, row.exclusion_reason = x.code, x.reason
                counts[x.code] = counts.get(x.code, 0) + 1
                session.add(row)
            root = root_from_hashes([leaf_hash(e.leaf.encode("utf-8")) for e in eligible]).hex()
            campaign = self._row(session, inp.campaign_id)
            campaign.n, campaign.root = len(eligible), root
            session.add(campaign)
            session.commit()
        log.info("campaign frozen", campaign=inp.campaign_id, n=len(eligible), excluded=len(excluded))
        return FreezeResult(
            n=len(eligible),
            root=root,
            entries=len(records),
            unique_users=len({r.leaf for r in records}),
            excluded=counts,
        )

    @activity.defn(name="campaign_draw")
    def draw(self, inp: DrawInput) -> DrawOutput:
        """Open the secret, draw, store draw.json. Deterministic: a retry produces the same document."""
        with self.db.session() as session:
            sealed = session.get(CampaignSecret, inp.campaign_id)
            if sealed is None:
                raise ApplicationError("no committed secret for this campaign", non_retryable=True)
            secret = self.sealer.open(sealed.sealed, f"campaign:{inp.campaign_id}")
            frozen = q.frozen_leaves(session, inp.campaign_id)
            campaign = self._row(session, inp.campaign_id)
            beacon = {
                "source": "drand quicknet",
                "chain_hash": drawing.proto.DRAND_QUICKNET_CHAIN,
                "round": inp.beacon.round,
                "round_time": inp.beacon.round_time,
                "randomness": inp.beacon.randomness.lower(),
                "evidence": inp.beacon.evidence,
                "entered_by": inp.beacon.entered_by,
            }
            if inp.beacon.signature:
                beacon["signature"] = inp.beacon.signature.lower()
            prizes = [{"name": p.name, "quantity": p.quantity} for p in inp.plan.prizes if p.quantity]
            doc, winners, reserves = drawing.build(
                campaign_id=inp.campaign_id,
                secret=secret,
                leaves=[leaf for _, leaf in frozen],
                beacon=beacon,
                prizes=prizes,
                reserves=inp.plan.reserves,
            )
            if doc["entrants"]["root"] != campaign.root:
                raise ApplicationError(
                    "the frozen list no longer hashes to the published root", non_retryable=True
                )
            campaign.draw = doc
            session.add(campaign)
            session.commit()
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        slots = inp.plan.slots()
        text = drawing.results_text(
            inp.plan,
            [(slots[r], frozen[i][1]) for r, i in enumerate(winners)],
            doc["entrants"]["root"],
            len(frozen),
            inp.beacon.round,
        )
        result = DrawResult(
            seed=doc["seed"],
            winners=[Pick(rank=r, index=i, entry_id=frozen[i][0]) for r, i in enumerate(winners)],
            reserves=[Pick(rank=len(winners) + r, index=i, entry_id=frozen[i][0]) for r, i in enumerate(reserves)],
            draw_sha256=digest,
        )
        return DrawOutput(draw=result, results_text=text)
