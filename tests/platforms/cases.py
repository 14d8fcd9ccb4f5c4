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
from connectors.douyin import DouyinConnector
from connectors.kuaishou import KuaishouConnector
from connectors.sandbox import SandboxPlatform
from connectors.wechat_oa import WeChatOAConnector
from connectors.weibo import WeiboConnector
from connectors.wordpress import WordPressConnector
from domain.content import MediaRef
from domain.kernel import Platform
from tests.platforms.asgi_server import serve
from tests.platforms.stub_douyin import CLIENT_KEY, CLIENT_SECRET, serve_douyin
from tests.platforms.stub_douyin import OPEN_ID as DOUYIN_OPEN_ID
from tests.platforms.stub_kuaishou import APP_ID, APP_SECRET, serve_kuaishou
from tests.platforms.stub_kuaishou import OPEN_ID as KUAISHOU_OPEN_ID
from tests.platforms.stub_wechat import APPID, SECRET, serve_wechat
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
    media: list[MediaRef] = field(default_factory=list)  # what the platform needs with a post (cover, video)
    unknown_is_not_yet: bool = False  # the platform cannot tell an unknown post from one still processing


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


def _file(tmp: Path, name: str, data: bytes, kind: str, *, cover: bool = False) -> MediaRef:
    (tmp / name).write_bytes(data)
    return MediaRef(kind=kind, uri=str(tmp / name), is_cover=cover)


def _jpeg(tmp: Path) -> MediaRef:
    return _file(tmp, "cover.jpg", b"\xff\xd8\xff" + b"jpeg" * 100, "image", cover=True)


@contextmanager
def wechat_case(tmp: Path) -> Iterator[Case]:
    running = serve_wechat()
    running.stub.publish_polls = 0  # the publish job finishes at the first freepublish/get
    try:
        store = MemoryCredentialStore()
        store.put(
            Platform.wechat_oa,
            "brand_wechat",
            Credentials(app_id=APPID, app_secret=SecretStr(SECRET), api_base=running.url),
        )

        def add_comment(post_id: str, text: str) -> None:
            running.stub.add_comment(post_id, "o-fan-1", text)

        yield Case(
            WeChatOAConnector(ConnectorContext(store, {"timeout_s": "5"})),
            Platform.wechat_oa,
            "brand_wechat",
            add_comment,
            unsupported={"edit", "unhide", "search"},
            title="秋季新品发布",
            media=[_jpeg(tmp)],
        )
    finally:
        running.close()


def _oauth_creds(app_id: str, secret: str, grant: tuple[str, str], open_id: str, base: str) -> Credentials:
    now = datetime.now(UTC)
    return Credentials(
        app_id=app_id,
        app_secret=SecretStr(secret),
        access_token=SecretStr(grant[0]),
        refresh_token=SecretStr(grant[1]),
        open_id=open_id,
        expires_at=now + timedelta(days=1),
        refresh_expires_at=now + timedelta(days=30),
        api_base=base,
    )


@contextmanager
def douyin_case(tmp: Path) -> Iterator[Case]:
    running = serve_douyin()
    running.stub.reviewed_after = 0  # live at once
    try:
        store = MemoryCredentialStore()
        creds = _oauth_creds(CLIENT_KEY, CLIENT_SECRET, running.stub.grant(), DOUYIN_OPEN_ID, running.url)
        store.put(Platform.douyin, "brand_douyin", creds)

        def add_comment(post_id: str, text: str) -> None:
            running.stub.add_comment(post_id, text)

        yield Case(
            DouyinConnector(ConnectorContext(store, {"timeout_s": "5"})),
            Platform.douyin,
            "brand_douyin",
            add_comment,
            unsupported={"edit", "hide", "unhide", "search", "delete"},
            media=[_file(tmp, "v.mp4", b"\x00" * 4096, "video")],
        )
    finally:
        running.close()


@contextmanager
def kuaishou_case(tmp: Path) -> Iterator[Case]:
    running = serve_kuaishou()
    running.stub.not_found_reads = 0
    running.stub.pending_reads = 0
    try:
        store = MemoryCredentialStore()
        creds = _oauth_creds(APP_ID, APP_SECRET, running.stub.grant(), KUAISHOU_OPEN_ID, running.url)
        store.put(Platform.kuaishou, "brand_kuaishou", creds)

        def add_comment(post_id: str, text: str) -> None:
            raise AssertionError("Kuaishou has no comment API")

        yield Case(
            KuaishouConnector(ConnectorContext(store, {"timeout_s": "5"})),
            Platform.kuaishou,
            "brand_kuaishou",
            add_comment,
            unsupported={"edit", "hide", "unhide", "search", "reply", "fetch_interactions"},
            unknown_is_not_yet=True,
            media=[_file(tmp, "v.mp4", b"\x00" * 4096, "video"), _jpeg(tmp)],
        )
    finally:
        running.close()


CASES: list[tuple[str, Callable[[Path], AbstractContextManager[Case]]]] = [
    ("sandbox", sandbox_case),
    ("weibo", weibo_case),
    ("website", wordpress_case),
    ("wechat_oa", lambda tmp: wechat_case(tmp)),
    ("douyin", lambda tmp: douyin_case(tmp)),
    ("kuaishou", lambda tmp: kuaishou_case(tmp)),
]
