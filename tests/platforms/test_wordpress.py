"""The WordPress connector against its stub (reference §5): future scheduling, trash vs force (410),
hold/approve, a refused application password → reauthorize_needed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from connectors.base import PlatformError, PostRequest
from connectors.credentials import REAUTHORIZE_NEEDED, ConnectorContext, Credentials, MemoryCredentialStore
from connectors.wordpress import WordPressConnector
from domain.kernel import Platform
from tests.platforms.asgi_server import serve
from tests.platforms.wordpress_stub import WordPressState, wordpress_app

W = Platform.website


@pytest.fixture
def wp() -> Iterator[tuple[WordPressState, WordPressConnector, MemoryCredentialStore]]:
    state = WordPressState()
    with serve(wordpress_app(state)) as base:
        store = MemoryCredentialStore()
        store.put(
            W, "site", Credentials(app_id=state.user, app_secret=SecretStr(state.app_password), api_base=base)
        )
        yield state, WordPressConnector(ConnectorContext(store)), store


def test_a_post_for_later_is_future_and_delete_trashes_then_410_counts_as_done(
    wp: tuple[WordPressState, WordPressConnector, MemoryCredentialStore],
) -> None:
    state, conn, store = wp
    at = datetime.now(UTC) + timedelta(days=1)
    ref = conn.publish(
        PostRequest(platform=W, account="site", idempotency_key="k", title="预告", text="明天见", publish_at=at)
    )
    assert state.posts[int(ref.external_id)]["status"] == "future"
    view = conn.get_post(W, "site", ref.external_id)
    assert view is not None and view.status == "pending" and view.title == "预告"
    conn.delete(W, "site", ref.external_id, "cancelled")
    assert state.posts[int(ref.external_id)]["status"] == "trash"
    conn.delete(W, "site", ref.external_id, "again")  # 410 rest_already_trashed: already done
    creds = store.get(W, "site")
    store.put(W, "site", creds.model_copy(update={"options": {"delete_mode": "force"}}))
    conn.delete(W, "site", ref.external_id, "for good")
    assert int(ref.external_id) not in state.posts and conn.get_post(W, "site", ref.external_id) is None


def test_hold_and_approve_a_comment(wp: tuple[WordPressState, WordPressConnector, MemoryCredentialStore]) -> None:
    state, conn, _ = wp
    ref = conn.publish(PostRequest(platform=W, account="site", idempotency_key="k", title="t", text="正文"))
    c = state.add_comment(int(ref.external_id), "广告广告")
    conn.hide(W, "site", str(c["id"]))
    assert state.comments[c["id"]]["status"] == "hold"
    conn.unhide(W, "site", str(c["id"]))
    assert state.comments[c["id"]]["status"] == "approved"


def test_a_refused_application_password_needs_reauthorization(
    wp: tuple[WordPressState, WordPressConnector, MemoryCredentialStore],
) -> None:
    state, conn, store = wp
    state.app_password = "revoked"
    with pytest.raises(PlatformError) as exc:
        conn.publish(PostRequest(platform=W, account="site", idempotency_key="k", title="t", text="正文"))
    assert exc.value.code == REAUTHORIZE_NEEDED and not exc.value.retryable
    assert store.reauthorize[(W, "site")].startswith("incorrect_password")
    assert state.posts == {}
