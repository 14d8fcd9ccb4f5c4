"""A local Weibo (api.weibo.com/2) that speaks the documented shapes and quirks (reference §1):
error bodies with ``error_code`` as a string, 安全域名 and ``rip`` checks, 140-char counting, 20019 on a
repeated text, 10023 past an hourly counter, 21327 for an expired token, since_id cursors, and a fault
that accepts a post and drops the response."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from connectors.weibo import weibo_length

TIME_FMT = "%a %b %d %H:%M:%S %z %Y"


@dataclass
class WeiboState:
    safe_domain: str = "brand.example.com"
    uid: str = "5001"
    tokens: dict[str, datetime] = field(default_factory=dict)  # token → expiry
    codes: dict[str, str] = field(default_factory=dict)  # code → token to issue
    client_id: str = "wb-client"
    client_secret: str = "wb-secret"
    posts: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    posts_per_hour: int = 30
    drop_next_post_response: bool = False
    next_id: int = 4_900_000_000_000_000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_id(self) -> int:
        with self.lock:
            self.next_id += 1
            return self.next_id

    def add_comment(
        self, status_id: int, text: str, *, mention: bool = False, user: str = "网友"
    ) -> dict[str, Any]:
        c = {
            "id": self.new_id(),
            "created_at": datetime.now(UTC).astimezone().strftime(TIME_FMT),
            "text": text,
            "mid": "m",
            "user": {"id": 777, "screen_name": user, "followers_count": 12},
            "status": {"id": status_id},
            "_mention": mention,
            "_deleted": False,
        }
        self.comments.append(c)
        return c


def _err(request: Request, code: str, error: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"request": request.url.path, "error_code": code, "error": error}, status_code=status)


def weibo_app(state: WeiboState) -> FastAPI:
    app = FastAPI()

    async def params(request: Request) -> dict[str, str]:
        if request.method == "GET":
            return dict(request.query_params)
        return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))

    def token_problem(request: Request, p: dict[str, str]) -> JSONResponse | None:
        token = p.get("access_token", "")
        if token not in state.tokens:
            return _err(request, "21332", "invalid_access_token", 401)
        if state.tokens[token] <= datetime.now(UTC):
            return _err(request, "21327", "expired_token", 401)
        return None

    @app.post("/oauth2/access_token")
    async def access_token(request: Request) -> Any:
        p = await params(request)
        if p.get("client_id") != state.client_id or p.get("client_secret") != state.client_secret:
            return _err(request, "21301", "auth faild")
        token = state.codes.pop(p.get("code", ""), None)
        if token is None:
            return _err(request, "21325", "invalid_grant")
        state.tokens[token] = datetime.now(UTC) + timedelta(days=7)
        return {"access_token": token, "expires_in": 604800, "remind_in": "604800", "uid": state.uid}

    @app.post("/2/statuses/share.json")
    async def share(request: Request) -> Any:
        p = await params(request)
        if bad := token_problem(request, p):
            return bad
        text = p.get("status", "")
        if not p.get("rip"):
            return _err(request, "10016", "miss required parameter (rip)")
        if state.safe_domain not in text:
            return _err(request, "10017", "the status must contain a url of the app's safe domain")
        if weibo_length(text) > 140:
            return _err(request, "20012", "Text too long, please input text less than 140 characters!")
        hour_ago = datetime.now(UTC) - timedelta(hours=1)
        live = [x for x in state.posts if not x["_deleted"]]
        if live and live[-1]["text"] == text:
            return _err(request, "20019", "repeat content!")
        if sum(1 for x in state.posts if x["_at"] > hour_ago) >= state.posts_per_hour:
            return _err(request, "10023", "User requests out of rate limit!", 403)
        sid = state.new_id()
        post = {
            "id": sid,
            "idstr": str(sid),
            "mid": str(sid),
            "created_at": datetime.now(UTC).astimezone().strftime(TIME_FMT),
            "text": text,
            "user": {"id": int(state.uid), "screen_name": "brand"},
            "reposts_count": 0,
            "comments_count": 0,
            "attitudes_count": 0,
            "_at": datetime.now(UTC),
            "_deleted": False,
        }
        state.posts.append(post)
        if state.drop_next_post_response:
            state.drop_next_post_response = False
            await asyncio.sleep(3)  # accepted, but the answer never arrives in time
        return {k: v for k, v in post.items() if not k.startswith("_")}

    def public(post: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in post.items() if not k.startswith("_")}

    @app.get("/2/statuses/user_timeline.json")
    async def timeline(request: Request) -> Any:
        p = await params(request)
        if bad := token_problem(request, p):
            return bad
        count = int(p.get("count", "20"))
        live = [public(x) for x in reversed(state.posts) if not x["_deleted"]][:count]
        return {"statuses": live, "total_number": len(live)}

    @app.get("/2/statuses/show.json")
    async def show(request: Request) -> Any:
        p = await params(request)
        if bad := token_problem(request, p):
            return bad
        post = next((x for x in state.posts if str(x["id"]) == p.get("id") and not x["_deleted"]), None)
        if post is None:
            return _err(request, "20101", "target weibo does not exist")
        return public(post)

    @app.post("/2/statuses/destroy.json")
    async def destroy(request: Request) -> Any:
        p = await params(request)
        if bad := token_problem(request, p):
            return bad
        post = next((x for x in state.posts if str(x["id"]) == p.get("id") and not x["_deleted"]), None)
        if post is None:
            return _err(request, "20101", "target weibo does not exist")
        post["_deleted"] = True
        return public(post)

    @app.get("/2/statuses/count.json")
    async def count(request: Request) -> Any:
        p = await params(request)
        if bad := token_problem(request, p):
            return bad
        ids = p.get("ids", "").split(",")
        out = []
        for post in state.posts:
            if str(post["id"]) in ids:
                n = sum(1 for c in state.comments if c["status"]["id"] == post["id"] and not c["_deleted"])
                out.append({"id": post["id"], "comments": n, "reposts": 3, "attitudes": 7})
        return out

    @app.get("/2/users/counts.json")
    async def user_counts(request: Request) -> Any:
        p = await params(request)
        if bad := token_problem(request, p):
            return bad
        return [
            {
                "id": int(state.uid),
                "followers_count": 1234,
                "friends_count": 10,
                "statuses_count": len(state.posts),
            }
        ]

    def comment_list(p: dict[str, str], mention: bool) -> dict[str, Any]:
        since = int(p.get("since_id", "0") or 0)
        rows = [
            public(c)
            for c in reversed(state.comments)
            if c["_mention"] == mention and not c["_deleted"] and c["id"] > since
        ]
        rows = rows[: int(p.get("count", "50"))]
        return {"comments": rows, "total_number": len(rows), "next_cursor": 0, "previous_cursor": 0}

    @app.get("/2/comments/to_me.json")
    async def to_me(request: Request) -> Any:
        p = await params(request)
        return token_problem(request, p) or comment_list(p, False)

    @app.get("/2/comments/mentions.json")
    async def mentions(request: Request) -> Any:
        p = await params(request)
        return token_problem(request, p) or comment_list(p, True)

    @app.post("/2/comments/reply.json")
    async def reply(request: Request) -> Any:
        p = await params(request)
        if bad := token_problem(request, p):
            return bad
        if not p.get("rip"):
            return _err(request, "10016", "miss required parameter (rip)")
        target = next((c for c in state.comments if str(c["id"]) == p.get("cid")), None)
        if target is None:
            return _err(request, "20201", "target comment does not exist")
        c = state.add_comment(int(p["id"]), p.get("comment", ""), user="brand")
        c["reply_comment"] = {"id": target["id"]}
        c["_mention"] = None  # our own reply: not in to_me
        return public(c)

    @app.post("/2/comments/destroy.json")
    async def comment_destroy(request: Request) -> Any:
        p = await params(request)
        if bad := token_problem(request, p):
            return bad
        target = next((c for c in state.comments if str(c["id"]) == p.get("cid") and not c["_deleted"]), None)
        if target is None:
            return _err(request, "20201", "target comment does not exist")
        target["_deleted"] = True
        return public(target)

    return app
