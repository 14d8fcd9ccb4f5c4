"""One conformance suite for every connector (issue 14.6): publish, look-up, confirm, metrics, comments,
reply, delete — and ``NotSupported`` for what a platform lacks. Connectors are listed in ``cases.py``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import NotSupported, PlatformError, PostRequest
from tests.platforms.cases import CASES, Case

OPTIONAL = ("edit", "hide", "unhide", "search", "delete")


@pytest.fixture(params=[c[1] for c in CASES], ids=[c[0] for c in CASES])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    make: Callable[[Path], AbstractContextManager[Case]] = request.param
    with make(tmp_path) as c:
        yield c


def _publish(case: Case) -> tuple[str, str]:
    key = f"conf-{uuid.uuid4().hex[:8]}"
    text = f"{case.post_text} {key}"
    req = PostRequest(
        platform=case.platform,
        account=case.account,
        idempotency_key=key,
        title=case.title,
        text=text,
        media=case.media,
    )
    ref = case.connector.publish(req)
    assert ref.platform == case.platform and ref.idempotency_key == key
    if ref.pending:  # an asynchronous publish (WeChat): the job is polled until it is an article
        status = getattr(case.connector, "publish_status")  # noqa: B009 - only such connectors answer pending
        for _ in range(10):
            st = status(case.platform, case.account, ref.publish_id)
            if st.state != "pending":
                break
        assert st.state == "published", st
        return st.external_id, text
    assert ref.external_id
    return ref.external_id, text


def _req(case: Case, key: str, text: str) -> PostRequest:
    return PostRequest(
        platform=case.platform,
        account=case.account,
        idempotency_key=key,
        title=case.title,
        text=text,
        media=case.media,
    )


def test_publish_look_up_and_confirm(case: Case) -> None:
    ext, text = _publish(case)
    view = case.connector.get_post(case.platform, case.account, ext)
    assert view is not None and view.status == "live" and view.text.strip() == text
    # look-up after an unknown outcome: by our key where the platform keeps it, else by fingerprint
    key = f"again-{uuid.uuid4().hex[:6]}"
    req = _req(case, key, text)
    finder = getattr(case.connector, "find_published", None)
    found = finder(req) if callable(finder) else case.connector.find_by_key(case.platform, case.account, key)
    if callable(finder):
        assert found is not None and found.external_id == ext
    else:
        assert found is None  # the key was never used: nothing under it
    if case.unknown_is_not_yet:
        # Kuaishou answers an unknown photo id like one still being processed (100120001): "not yet",
        # retryable, so a fresh post is never declared missing.
        with pytest.raises(PlatformError) as err:
            case.connector.get_post(case.platform, case.account, "999999999")
        assert err.value.retryable
    else:
        assert case.connector.get_post(case.platform, case.account, "999999999") is None


def test_metrics(case: Case) -> None:
    ext, _ = _publish(case)
    now = datetime.now(UTC)
    snap = case.connector.fetch_metrics(case.platform, case.account, ext, now - timedelta(hours=1), now)
    assert snap.comments >= 0 and snap.reposts >= 0 and snap.likes >= 0


def test_comments_and_reply(case: Case) -> None:
    ext, _ = _publish(case)
    if "fetch_interactions" in case.unsupported:
        now = datetime.now(UTC)
        with pytest.raises(NotSupported):
            case.connector.fetch_interactions(case.platform, case.account, now - timedelta(hours=1), now)
        with pytest.raises(NotSupported):
            case.connector.reply(case.platform, case.account, f"{ext}:1", "谢谢", "r-1")
        return
    case.add_comment(ext, "请问什么时候发货？")
    now = datetime.now(UTC)
    items = case.connector.fetch_interactions(
        case.platform, case.account, now - timedelta(hours=1), now + timedelta(minutes=1)
    )
    assert items, "no comments came back"
    if case.echoes_comments:
        assert any(i.text == "请问什么时候发货？" for i in items)
        later = datetime.now(UTC) + timedelta(minutes=1)  # a window after the comment: it is not read again
        again = case.connector.fetch_interactions(case.platform, case.account, later, later + timedelta(hours=1))
        assert not any(i.text == "请问什么时候发货？" for i in again), "read again outside its window"
    target = next((i for i in items if i.text == "请问什么时候发货？"), items[0])
    ref = case.connector.reply(
        case.platform, case.account, target.external_id, "明天发货，谢谢关注", f"r-{uuid.uuid4().hex[:6]}"
    )
    assert ref.external_id


def test_delete(case: Case) -> None:
    ext, _ = _publish(case)
    if "delete" in case.unsupported:
        with pytest.raises(NotSupported):
            case.connector.delete(case.platform, case.account, ext, "conformance")
        return
    case.connector.delete(case.platform, case.account, ext, "conformance")
    if case.unknown_is_not_yet:  # gone reads like not-yet-there (see above)
        with pytest.raises(PlatformError):
            case.connector.get_post(case.platform, case.account, ext)
        return
    view = case.connector.get_post(case.platform, case.account, ext)
    assert view is None or view.status == "deleted"


def test_what_a_platform_lacks_raises_not_supported(case: Case) -> None:
    now = datetime.now(UTC)
    calls = {
        "edit": lambda: case.connector.edit(case.platform, case.account, "1", "x"),
        "hide": lambda: case.connector.hide(case.platform, case.account, "1:2"),
        "unhide": lambda: case.connector.unhide(case.platform, case.account, "1:2"),
        "search": lambda: case.connector.search(case.platform, ["品牌"], now - timedelta(hours=1), now),
        "delete": lambda: case.connector.delete(case.platform, case.account, "1", "x"),
    }
    for name in OPTIONAL:
        if name in case.unsupported:
            with pytest.raises(NotSupported):
                calls[name]()
    assert case.unsupported <= set(OPTIONAL) | {"reply", "fetch_interactions"}
