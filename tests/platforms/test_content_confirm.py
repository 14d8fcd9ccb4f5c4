"""The content activities' publish + confirm path with a real connector (Douyin stub): the post is found,
confirmed live with the approved text, and a platform without a title field is not called "changed"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from activities.content import ContentActivities
from connectors.base import PostRequest
from connectors.registry import ConnectorRegistry
from db.engine import Database
from db.models import ContentPublication, PlatformAccount
from domain.content import AdaptedVariant, MediaRef, PublicationRecord
from domain.content_io import ConfirmInput
from domain.kernel import Platform
from domain.roles import Role
from tests.content_helpers import insert_item, plan, version
from tests.platforms.stub_douyin import RunningDouyin, serve_douyin
from tests.platforms.test_douyin import ACCOUNT, make
from tests.seeds import seed_users


@pytest.fixture
def douyin() -> Iterator[RunningDouyin]:
    running = serve_douyin()
    running.stub.reviewed_after = 0
    yield running
    running.close()


def test_publish_then_confirm_through_the_douyin_connector(
    sqlite_database: Database, douyin: RunningDouyin, tmp_path: Path
) -> None:
    db = sqlite_database
    actors, _ = seed_users(db, {"creator": [Role.content_creator]})
    with db.session() as s:
        s.add(PlatformAccount(platform="douyin", handle=ACCOUNT, display_name=ACCOUNT, connector="douyin"))
        s.commit()
    content_id = insert_item(db, actors["creator"], plan(datetime.now(UTC)), version())
    conn, _ = make(douyin)
    acts = ContentActivities(db, ConnectorRegistry(db, {"douyin": conn}))
    (tmp_path / "v.mp4").write_bytes(b"\x00" * 1000)
    variant = AdaptedVariant(
        platform=Platform.douyin,
        account=ACCOUNT,
        title="秋季新品发布",
        body="秋季新品开箱 #秋季新品",
        media=[MediaRef(kind="video", uri=str(tmp_path / "v.mp4"))],
    )
    ref = conn.publish(
        PostRequest(
            platform=Platform.douyin,
            account=ACCOUNT,
            idempotency_key="k1",
            title=variant.title,
            text=variant.body,
            media=variant.media,
        )
    )
    with db.session() as s:
        s.add(
            ContentPublication(
                content_id=content_id,
                platform="douyin",
                account=ACCOUNT,
                idempotency_key="k1",
                external_id=ref.external_id,
                published_at=datetime.now(UTC),
            )
        )
        s.commit()
    pub = PublicationRecord(
        platform=Platform.douyin, account=ACCOUNT, idempotency_key="k1", external_id=ref.external_id
    )
    ok = acts.confirm(
        ConfirmInput(
            content_id=content_id, publication=pub, expected_title=variant.title, expected_text=variant.body
        )
    )
    assert ok.confirmed, ok.confirmation_note
    changed = acts.confirm(
        ConfirmInput(
            content_id=content_id, publication=pub, expected_title=variant.title, expected_text="别的文字"
        )
    )
    assert changed.confirmed is False and "不一致" in changed.confirmation_note
