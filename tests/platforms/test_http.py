"""The shared connector plumbing: transport errors typed by whether the call may have taken effect, the
per-account hourly budget, media reading, the fingerprint."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from connectors.base import PlatformError, PlatformTimeout
from connectors.http import RateBudget, fingerprint, media_bytes, send
from domain.content import MediaRef
from tests.platforms.stub_server import Reply, StubRequest, StubServer


class Flaky:
    def handle(self, req: StubRequest) -> Reply:
        if req.path == "/slow":
            return Reply({}, hang_s=2)
        return Reply({"error": "boom"}, status=503)


@pytest.fixture
def flaky() -> Iterator[StubServer]:
    server = StubServer(Flaky())
    yield server
    server.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_transport_errors_are_typed_by_whether_the_call_may_have_landed(flaky: StubServer) -> None:
    with httpx.Client(timeout=0.5) as http:
        with pytest.raises(PlatformError) as err:
            send(http, "POST", f"http://127.0.0.1:{closed_port()}/x", platform="t", effectful=True)
        assert err.type is PlatformError and err.value.retryable and err.value.code == "connect"
        with pytest.raises(PlatformTimeout):
            send(http, "POST", f"{flaky.url}/slow", platform="t", effectful=True)
        with pytest.raises(PlatformError) as err:
            send(http, "GET", f"{flaky.url}/slow", platform="t", effectful=False)
        assert err.type is PlatformError and err.value.retryable
        with pytest.raises(PlatformTimeout):
            send(http, "POST", f"{flaky.url}/x", platform="t", effectful=True)  # 503 after a write: unknown
        with pytest.raises(PlatformError) as err:
            send(http, "GET", f"{flaky.url}/x", platform="t", effectful=False)
        assert err.type is PlatformError and err.value.code == "http_503" and err.value.retryable


def test_the_budget_is_per_account_and_slides_over_the_hour() -> None:
    now = [0.0]
    budget = RateBudget(2, clock=lambda: now[0])
    budget.take("a")
    budget.take("a")
    budget.take("b")
    with pytest.raises(PlatformError) as err:
        budget.take("a")
    assert err.value.retryable and err.value.code == "rate_budget"
    now[0] = 3600.0
    budget.take("a")


def test_media_is_read_from_local_paths_only_or_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(b"12345")
    assert media_bytes(MediaRef(kind="image", uri=path.as_uri()), max_bytes=10) == ("a.jpg", b"12345")
    with pytest.raises(PlatformError) as err:
        media_bytes(MediaRef(kind="image", uri=str(path)), max_bytes=4)
    assert not err.value.retryable and err.value.code == "media_size"
    with pytest.raises(PlatformError) as err:
        media_bytes(MediaRef(kind="image", uri="s3://assets/cover.jpg"), max_bytes=10)
    assert not err.value.retryable and "s3://assets/cover.jpg" in str(err.value)


def test_the_fingerprint_ignores_markup_and_spacing_but_not_words() -> None:
    assert fingerprint("标题", "<p>新品 上线</p>\n", 1) == fingerprint("标题", "新品上线", 1)
    assert fingerprint("标题", "新品上线", 1) != fingerprint("标题", "新品下线", 1)
    assert fingerprint("标题", "新品上线", 1) != fingerprint("标题", "新品上线", 2)
