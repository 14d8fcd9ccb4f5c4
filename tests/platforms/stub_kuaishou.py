"""A Kuaishou Open Platform stub speaking reference §4: ``result`` inside HTTP 200, OAuth with a refresh that
voids the old refresh token (the new one inherits its expiry) while old access tokens stay valid, an
upload ``endpoint`` hosted by the stub itself, fragment order and count, the required cover, and
photo/info's 100120001 right after publish. The expired-token code is configurable."""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from tests.platforms.stub_server import Reply, StubRequest, StubServer

APP_ID = "ks-app-id"
APP_SECRET = "ks-app-secret"
OPEN_ID = "ks-open-id"
CODE = "ks-auth-code"


@dataclass
class Upload:
    fragments: list[int] = field(default_factory=list)
    size: int = 0
    done: bool = False


@dataclass
class Photo:
    photo_id: str
    caption: str
    cover: bytes
    size: int
    created_ms: int
    not_found_reads: int
    pending_reads: int
    deleted: bool = False
    views: int = 0


def result(code: int = 1, **data: Any) -> Reply:
    if code == 1:
        return Reply({"result": 1, **data})
    return Reply({"result": code, "error_msg": data.get("error_msg", ""), "error": data.get("error", "")})


class KuaishouStub:
    def __init__(self) -> None:
        self.url = ""
        self.access: dict[str, float] = {}
        self.refresh_tokens: dict[str, float] = {}
        self.codes = {CODE}
        self.expired_code = 100200102
        self.uploads: dict[str, Upload] = {}
        self.photos: dict[str, Photo] = {}
        self.not_found_reads = 1  # photo/info answers 100120001 this many times after publish
        self.pending_reads = 1  # then pending:true this many times
        self.hang_once: dict[str, float] = {}
        self.refresh_calls = 0
        self.ids = itertools.count(5000)

    def grant(self, access_ttl: float = 172800, refresh_ttl: float = 15552000) -> tuple[str, str]:
        access, refresh = "ks_at_" + secrets.token_hex(8), "ks_rt_" + secrets.token_hex(8)
        self.access[access] = time.time() + access_ttl
        self.refresh_tokens[refresh] = time.time() + refresh_ttl
        return access, refresh

    def expire_access(self) -> None:
        for t in self.access:
            self.access[t] = time.time() - 1

    def handle(self, req: StubRequest) -> Reply:
        if req.path.startswith("/oauth2/"):
            return self.oauth(req)
        if req.path.startswith("/api/upload"):
            return self.upload(req)
        if req.query.get("app_id") != APP_ID:
            return result(100200101, error_msg="app_id check failed")
        expires = self.access.get(req.query.get("access_token", ""))
        if expires is None:
            return result(100200102, error_msg="invalid access_token")
        if expires <= time.time():
            return result(self.expired_code, error_msg="access_token expired")
        name = req.path.removeprefix("/openapi/").replace("/", "_")
        handler = getattr(self, "api_" + name, None)
        if handler is None:
            return Reply({"result": 404, "error_msg": "not found"}, status=404)
        out: Reply = handler(req)
        hang = self.hang_once.pop(name, 0.0)
        if hang:
            out.hang_s = hang
        return out

    def oauth(self, req: StubRequest) -> Reply:
        q = req.query
        if q.get("app_id") != APP_ID or q.get("app_secret") != APP_SECRET:
            return result(100200101, error_msg="app_id or app_secret check failed")
        if req.path == "/oauth2/access_token":
            if q.get("grant_type") != "authorization_code" or q.get("code") not in self.codes:
                return result(100200100, error_msg="invalid code")
            self.codes.discard(q["code"])
            access, refresh = self.grant()
            return result(
                access_token=access,
                expires_in=172800,
                refresh_token=refresh,
                refresh_token_expires_in=15552000,
                open_id=OPEN_ID,
                scopes=["user_info", "user_video_publish", "user_video_info"],
            )
        if req.path == "/oauth2/refresh_token":
            self.refresh_calls += 1
            old = q.get("refresh_token", "")
            expires = self.refresh_tokens.pop(old, None)  # the old refresh token is voided
            if q.get("grant_type") != "refresh_token" or expires is None or expires <= time.time():
                return result(100200100, error_msg="invalid refresh_token")
            access = "ks_at_" + secrets.token_hex(8)
            refresh = "ks_rt_" + secrets.token_hex(8)
            self.access[access] = time.time() + 172800  # old access tokens stay valid until they expire
            self.refresh_tokens[refresh] = expires  # the new one inherits the old expiry
            return result(
                access_token=access,
                expires_in=172800,
                refresh_token=refresh,
                refresh_token_expires_in=int(expires - time.time()),
            )
        return Reply({"result": 404}, status=404)

    def api_photo_start_upload(self, req: StubRequest) -> Reply:
        token = "upl_" + secrets.token_hex(8)
        self.uploads[token] = Upload()
        return result(upload_token=token, endpoint=self.url.removeprefix("http://"))

    def upload(self, req: StubRequest) -> Reply:
        up = self.uploads.get(req.query.get("upload_token", ""))
        if up is None:
            return result(100200100, error_msg="invalid upload_token")
        if req.path == "/api/upload":
            if len(req.body) >= 10 * 1024 * 1024:
                return result(100200100, error_msg="body too large, use fragments")
            up.size, up.done = len(req.body), True
            return result()
        if req.path == "/api/upload/fragment":
            if int(req.query.get("fragment_id", "-1")) != len(up.fragments):
                return result(100200100, error_msg="fragment_id out of order")
            if len(req.body) > 10 * 1024 * 1024:
                return result(100200100, error_msg="fragment over 10 MB")
            up.fragments.append(len(req.body))
            return result()
        if req.path == "/api/upload/complete":
            if not up.fragments or int(req.query.get("fragment_count", "0")) != len(up.fragments):
                return result(100200100, error_msg="fragment_count does not match the fragments received")
            up.size, up.done = sum(up.fragments), True
            return result()
        return Reply({"result": 404}, status=404)

    def api_photo_publish(self, req: StubRequest) -> Reply:
        up = self.uploads.get(req.query.get("upload_token", ""))
        if up is None or not up.done:
            return result(100200100, error_msg="upload not finished")
        cover = req.form.get("cover")
        if not isinstance(cover, tuple) or not cover[1]:
            return result(100200100, error_msg="cover is required")
        caption = str(req.form.get("caption", ""))
        photo = Photo(
            photo_id=str(next(self.ids)),
            caption=caption,
            cover=cover[1],
            size=up.size,
            created_ms=int(time.time() * 1000),
            not_found_reads=self.not_found_reads,
            pending_reads=self.pending_reads,
        )
        self.photos[photo.photo_id] = photo
        return result(video_info=self._info(photo, pending=True))

    def _info(self, p: Photo, *, pending: bool) -> dict[str, Any]:
        return {
            "photo_id": p.photo_id,
            "caption": p.caption,
            "cover": f"{self.url}/cover/{p.photo_id}.jpg",
            "play_url": f"https://www.kuaishou.com/short-video/{p.photo_id}",
            "create_time": p.created_ms,
            "like_count": p.views // 20,
            "comment_count": p.views // 50,
            "view_count": p.views,
            "pending": pending,
        }

    def api_photo_info(self, req: StubRequest) -> Reply:
        p = self.photos.get(req.query.get("photo_id", ""))
        if p is None or p.deleted:
            return result(100120001, error_msg="video_not_exist")
        if p.not_found_reads > 0:
            p.not_found_reads -= 1
            return result(100120001, error_msg="video_not_exist")
        pending = p.pending_reads > 0
        p.pending_reads -= 1
        return result(video_info=self._info(p, pending=pending))

    def api_photo_list(self, req: StubRequest) -> Reply:
        live = sorted((p for p in self.photos.values() if not p.deleted), key=lambda p: -p.created_ms)
        count = int(req.query.get("count", "20"))
        return result(video_list=[self._info(p, pending=False) for p in live[:count]], pcursor="no_more")

    def api_photo_delete(self, req: StubRequest) -> Reply:
        p = self.photos.get(req.query.get("photo_id", ""))
        if p is None or p.deleted:
            return result(100200100, error_msg="photo not found")
        p.deleted = True
        return result()


class RunningKuaishou:
    def __init__(self) -> None:
        self.stub = KuaishouStub()
        self.server = StubServer(self.stub)
        self.url = self.stub.url = self.server.url

    def close(self) -> None:
        self.server.close()


def serve_kuaishou() -> RunningKuaishou:
    return RunningKuaishou()
