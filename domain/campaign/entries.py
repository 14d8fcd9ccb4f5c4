"""Which entries count: de-duplication per user and the eligibility rules, each exclusion with its reason."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.campaign.models import CampaignPlan, EntryMethod, PauseWindow
from domain.kernel import Platform


class EntryRecord(BaseModel):
    """One entry as stored (the freeze activity reads these from the database)."""

    id: int
    platform: Platform
    user: str  # the platform's public user id / handle
    method: EntryMethod
    text: str = ""
    at: datetime
    account_created_at: datetime | None = None
    follows: bool | None = None
    region: str = ""
    spam: bool = False  # the inbox classified it as spam (links, contact ids, flooding) and hid it

    @property
    def leaf(self) -> str:
        return f"{self.platform.value}:{self.user}"


REASONS: dict[str, str] = {
    "outside_window": "不在活动时间内参与",
    "spam": "被识别为垃圾信息（广告、引流或刷屏）",
    "paused": "活动暂停期间参与，不计入",
    "wrong_method": "参与方式不在本次活动规则之内",
    "no_keyword": "评论中没有活动关键词",
    "wrong_account": "不是在本次活动账号下参与",
    "duplicate": "重复参与（每人限一次，以第一次为准）",
    "staff": "公司员工不得参与",
    "blacklisted": "黑名单账号",
    "account_too_new": "账号注册时间不满要求",
    "account_age_unknown": "无法确认账号注册时间",
    "not_following": "未关注活动账号",
    "region": "所在地区不在活动范围内",
}


class Exclusion(BaseModel):
    entry_id: int
    code: str
    reason: str


def _paused(at: datetime, pauses: list[PauseWindow]) -> bool:
    return any(p.start <= at and (p.end is None or at < p.end) for p in pauses)


def exclusion(entry: EntryRecord, plan: CampaignPlan, pauses: list[PauseWindow], opened: datetime) -> str | None:
    """The reason code that excludes this entry on its own (duplicates are decided over the list)."""
    rules = plan.eligibility
    if entry.at < opened or (plan.close_at is not None and entry.at >= plan.close_at):
        return "outside_window"
    if _paused(entry.at, pauses):
        return "paused"
    if entry.spam:
        return "spam"
    if plan.accounts and entry.platform not in {a.platform for a in plan.accounts}:
        return "wrong_account"
    methods = set(plan.entry_methods)
    if entry.method not in methods:
        # a comment carrying the keyword is a keyword entry
        if not (entry.method is EntryMethod.comment and EntryMethod.keyword in methods):
            return "wrong_method"
    if EntryMethod.keyword in methods and entry.method in (EntryMethod.comment, EntryMethod.keyword):
        if EntryMethod.comment not in methods and plan.keyword not in entry.text:
            return "no_keyword"
    if entry.leaf in set(rules.excluded_staff):
        return "staff"
    if entry.leaf in set(rules.blacklist):
        return "blacklisted"
    if rules.min_account_age_days is not None:
        if entry.account_created_at is None:
            return "account_age_unknown"
        if (opened - entry.account_created_at).days < rules.min_account_age_days:
            return "account_too_new"
    if rules.must_follow and entry.follows is not True:
        return "not_following"
    if rules.regions and entry.region not in rules.regions:
        return "region"
    return None


def select_entrants(
    entries: list[EntryRecord], plan: CampaignPlan, pauses: list[PauseWindow], opened: datetime
) -> tuple[list[EntryRecord], list[Exclusion]]:
    """The frozen entrant list in entry order (time, then id), and every exclusion with its reason."""
    eligible: list[EntryRecord] = []
    excluded: list[Exclusion] = []
    seen: set[str] = set()
    for entry in sorted(entries, key=lambda e: (e.at, e.id)):
        code = exclusion(entry, plan, pauses, opened)
        if code is None and plan.eligibility.one_entry_per_user and entry.leaf in seen:
            code = "duplicate"
        if code is None and not plan.eligibility.one_entry_per_user and entry.leaf in seen:
            continue  # several entries allowed, but a person is still one leaf of the tree
        if code is not None:
            excluded.append(Exclusion(entry_id=entry.id, code=code, reason=REASONS[code]))
            continue
        seen.add(entry.leaf)
        eligible.append(entry)
    return eligible, excluded
