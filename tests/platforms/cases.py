"""One entry per connector for the conformance suite (tests/platforms/test_conformance.py).

To add a connector (wechat_oa, douyin, kuaishou …): write a context manager that starts its stub server
(``tests.platforms.asgi_server.serve``), builds the connector over a ``MemoryCredentialStore`` whose
``api_base`` points at the stub, and yields a ``Case``; then append it to ``CASES``. ``unsupported`` lists
the operations the platform lacks: the suite checks they raise ``NotSupported``. ``add_comment`` makes a
follower's comment on a post appear on the platform (the stub's back door).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from connectors.base import PlatformConnector
from connectors.credentials import ConnectorContext, Credentials, MemoryCredentialStore
from connectors.sandbox import SandboxPlatform
from connectors.weibo import WeiboConnector
from connectors.wordpress import WordPressConnector
from domain.kernel import Platform
from tests.platforms.asgi_server import serve
from tests.platforms.weibo_stub import WeiboState, weibo_app
from tests.platforms.wordpress_stub import WordPressState, wordpress_app


@dataclass
class Case:
    connector: PlatformConnector
    platform: Platform
    account: str
    add_comment: Callable[[str, str], None]  # (post external id, text)
    unsupported: set[str] = field(default_factory=set)  # of: edit, hide, unhide, search, reply, fetch_interactions
    echoes_comments: bool = True  # False: the platform streams its own comments (the sandbox)
    post_text: str = "新品上线，欢迎体验"
    title: str = ""


@contextmanager
def sandbox_case(tmp: Path) -> Iterator[Case]:
    sb = SandboxPlatform(f"sqlite:///{tmp / 'sandbox.db'}")

    def add_comment(post_id: str, text: str) -> None:
        """The sandbox streams its own comments (one every 15 minutes); nothing to add."""

    try:
        yield Case(sb, Platform.weibo, "brand_weibo", add_comment, unsupported=set(), echoes_comments=False)
    finally:
        sb.engine.dispose()


@contextmanager
def weibo_case(tmp: Path) -> Iterator[Case]:
    state = WeiboState()
    state.tokens["wb-token"] = datetime.now(UTC) + timedelta(days=7)
    with serve(weibo_app(state)) as base:
        store = MemoryCredentialStore()
        store.put(
            Platform.weibo,
            "brand_weibo",
            Credentials(
                app_id=state.client_id,
                app_secret=SecretStr(state.client_secret),
                access_token=SecretStr("wb-token"),
                open_id=state.uid,
                api_base=base,
                options={"safe_domain": state.safe_domain, "rip": "203.0.113.7"},
            ),
        )
        connector = WeiboConnector(ConnectorContext(store))

        def add_comment(post_id: str, text: str) -> None:
            state.add_comment(int(post_id), text)

        yield Case(
            connector, Platform.weibo, "brand_weibo", add_comment, unsupported={"edit", "hide", "unhide", "search"}
        )


@contextmanager
def wordpress_case(tmp: Path) -> Iterator[Case]:
    state = WordPressState()
    with serve(wordpress_app(state)) as base:
        store = MemoryCredentialStore()
        store.put(
            Platform.website,
            "site",
            Credentials(app_id=state.user, app_secret=SecretStr(state.app_password), api_base=base),
        )

        def add_comment(post_id: str, text: str) -> None:
            state.add_comment(int(post_id), text)

        yield Case(
            WordPressConnector(ConnectorContext(store)),
            Platform.website,
            "site",
            add_comment,
            unsupported={"search"},
            title="新品发布",
        )


CASES: list[tuple[str, Callable[[Path], AbstractContextManager[Case]]]] = [
    ("sandbox", sandbox_case),
    ("weibo", weibo_case),
    ("website", wordpress_case),
    # ("wechat_oa", wechat_case), ("douyin", douyin_case), ("kuaishou", kuaishou_case): the other connectors' entries
]
