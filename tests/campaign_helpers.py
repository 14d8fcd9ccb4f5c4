"""A well-formed campaign plan for tests, and a way to break it one field at a time."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.campaign.models import AccountRef, CampaignPlan, Eligibility, EntryMethod, Prize
from domain.kernel import Platform

RULES = (
    "参与资格：每人限参与一次，员工及黑名单账号不得参与。"
    "开奖方式：截止后冻结名单，使用 drand 公开随机数随机抽取，结果可核验。"
    "隐私说明：收货地址仅用于寄送奖品，寄出后 30 天内删除。"
)


def good_plan(start: datetime, **kw: Any) -> CampaignPlan:
    data: dict[str, Any] = {
        "title": "秋季新品转发抽奖",
        "goal": "新品曝光",
        "accounts": [AccountRef(platform=Platform.weibo, account="brand_weibo")],
        "entry_methods": [EntryMethod.comment, EntryMethod.repost],
        "eligibility": Eligibility(
            excluded_staff=["weibo:staff1"], blacklist=["weibo:spammer"], min_account_age_days=30
        ),
        "prizes": [
            Prize(name="一等奖 耳机", quantity=1, unit_value=Decimal(999)),
            Prize(name="二等奖 周边", quantity=2, unit_value=Decimal(99)),
        ],
        "reserves": 2,
        "start_at": start + timedelta(hours=1),
        "close_at": start + timedelta(days=3),
        "draw_at": start + timedelta(days=3, hours=2),
        "results_deadline": start + timedelta(days=4),
        "budget": Decimal(3000),
        "rules_text": RULES,
        "post_text": "转发或评论本条微博参与抽奖！",
    }
    data.update(kw)
    return CampaignPlan(**data)
