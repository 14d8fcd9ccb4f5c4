"""A local WordPress REST API (reference §5): Basic auth with an application password, 201 on create,
``future`` scheduling, trash vs force delete (410 ``rest_already_trashed``), comments, the error schema."""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class WordPressState:
    user: str = "editor"
    app_password: str = "abcd EFGH ijkl MNOP qrst UVWX"
    posts: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))

    def add_comment(self, post: int, text: str, parent: int = 0) -> dict[str, Any]:
        cid = next(self.ids)
        c = {
            "id": cid,
            "post": post,
            "parent": parent,
            "author_name": "访客",
            "date_gmt": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
            "content": {"rendered": f"<p>{text}</p>"},
            "status": "approved",
            "link": f"https://www.example.com/?p={post}#comment-{cid}",
        }
        self.comments[cid] = c
        return c


def _err(code: str, message: str, status: int, **data: Any) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "data": {"status": status, **data}}, status_code=status)


def wordpress_app(state: WordPressState) -> FastAPI:
    app = FastAPI()

    def authed(request: Request) -> bool:
        expected = base64.b64encode(f"{state.user}:{state.app_password}".encode()).decode()
        return request.headers.get("authorization", "") == f"Basic {expected}"

    @app.middleware("http")
    async def check_auth(request: Request, call_next: Any) -> Any:
        if not authed(request):
            return _err("incorrect_password", "The provided password is an invalid application password.", 401)
        return await call_next(request)

    def view(p: dict[str, Any], edit: bool) -> dict[str, Any]:
        out = {k: v for k, v in p.items() if not k.startswith("_")}
        out["title"] = {"rendered": p["_title"], **({"raw": p["_title"]} if edit else {})}
        out["content"] = {
            "rendered": f"<p>{p['_content']}</p>\n",
            "protected": False,
            **({"raw": p["_content"]} if edit else {}),
        }
        return out

    @app.post("/wp-json/wp/v2/posts", status_code=201)
    async def create(request: Request) -> Any:
        body = await request.json()
        status = body.get("status", "draft")
        if status not in ("publish", "future", "draft", "pending", "private"):
            return _err("rest_invalid_param", "Invalid parameter(s): status", 400, params={"status": "bad"})
        now = datetime.now(UTC).replace(tzinfo=None)
        date = datetime.fromisoformat(body["date_gmt"]) if body.get("date_gmt") else now
        if status == "publish" and date > now:
            status = "future"
        if status == "future" and date <= now:
            status = "publish"
        pid = next(state.ids)
        post = {
            "id": pid,
            "date_gmt": date.isoformat(timespec="seconds"),
            "status": status,
            "type": "post",
            "link": f"https://www.example.com/?p={pid}",
            "_title": body.get("title", ""),
            "_content": body.get("content", ""),
        }
        state.posts[pid] = post
        return view(post, True)

    @app.get("/wp-json/wp/v2/posts")
    async def list_posts(request: Request) -> Any:
        wanted = request.query_params.get("status", "publish").split(",")
        rows = [
            view(p, True) for p in sorted(state.posts.values(), key=lambda p: -p["id"]) if p["status"] in wanted
        ]
        per = int(request.query_params.get("per_page", "10"))
        return JSONResponse(rows[:per], headers={"X-WP-Total": str(len(rows)), "X-WP-TotalPages": "1"})

    @app.get("/wp-json/wp/v2/posts/{pid}")
    async def get_post(pid: int, request: Request) -> Any:
        if pid not in state.posts:
            return _err("rest_post_invalid_id", "Invalid post ID.", 404)
        return view(state.posts[pid], request.query_params.get("context") == "edit")

    @app.post("/wp-json/wp/v2/posts/{pid}")
    async def update(pid: int, request: Request) -> Any:
        if pid not in state.posts:
            return _err("rest_post_invalid_id", "Invalid post ID.", 404)
        body = await request.json()
        if "content" in body:
            state.posts[pid]["_content"] = body["content"]
        return view(state.posts[pid], True)

    @app.delete("/wp-json/wp/v2/posts/{pid}")
    async def delete(pid: int, request: Request) -> Any:
        if pid not in state.posts:
            return _err("rest_post_invalid_id", "Invalid post ID.", 404)
        post = state.posts[pid]
        if request.query_params.get("force") == "true":
            del state.posts[pid]
            return {"deleted": True, "previous": view(post, True)}
        if post["status"] == "trash":
            return _err("rest_already_trashed", "The post has already been deleted.", 410)
        post["status"] = "trash"
        return view(post, True)

    @app.get("/wp-json/wp/v2/comments")
    async def comments(request: Request) -> Any:
        q = request.query_params
        rows = [c for c in state.comments.values() if c["status"] == "approved"]
        if q.get("post"):
            rows = [c for c in rows if str(c["post"]) == q["post"]]
        if q.get("after"):
            rows = [c for c in rows if c["date_gmt"] > q["after"]]
        return JSONResponse(rows[: int(q.get("per_page", "10"))], headers={"X-WP-Total": str(len(rows))})

    @app.get("/wp-json/wp/v2/comments/{cid}")
    async def comment(cid: int) -> Any:
        if cid not in state.comments:
            return _err("rest_comment_invalid_id", "Invalid comment ID.", 404)
        return state.comments[cid]

    @app.post("/wp-json/wp/v2/comments", status_code=201)
    async def reply(request: Request) -> Any:
        body = await request.json()
        if int(body.get("post", 0)) not in state.posts:
            return _err(
                "rest_comment_invalid_post_id",
                "Sorry, you are not allowed to create this comment without a post.",
                403,
            )
        return state.add_comment(int(body["post"]), body.get("content", ""), int(body.get("parent", 0)))

    @app.post("/wp-json/wp/v2/comments/{cid}")
    async def moderate(cid: int, request: Request) -> Any:
        if cid not in state.comments:
            return _err("rest_comment_invalid_id", "Invalid comment ID.", 404)
        state.comments[cid]["status"] = (await request.json()).get("status", "approved")
        return state.comments[cid]

    return app
