"""Pure domain functions: calendar, matching, compliance, self-check, adaptation, iCalendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.compliance import DEFAULT_TERMS, ComplianceScanner, luhn_ok, valid_resident_id
from domain.content import (
    ContentFormat,
    KpiTargets,
    MediaRef,
    MetricsSnapshot,
    PlatformVariant,
    Target,
    VersionContent,
    content_hash,
    effect_summary,
)
from domain.ical import CalendarEvent, render
from domain.kernel import Platform, WorkCalendarConfig
from domain.platform_rules import RULES, adapt, rules_table, text_length
from domain.selfcheck import bracket_problems, self_check
from domain.textmatch import Automaton
from domain.workcalendar import WorkCalendar
from tests.content_helpers import plan

SH = ZoneInfo("Asia/Shanghai")


def test_working_hours_skip_nights_weekends_and_holidays() -> None:
    cal = WorkCalendar(WorkCalendarConfig(holidays=["2026-10-01", "2026-10-02"], makeup_workdays=["2026-09-27"]))
    fri_4pm = datetime(2026, 11, 27, 16, 0, tzinfo=SH)
    assert cal.add(fri_4pm, timedelta(hours=4)) == datetime(2026, 11, 30, 11, 0, tzinfo=SH)  # Monday
    evening = datetime(2026, 11, 25, 20, 0, tzinfo=SH)
    assert cal.add(evening, timedelta(hours=1)) == datetime(2026, 11, 26, 10, 0, tzinfo=SH)
    wed_before_holiday = datetime(2026, 9, 30, 17, 0, tzinfo=SH)
    assert cal.add(wed_before_holiday, timedelta(hours=2)) == datetime(2026, 10, 5, 10, 0, tzinfo=SH)
    sunday_makeup = datetime(2026, 9, 27, 9, 0, tzinfo=SH)
    assert cal.add(sunday_makeup, timedelta(hours=3)) == datetime(2026, 9, 27, 12, 0, tzinfo=SH)
    assert cal.working_time_between(fri_4pm, datetime(2026, 11, 30, 11, 0, tzinfo=SH)) == timedelta(hours=4)
    assert not cal.is_working_time(datetime(2026, 11, 28, 10, 0, tzinfo=SH))
    with pytest.raises(ValueError):
        WorkCalendar(WorkCalendarConfig(workdays=[])).add(fri_4pm, timedelta(hours=1))


def test_automaton_finds_overlapping_and_mixed_script_matches() -> None:
    ac = Automaton({"苹果": "a", "手机": "b", "苹果手机": "c", "iPhone": "d", "果手": "e"})
    found = {(m.term, m.start) for m in ac.find_all("abc苹果手机和IPHONE")}
    assert found == {("苹果", 3), ("手机", 5), ("苹果手机", 3), ("果手", 4), ("iPhone", 8)}
    assert Automaton({"he": 1, "she": 2, "hers": 3}).find_all("ushers")[0].term in {"she", "he"}
    assert {m.term for m in Automaton({"he": 1, "she": 2, "hers": 3}).find_all("ushers")} == {"he", "she", "hers"}
    assert Automaton({}).find_all("任何文本") == []


def test_compliance_scan_terms_privacy_and_rights() -> None:
    scanner = ComplianceScanner(DEFAULT_TERMS)
    v = VersionContent(
        title="国家级品质",
        body="全网最低价！联系 13912345678 或 service@example.com，身份证 11010519491231002X，卡号 4111 1111 1111 1111",
        media=[MediaRef(kind="image", uri="x.jpg")],
    )
    codes = [(f.code, f.field) for f in scanner.scan(v)]
    assert ("term_ad_absolute", "title") in codes and ("term_ad_absolute", "body") in codes
    assert ("privacy_mobile", "body") in codes and ("privacy_email", "body") in codes
    assert ("privacy_resident_id", "body") in codes and ("privacy_bank_card", "body") in codes
    assert ("media_rights_missing", "media.0") in codes
    clean = VersionContent(title="秋季新品", body="欢迎到店体验，订单号 20261126123456")
    assert scanner.scan(clean) == []
    # 第一时间 ("at once") claims nothing; 行业第一 does
    assert scanner.scan(VersionContent(body="我们第一时间成立专项小组，第一批检测结果已出")) == []
    assert [f.match for f in scanner.scan(VersionContent(body="行业第一，第一时间响应"))] == ["第一"]
    assert valid_resident_id("11010519491231002X") and not valid_resident_id("110105194912310021")
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


def test_self_check_findings() -> None:
    p = plan(datetime.now(UTC) + timedelta(days=1))
    findings = self_check(VersionContent(title="", body=""), p)
    assert {f.code for f in findings if f.severity.value == "blocking"} >= {"body_empty", "image_missing"}
    ok = VersionContent(
        title="标题",
        body="正文（完整）",
        media=[MediaRef(kind="image", uri="a", licence="l", source="s", is_cover=True)],
    )
    assert [f for f in self_check(ok, p) if f.severity.value == "blocking"] == []
    assert bracket_problems("（一）【二】《三》“四”") == []
    assert bracket_problems("（一】") and bracket_problems("“开") and bracket_problems('say "hi')
    video = plan(
        datetime.now(UTC) + timedelta(days=1),
        format=ContentFormat.short_video,
        targets=[Target(platform=Platform.douyin, account="d")],
    )
    assert "video_missing" in {f.code for f in self_check(ok, video)}


def test_adaptation_applies_each_platforms_rules() -> None:
    v = VersionContent(
        title="标题" * 40,
        body="正文",
        topics=["新品"],
        media=[MediaRef(kind="image", uri="a", licence="l", source="s")],
        variants={Platform.weibo: PlatformVariant(body="微博专用文案")},
    )
    weibo = adapt(v, Target(platform=Platform.weibo, account="w"), ContentFormat.image_text)
    assert weibo.body == "微博专用文案 #新品#" and weibo.errors == []
    assert weibo.title == ""  # a Weibo status has no title field: the variant carries none
    wechat = adapt(v, Target(platform=Platform.wechat_oa, account="x"), ContentFormat.image_text)
    assert {e.code for e in wechat.errors} == {"title_too_long", "cover_required"}
    kuaishou = adapt(v, Target(platform=Platform.kuaishou, account="k"), ContentFormat.image_text)
    assert "format_unsupported" in {e.code for e in kuaishou.errors}
    assert text_length("abcd") == 2 and text_length("微博") == 2
    table = rules_table()
    assert {row["platform"] for row in table} == {p.value for p in Platform} == {p.value for p in RULES}
    assert all(
        isinstance(cell, dict) and cell["source"]
        for row in table
        for k, cell in row.items()
        if k not in ("platform", "label_zh")
    )


def test_content_hash_changes_with_any_field() -> None:
    a = VersionContent(title="t", body="b")
    assert content_hash(a) == content_hash(VersionContent(title="t", body="b"))
    assert content_hash(a) != content_hash(VersionContent(title="t", body="b", facts_flagged=True))
    assert content_hash(a) != content_hash(VersionContent(title="t", body="b "))


def test_effect_summary_against_kpis() -> None:
    s = effect_summary(MetricsSnapshot(views=1200, likes=30), KpiTargets(views=1000, likes=50))
    assert s.beat == ["views"] and s.missed == ["likes"]
    likes = next(r for r in s.results if r.metric == "likes")
    assert (likes.delta, likes.ratio, likes.met) == (-20, 0.6, False)


def test_ical_escapes_and_folds() -> None:
    ev = CalendarEvent(
        uid="content-1@socialops",
        start=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
        summary="新品发布；第一波, 预热" + "很长的标题" * 20,
        description="第一行\n第二行",
    )
    text = render([ev], "日历", datetime(2026, 11, 26, tzinfo=UTC))
    lines = text.split("\r\n")
    assert "DTSTART:20261201T020000Z" in lines
    assert all(len(line.encode()) <= 75 for line in lines)
    unfolded = text.replace("\r\n ", "")
    assert "SUMMARY:新品发布\\；第一波\\, 预热" not in unfolded  # the full-width ； is not escaped
    assert "SUMMARY:新品发布；第一波\\, 预热" in unfolded and "DESCRIPTION:第一行\\n第二行" in unfolded
