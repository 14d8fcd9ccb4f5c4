"""The pre-launch checklist and the entry rules (de-duplication, eligibility, pauses)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.campaign.checklist import blocking, check, needs_leadership
from domain.campaign.entries import EntryRecord, select_entrants
from domain.campaign.models import EntryMethod, PauseWindow, Prize, Thresholds, plan_hash
from domain.kernel import Platform
from tests.campaign_helpers import RULES, good_plan

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)


def codes(plan, thresholds=None) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.code for f in check(plan, thresholds)}


def test_a_good_plan_has_no_blocking_findings() -> None:
    assert blocking(check(good_plan(T0))) == []


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"close_at": None}, "no_close_time", "close_at"),
        ({"draw_at": None}, "no_draw_time", "draw_at"),
        ({"prizes": [Prize(name="耳机", quantity=0, unit_value=Decimal(1))]}, "no_prize_quantity", "prizes.0.quantity"),
        ({"prizes": [Prize(name="耳机", quantity=1)]}, "no_prize_value", "prizes.0.unit_value"),
        ({"prizes": [Prize(name="汽车", quantity=1, unit_value=Decimal(60000))]}, "prize_above_legal_cap", "prizes.0.unit_value"),
        ({"rules_text": RULES + "本活动最终解释权归本公司所有。"}, "final_interpretation_clause", "rules_text"),
        ({"rules_text": RULES.replace("隐私说明：收货地址仅用于寄送奖品，寄出后 30 天内删除。", "")}, "no_privacy_notice", "rules_text"),
        ({"rules_text": "转发即可参与。隐私：地址只用于寄送。"}, "draw_method_not_stated", "rules_text"),
    ],
)  # fmt: skip
def test_each_risk_is_found_with_its_field_and_a_chinese_reason(change, code, field) -> None:  # type: ignore[no-untyped-def]
    findings = {f.code: f for f in check(good_plan(T0, **change))}
    assert code in findings
    assert findings[code].field == field
    assert any("\u4e00" <= ch <= "\u9fff" for ch in findings[code].reason)


def test_eligibility_not_stated() -> None:
    from domain.campaign.models import Eligibility

    plan = good_plan(T0, eligibility=Eligibility(), rules_text="开奖方式：随机抽取。隐私：地址只用于寄送。")
    assert "eligibility_not_stated" in codes(plan)


def test_the_legal_cap_is_configurable() -> None:
    plan = good_plan(T0, prizes=[Prize(name="手机", quantity=1, unit_value=Decimal(6000))])
    assert "prize_above_legal_cap" not in codes(plan)
    assert "prize_above_legal_cap" in codes(plan, Thresholds(prize_cap=Decimal(5000)))


def test_leadership_joins_above_the_thresholds() -> None:
    assert not needs_leadership(good_plan(T0))
    assert needs_leadership(good_plan(T0, budget=Decimal(50000)))
    big = [Prize(name="手机", quantity=1, unit_value=Decimal(8000))]
    assert needs_leadership(good_plan(T0, prizes=big))
    assert not needs_leadership(good_plan(T0, prizes=big), Thresholds(leadership_prize_value=Decimal(10000)))


def test_plan_hash_changes_with_the_plan() -> None:
    assert plan_hash(good_plan(T0)) == plan_hash(good_plan(T0))
    assert plan_hash(good_plan(T0)) != plan_hash(good_plan(T0, budget=Decimal(3001)))


def _entry(i: int, user: str, at: datetime, **kw) -> EntryRecord:  # type: ignore[no-untyped-def]
    kw.setdefault("account_created_at", T0 - timedelta(days=400))
    kw.setdefault("method", EntryMethod.comment)
    return EntryRecord(id=i, platform=Platform.weibo, user=user, at=at, **kw)


def test_select_entrants_dedupes_and_logs_every_exclusion() -> None:
    plan = good_plan(T0)
    opened = plan.start_at
    assert opened is not None
    t = opened + timedelta(hours=1)
    entries = [
        _entry(1, "alice", t),
        _entry(2, "bob", t + timedelta(minutes=1)),
        _entry(3, "alice", t + timedelta(minutes=2)),  # duplicate
        _entry(4, "staff1", t),  # staff
        _entry(5, "spammer", t),  # blacklisted
        _entry(6, "newbie", t, account_created_at=opened - timedelta(days=2)),
        _entry(7, "late", plan.close_at),  # type: ignore[arg-type]
        _entry(8, "napper", t + timedelta(hours=5)),  # during a pause
        _entry(9, "dmer", t, method=EntryMethod.dm),
        _entry(10, "carol", t + timedelta(hours=7)),  # after the pause
    ]
    pauses = [PauseWindow(start=t + timedelta(hours=4), end=t + timedelta(hours=6))]
    eligible, excluded = select_entrants(entries, plan, pauses, opened)
    assert [e.user for e in eligible] == ["alice", "bob", "carol"]
    assert {x.entry_id: x.code for x in excluded} == {
        3: "duplicate", 4: "staff", 5: "blacklisted", 6: "account_too_new", 7: "outside_window",
        8: "paused", 9: "wrong_method",
    }  # fmt: skip
    assert all(x.reason for x in excluded)


def test_keyword_entries_need_the_keyword() -> None:
    plan = good_plan(T0, entry_methods=[EntryMethod.keyword], keyword="秋季上新")
    opened = plan.start_at
    assert opened is not None
    t = opened + timedelta(hours=1)
    eligible, excluded = select_entrants(
        [_entry(1, "a", t, text="我要秋季上新！"), _entry(2, "b", t, text="路过")], plan, [], opened
    )
    assert [e.user for e in eligible] == ["a"]
    assert excluded[0].code == "no_keyword"


def test_a_close_time_already_past_is_blocking_when_the_clock_is_given() -> None:
    plan = good_plan(T0)
    assert "close_in_past" not in codes(plan)
    assert plan.close_at is not None
    assert "close_in_past" in {f.code for f in check(plan, None, plan.close_at + timedelta(seconds=1))}
