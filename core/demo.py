"""``socialops up --demo``: a brand, sandbox accounts, people and content in several stages.

Seeding goes through the real API (the same door people use), so the demo exercises the workflows.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from db import accounts, audit
from db.engine import Database
from db.inbox import record_polling
from db.models import PlatformAccount
from domain.kernel import Platform
from domain.roles import Role

PEOPLE: list[tuple[str, str, list[Role]]] = [
    ("li.chuangzuo", "李创作（内容创作组）", [Role.content_creator]),
    ("wang.fengkong", "王风控（风控合规组）", [Role.risk_compliance]),
    ("zhao.shichang", "赵市场（市场部）", [Role.marketing]),
    ("chen.yewu", "陈业务（业务审核）", [Role.business_reviewer]),
    ("liu.yunying", "刘运营（运营中心负责人）", [Role.ops_head]),
    ("sun.lingdao", "孙领导（领导小组）", [Role.leadership]),
    ("zhou.hudong", "周互动（用户互动组）", [Role.interaction_agent]),
    ("wu.pingtai", "吴平台（平台管理组）", [Role.platform_admin]),
]
ACCOUNTS = [
    ("weibo", "hengxing_weibo", "恒星科技官方微博"),
    ("wechat_oa", "hengxing_wechat", "恒星科技服务号"),
    ("douyin", "hengxing_douyin", "恒星科技抖音号"),
    ("kuaishou", "hengxing_kuaishou", "恒星科技快手号"),
    ("website", "hengxing_site", "恒星科技官网"),
]
COVER = {
    "kind": "image",
    "uri": "demo://assets/cover.jpg",
    "licence": "自有版权",
    "source": "品牌设计部",
    "is_cover": True,
}
REVIEWER_BY_STAGE = {
    "review_compliance": "wang.fengkong",
    "review_brand": "zhao.shichang",
    "review_accuracy": "chen.yewu",
    "review_final": "liu.yunying",
}


def seed_people_and_accounts(db: Database) -> dict[str, str] | None:
    """Create demo people and sandbox accounts; ``None`` when the demo was seeded before."""
    with db.session() as s:
        if accounts.get_user_by_name(s, PEOPLE[0][0]) is not None:
            return None
        tokens: dict[str, str] = {}
        for name, display, roles in PEOPLE:
            user, token = accounts.create_user(s, name, roles, display, "demo")
            audit.record(
                s,
                None,
                "user.create",
                f"user:{user.id}",
                "demo",
                {"name": name, "demo": True},
                actor_name="socialops up --demo",
            )
            tokens[name] = token
        for platform, handle, display in ACCOUNTS:
            s.add(PlatformAccount(platform=platform, handle=handle, display_name=display, connector="sandbox"))
            # like an account created through the API: its poller is recorded now and started by the
            # reconciler within a minute (the worker may not be up yet)
            record_polling(s, Platform(platform), handle, timedelta(minutes=5))
        s.commit()
    return tokens


class _Client:
    def __init__(self, base_url: str, tokens: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.tokens = tokens

    def call(self, who: str, method: str, path: str, body: Any = None) -> Any:
        r = self.http.request(method, path, json=body, headers={"Authorization": f"Bearer {self.tokens[who]}"})
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path} → {r.status_code} {r.text}")
        return r.json()

    def wait_stage(self, cid: int, stages: set[str], timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        stage = None
        while time.monotonic() < deadline:
            detail = self.call("liu.yunying", "GET", f"/content/{cid}")
            stage = detail["state"]["stage"] if detail["state"] else None
            if stage in stages:
                return dict(detail)
            time.sleep(0.3)
        raise RuntimeError(f"content {cid} did not reach {' or '.join(sorted(stages))} (it is {stage})")

    def create(self, title: str, body: str, hours: float, targets: list[tuple[str, str]], **kw: Any) -> int:
        item = {
            "goal": kw.pop("goal", "awareness"),
            "format": kw.pop("format", "image_text"),
            "title": title,
            "body": body,
            "media": [COVER],
            "topics": kw.pop("topics", []),
            "targets": [{"platform": p, "account": a} for p, a in targets],
            "publish_at": (datetime.now(UTC) + timedelta(hours=hours)).isoformat(),
            "audience": "一二线城市 25-40 岁科技爱好者",
            "core_message": kw.pop("core_message", title),
            "kpi": {"views": 5000, "likes": 150, "comments": 30},
        }
        item.update(kw)
        return int(self.call("li.chuangzuo", "POST", "/content", item)["id"])

    def submit(self, cid: int) -> None:
        self.wait_stage(cid, {"draft"})
        self.call("li.chuangzuo", "POST", f"/content/{cid}/submit", {})

    def approve_until(self, cid: int, stop: str) -> None:
        while True:
            detail = self.wait_stage(cid, {*REVIEWER_BY_STAGE, "scheduled", "compliance_blocked"})
            stage = detail["state"]["stage"]
            if stage == stop or stage not in REVIEWER_BY_STAGE:
                return
            self.call(
                REVIEWER_BY_STAGE[stage],
                "POST",
                f"/content/{cid}/reviews",
                {"stage": stage, "version_hash": detail["state"]["version_hash"], "decision": "approve"},
            )


def seed_content(base_url: str, tokens: dict[str, str]) -> list[str]:
    c = _Client(base_url, tokens)
    weibo, wechat, douyin = (
        ("weibo", "hengxing_weibo"),
        ("wechat_oa", "hengxing_wechat"),
        ("douyin", "hengxing_douyin"),
    )
    done: list[str] = []

    c.create(
        "冬季新品预告",
        "冬天的第一份温暖，恒星新款智能暖手宝即将上线，敬请期待。",
        72,
        [weibo, wechat],
        topics=["恒星新品"],
    )
    done.append("草稿：冬季新品预告")

    cid = c.create(
        "双十二活动规则",
        "12月12日当天全场满300减50，每位用户限领一次，活动规则以官网公告为准。",
        48,
        [weibo, wechat],
        goal="conversion",
    )
    c.submit(cid)
    c.approve_until(cid, "review_compliance")
    done.append("合规审核中：双十二活动规则")

    cid = c.create("品牌故事：十年匠心", "从一间小工作室到服务千万家庭，恒星坚持把每一个细节做好。", 60, [wechat])
    c.submit(cid)
    c.approve_until(cid, "review_brand")
    done.append("品牌审核中：品牌故事：十年匠心")

    cid = c.create("行业最佳降噪耳机", "恒星降噪耳机，行业最佳的安静体验。", 36, [weibo])
    c.submit(cid)
    c.wait_stage(cid, {"compliance_blocked"})
    done.append("合规阻断（“最佳”为广告法极限词）：行业最佳降噪耳机")

    cid = c.create(
        "周末直播预告",
        "本周六晚八点，产品经理直播讲解新品设计思路，欢迎预约。",
        24,
        [weibo, douyin],
        format="live",
    )
    c.submit(cid)
    c.approve_until(cid, "scheduled")
    done.append("已排期（24 小时后发布）：周末直播预告")

    cid = c.create(
        "秋季新品回顾",
        "感谢大家对秋季新品的喜爱，我们整理了用户最常问的问题，点击查看。",
        0.03,
        [weibo, wechat],
        topics=["恒星新品"],
    )
    c.submit(cid)
    c.approve_until(cid, "scheduled")
    detail = c.wait_stage(cid, {"tracking", "completed", "held", "awaiting_release"}, timeout=180)
    if detail["state"]["stage"] in ("held", "awaiting_release"):  # an active high-level incident holds publishing
        done.append("危机暂停中（有进行中的高等级事件）：秋季新品回顾")
    else:
        done.append("已发布、数据追踪中（沙箱平台）：秋季新品回顾")

    iid = c.call(
        "zhou.hudong",
        "POST",
        "/incidents",
        {
            "title": "用户反映智能暖手宝充电发热",
            "description": "微博上三位用户发帖称充电时外壳发热，已有转发",
            "evidence": [{"url": "demo://weibo/post/1001", "note": "用户原帖截图"}],
        },
    )["id"]
    c.call(
        "wang.fengkong",
        "POST",
        f"/incidents/{iid}/confirm",
        {"truth": "uncertain", "scope": "少量用户，华东地区", "impact": "moderate", "likelihood": "likely"},
    )
    done.append("中风险事件处置中：用户反映智能暖手宝充电发热")
    c.call(
        "wang.fengkong",
        "POST",
        "/drill-schedules",
        {
            "key": "quarterly",
            "note": "每季度危机演练",
            "scenario": {
                "name": "季度危机演练：产品安全谣言",
                "description": "模拟网传产品爆炸的谣言",
                "duration": "PT2H",
            },
            "calendar": {"months": [3, 6, 9, 12], "day_of_month": 15, "hour": 10},
        },
    )
    done.append("演练计划：每季度 15 日 10:00（Asia/Shanghai）")

    # Monitoring: the brand topic over the sandbox's Weibo search; an item pushed by a bought service.
    c.call(
        "wang.fengkong",
        "POST",
        "/monitoring/sources",
        {"key": "sandbox-weibo", "kind": "platform", "url": "sandbox://weibo", "authority": "social"},
    )
    c.call(
        "wang.fengkong",
        "POST",
        "/monitoring/topics",
        {
            "key": "hengxing",
            "name": "恒星科技",
            "tier": "hourly",
            "sources": ["sandbox-weibo"],
            "groups": {"brand": ["恒星科技", "恒星"], "product": ["暖手宝", "降噪耳机"], "founder": ["张恒"]},
            "exclude": ["招聘"],
        },
    )
    c.call(
        "zhou.hudong",
        "POST",
        "/monitoring/items",
        {
            "authority": "forum",
            "items": [
                {
                    "external_id": "demo-forum-1",
                    "text": "恒星科技的暖手宝充电时外壳发烫，有没有人遇到过？",
                    "author": "论坛网友",
                }
            ],
        },
    )
    done.append("舆情监测：话题“恒星科技”（沙箱微博搜索，每小时）")

    # Inbox: a shift for the agent and a morning's comments and DMs pushed from the sandbox account.
    now = datetime.now(UTC)
    c.call(
        "liu.yunying",
        "POST",
        "/shifts",
        {
            "user": "zhou.hudong",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=7)).isoformat(),
        },
    )
    c.call(
        "liu.yunying",
        "POST",
        "/faq",
        {
            "question": "暖手宝充满电要多长时间？",
            "answer": "您好，充满约需 2 小时，可使用约 6 小时。",
            "keywords": ["充电", "充满"],
        },
    )
    from connectors.sandbox import _TRAFFIC

    items = [
        {"external_id": f"demo-{i}", "kind": kind, "text": text, "author": f"粉丝{i}"}
        for i, (kind, text) in enumerate(_TRAFFIC)
    ]
    c.call("wu.pingtai", "POST", "/inbox/ingest/weibo/hengxing_weibo", {"items": items})
    c.call("wu.pingtai", "POST", "/inbox/accounts/weibo/hengxing_weibo/poll?every_minutes=15")
    done.append(f"互动收件箱：{len(items)} 条评论/私信/提及，周互动当班；微博账号每 15 分钟拉取")
    return done


def write_tokens(var: Path, tokens: dict[str, str]) -> Path:
    path = var / "demo-tokens.json"
    path.write_text(json.dumps(tokens, ensure_ascii=False, indent=2))
    os.chmod(path, 0o600)
    return path
