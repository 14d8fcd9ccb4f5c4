"""Engagement inbox: classification, routing, SLA on the business calendar, agent actions, feedback loop."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from connectors.sandbox import SandboxPlatform
from db.engine import Database
from db.inbox import store_items
from db.models import FaqRow, FeedbackRecord, Interaction, Shift
from domain import ids
from domain.inbox import AuthorContext, InboxPolicy, Intent, classify
from domain.inbox_io import FeedbackOutcome, FeedbackRequest, NoteRequest, ReplyRequest
from domain.kernel import Actor, Platform, WorkCalendarConfig
from domain.roles import Role
from domain.sentiment import default_model
from tests.content_helpers import content_worker, notifications
from tests.seeds import seed_accounts
from tests.waiting import until
from workflows.interaction import InteractionWorkflow

SH = ZoneInfo("Asia/Shanghai")
ALWAYS = WorkCalendarConfig(start_hour=0, end_hour=24, workdays=[0, 1, 2, 3, 4, 5, 6])
AGENT = Actor(user_id=90, name="xiaozhou", roles=[Role.interaction_agent])


def test_classification_with_reasons() -> None:
    texts = [
        "请问暖手宝充满电要多久？",
        "坏了，我要投诉退款！",
        "加V：hx888888 兼职日赚500",
        "公司想批发两百台，请报价",
        "建议出粉色款",
        "很好用，支持！",
        "http://spam.example.com 点击链接领红包 13812345678",
    ]
    got = classify(texts, [AuthorContext()] * len(texts), default_model())
    assert [c.intent for c in got] == [
        Intent.inquiry,
        Intent.complaint,
        Intent.spam,
        Intent.sales_lead,
        Intent.suggestion,
        Intent.praise,
        Intent.spam,
    ]
    assert any("含微信/QQ号" in r for r in got[2].reasons) and any("含链接" in r for r in got[6].reasons)
    flood = classify(["求关注"], [AuthorContext(recent_items=12)], default_model())[0]
    assert flood.intent is Intent.spam and "刷屏" in flood.reasons[-1]
    spread = classify(["垃圾产品，我要曝光"], [AuthorContext(followers=50_000)], default_model())[0]
    assert spread.may_spread and spread.priority.value == "urgent"


def test_sla_spans_weekend_and_public_holiday() -> None:
    policy = InboxPolicy(calendar=WorkCalendarConfig(holidays=["2027-01-01"], makeup_workdays=[]))
    from domain.workcalendar import WorkCalendar

    received = datetime(2026, 12, 31, 17, 0, tzinfo=SH)  # Thursday 17:00; Friday is New Year's Day
    due = WorkCalendar(policy.calendar).add(
        received,
        policy.sla_for(Intent.complaint, __import__("domain.inbox", fromlist=["Priority"]).Priority.normal),
    )
    assert due == datetime(2027, 1, 4, 10, 0, tzinfo=SH)  # one hour left Thursday, one hour Monday


def set_policy(db: Database, policy: InboxPolicy) -> None:
    from db.models import InboxPolicyRow

    with db.session() as s:
        row = s.get(InboxPolicyRow, 1)
        assert row is not None
        row.policy = policy.model_dump(mode="json")
        s.add(row)
        s.commit()


async def start(
    env: WorkflowEnvironment, worker: Any, db: Database, text: str, n: int, **extra: Any
) -> WorkflowHandle[Any, Any]:
    from core.dispatch import dispatch

    seed_accounts(db)
    inputs = store_items(
        db, Platform.weibo, "brand_weibo", [{"external_id": f"c-{n}", "text": text, "author": f"用户{n}", **extra}]
    )
    assert len(inputs) == 1
    res = await dispatch(env.client, db, worker.task_queue, keys=[ids.interaction(Platform.weibo, f"c-{n}")])
    assert res.started == [f"interaction-weibo-c-{n}"], res
    return env.client.get_workflow_handle(ids.interaction(Platform.weibo, f"c-{n}"))


async def state(h: WorkflowHandle[Any, Any], check: Any, what: str) -> Any:
    async def reached() -> Any:
        st = await h.query(InteractionWorkflow.current)
        return st if check(st) else None

    return await until(reached, what, timeout=15)


def on_shift(db: Database, user: str, now: datetime) -> None:
    with db.session() as s:
        s.add(Shift(user=user, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=30)))
        s.commit()


async def test_routes_praise_spam_faq_lead_spread(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform
) -> None:
    env, db = time_skipping, sqlite_database
    set_policy(db, InboxPolicy(calendar=ALWAYS, faq_threshold=0.6))
    with db.session() as s:
        s.add(FaqRow(question="暖手宝充电需要多长时间？", answer="充满约需 2 小时。", keywords=["充电", "充满"]))
        s.commit()
    now = await env.get_current_time()
    on_shift(db, "xiaozhou", now)
    async with content_worker(env.client, db, sandbox) as w:
        praise = await start(env, w, db, "很好用，支持！", 1)
        spam = await start(env, w, db, "加V：hx888888 兼职日赚500", 2)
        faq_hit = await start(env, w, db, "请问暖手宝充满电要多久？", 3)
        faq_miss = await start(env, w, db, "请问暖手宝可以带上飞机吗？", 4)
        lead = await start(env, w, db, "公司想批发两百台，请报价", 5)
        spread = await start(env, w, db, "垃圾产品，质量太差，我要曝光", 6, author_followers=80_000)

        st = await state(praise, lambda s: s.status == "closed", "praise thanked")
        assert "thanked" in [e.kind for e in st.history]
        st = await state(spam, lambda s: s.status == "hidden", "spam hidden")
        assert sandbox.is_hidden(Platform.weibo, "c-2")
        await spam.execute_update(InteractionWorkflow.set_hidden, NoteRequest(actor=AGENT, note="unhide"))
        st = await state(spam, lambda s: s.assignee == "xiaozhou", "unhidden and handled")
        assert [e.kind for e in st.history][1:3] == ["hidden", "unhidden"]
        assert not sandbox.is_hidden(Platform.weibo, "c-2")
        with db.session() as s:  # a person said it is not spam: lists and figures no longer count it as spam
            row = s.exec(select(Interaction).where(Interaction.external_id == "c-2")).one()
            assert row.intent == "other" and not row.hidden

        st = await state(faq_hit, lambda s: s.status == "closed", "faq auto reply")
        assert "faq_auto_reply" in [e.kind for e in st.history]
        assert [p.text for p in sandbox.replies_to(Platform.weibo, "c-3")] == ["充满约需 2 小时。"]
        st = await state(faq_miss, lambda s: s.status == "assigned", "faq below threshold")
        assert st.faq_suggestion is None  # sharing only the product name (0.16) is below the minimum score
        assert sandbox.replies_to(Platform.weibo, "c-4") == []

        await state(lead, lambda s: s.status == "assigned", "lead")
        assert any(n.recipient_role == "marketing" and "销售线索" in n.subject for n in notifications(db))
        st = await state(spread, lambda s: s.status == "assigned", "spread")
        assert st.priority == "urgent"
        assert any(n.recipient_role == "risk_compliance" for n in notifications(db))
        del praise, st


async def test_off_hours_acknowledgement(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform
) -> None:
    env, db = time_skipping, sqlite_database
    now = (await env.get_current_time()).astimezone(SH)
    closed_hours = WorkCalendarConfig(
        start_hour=(now.hour + 2) % 24, end_hour=(now.hour + 2) % 24 + 1 or 1, workdays=[0, 1, 2, 3, 4, 5, 6]
    )
    if closed_hours.end_hour <= closed_hours.start_hour:
        closed_hours = WorkCalendarConfig(start_hour=1, end_hour=2, workdays=[0, 1, 2, 3, 4, 5, 6])
    set_policy(db, InboxPolicy(calendar=closed_hours))
    async with content_worker(env.client, db, sandbox) as w:
        h = await start(env, w, db, "快递坏了，我要投诉！", 7)
        st = await state(h, lambda s: "off_hours_ack" in [e.kind for e in s.history], "ack")
        # The acknowledgement is not a first response: the item keeps its SLA (was: counted as answered).
        assert st.status == "waiting" and st.first_response_at is None and st.sla_due is not None
        ack = sandbox.replies_to(Platform.weibo, "c-7")[0].text
        assert "非工作时间" in ack and f"每天 {closed_hours.start_hour}:00–" in ack  # the policy's hours
        with db.session() as s:  # the record says so too (was: the bot's reply set the first response)
            row = s.exec(select(Interaction).where(Interaction.external_id == "c-7")).one()
        assert row.first_response_at is None and row.first_bot_reply_at is not None and row.bot_replies == 1


async def test_escalation_chain_and_reply_posts_once(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform
) -> None:
    env, db = time_skipping, sqlite_database
    set_policy(db, InboxPolicy(calendar=ALWAYS, group_lead="lead.wang"))
    now = await env.get_current_time()
    on_shift(db, "xiaozhou", now)
    async with content_worker(env.client, db, sandbox) as w:
        h = await start(env, w, db, "收到的东西是坏的，我要投诉", 8)
        st = await state(h, lambda s: s.status == "assigned", "assigned")
        assert st.sla_due is not None
        await env.sleep(timedelta(hours=1, minutes=31))  # 75 % of 2 h
        await state(h, lambda s: "sla_reminder" in [e.kind for e in s.history], "reminder")
        assert [n.recipient_user for n in notifications(db, "reminder")] == ["xiaozhou"]
        await env.sleep(timedelta(minutes=30))  # breach → group lead
        await state(h, lambda s: "breach" in s.escalations, "breach")
        await env.sleep(timedelta(hours=1))  # 1.5 × SLA → ops_head
        st = await state(h, lambda s: "ops_head" in s.escalations, "ops_head")
        assert [(n.recipient_user, n.recipient_role) for n in notifications(db, "escalation")] == [
            ("lead.wang", ""),
            ("", "ops_head"),
        ]
        sandbox.inject_fault(Platform.weibo, "reply", "timeout_after_accept")
        req = ReplyRequest(actor=AGENT, text="非常抱歉，已为您安排换货。", request_key="r-1")
        await h.execute_update(InteractionWorkflow.reply, req)
        await h.execute_update(InteractionWorkflow.reply, req)  # the client retries the same request
        await state(h, lambda s: s.status == "closed", "closed")
    assert [p.text for p in sandbox.replies_to(Platform.weibo, "c-8")] == ["非常抱歉，已为您安排换货。"]


async def test_feedback_loop_tells_the_user(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform
) -> None:
    env, db = time_skipping, sqlite_database
    set_policy(db, InboxPolicy(calendar=ALWAYS))
    on_shift(db, "xiaozhou", await env.get_current_time())
    async with content_worker(env.client, db, sandbox) as w:
        h = await start(env, w, db, "建议暖手宝增加定时关机功能，希望能考虑", 9)
        await state(h, lambda s: s.status == "assigned", "assigned")
        # A double click: two requests at once open one feedback record, the other is refused.
        both = await asyncio.gather(
            *(
                h.execute_update(
                    InteractionWorkflow.open_feedback,
                    FeedbackRequest(actor=AGENT, category="功能建议", department="product", summary="定时关机"),
                )
                for _ in range(2)
            ),
            return_exceptions=True,
        )
        assert sum(isinstance(b, WorkflowUpdateFailedError) for b in both) == 1, both
        await h.execute_update(
            InteractionWorkflow.reply,
            ReplyRequest(actor=AGENT, text="感谢建议，已转产品部门。", request_key="r-9", save_as_faq=""),
        )
        await state(h, lambda s: s.status == "feedback_open", "feedback open")
        with db.session() as s:
            fb = s.exec(select(FeedbackRecord)).one()
            assert fb.department == "product" and fb.status == "open"
        await env.sleep(timedelta(days=1, minutes=5))
        assert any("用户反馈待处理" in n.subject for n in notifications(db, "reminder"))
        await h.execute_update(
            InteractionWorkflow.resolve_feedback,
            FeedbackOutcome(
                actor=Actor(user_id=5, name="pm", roles=[Role.ops_head]), outcome="新版固件已加入 2 小时定时关机"
            ),
        )
        st = await state(h, lambda s: s.status == "closed", "closed")
        assert "user_told_outcome" in [e.kind for e in st.history]
    replies = [p.text for p in sandbox.replies_to(Platform.weibo, "c-9")]
    assert replies[0] == "感谢建议，已转产品部门。" and "新版固件已加入 2 小时定时关机" in replies[1]
    with db.session() as s:
        fb = s.exec(select(FeedbackRecord)).one()
    assert fb.status == "resolved" and fb.user_told_at is not None and fb.resolved_by == "pm"


def test_redelivery_is_deduplicated(sqlite_database: Database) -> None:
    items = [{"external_id": "dup-1", "text": "请问有货吗？", "author": "a"}]
    assert len(store_items(sqlite_database, Platform.weibo, "acc", items)) == 1
    assert store_items(sqlite_database, Platform.weibo, "acc", items * 3) == []


async def test_sla_timer_spans_a_holiday_and_a_weekend_day(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform
) -> None:
    """Received one hour before closing; tomorrow is a public holiday and the day after is a rest day."""
    env, db = time_skipping, sqlite_database
    # Move to 10:30 Shanghai whenever the test runs (the item is received then): the working day (00:00 to
    # an hour after receipt) must be longer than the 2-hour SLA, which it is not when the clock says 00:xx.
    now = (await env.get_current_time()).astimezone(SH)
    ten_thirty = now.replace(hour=10, minute=30, second=0, microsecond=0)
    await env.sleep(ten_thirty - now if ten_thirty > now else ten_thirty + timedelta(days=1) - now)
    now = (await env.get_current_time()).astimezone(SH)
    assert (now.hour, now.minute) == (10, 30)
    day0 = now.date()
    rest_day = (day0 + timedelta(days=2)).weekday()
    cal = WorkCalendarConfig(start_hour=0, end_hour=now.hour + 1, workdays=[d for d in range(7) if d != rest_day],
                             holidays=[(day0 + timedelta(days=1)).isoformat()])  # fmt: skip
    set_policy(db, InboxPolicy(calendar=cal))
    on_shift(db, "xiaozhou", now)
    async with content_worker(env.client, db, sandbox) as w:
        h = await start(env, w, db, "东西坏了，我要投诉", 10, received_at=now.isoformat())
        st = await state(h, lambda s: s.status == "assigned", "assigned")
        assert st.sla_due is not None and st.sla_due.astimezone(SH).date() == day0 + timedelta(days=3)
        await env.sleep(
            timedelta(hours=3)
        )  # wall-clock 3 h later: still inside the SLA (closed hours don't count)
        await asyncio.sleep(0.5)
        st = await h.query(InteractionWorkflow.current)
        assert st.escalations == [] and "sla_reminder" not in [e.kind for e in st.history]
        await env.sleep(st.sla_due - (await env.get_current_time()) + timedelta(minutes=1))
        st = await state(h, lambda s: "breach" in s.escalations, "breach after the holiday and the rest day")


async def test_items_arriving_together_are_spread_over_the_rota(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform
) -> None:
    """Was: every item of a burst went to the agent who was least loaded before any of them was counted."""
    env, db = time_skipping, sqlite_database
    set_policy(db, InboxPolicy(calendar=ALWAYS))
    now = await env.get_current_time()
    for agent in ("xiaozhou", "xiaoli", "xiaowang"):
        on_shift(db, agent, now)
    texts = [f"快递第{i}天还没到，怎么回事？订单{i}" for i in range(6)]
    async with content_worker(env.client, db, sandbox) as w:
        handles = await asyncio.gather(*(start(env, w, db, t, 100 + i) for i, t in enumerate(texts)))
        states = [await state(h, lambda s: s.assignee != "", "assigned") for h in handles]
    load: dict[str, int] = {}
    for st in states:
        load[st.assignee] = load.get(st.assignee, 0) + 1
    assert sorted(load.values()) == [2, 2, 2], load


async def test_the_department_tells_the_user_at_once_and_only_it_resolves(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform
) -> None:
    """Was: any role resolved any department's feedback, and the user heard only after an agent replied."""
    env, db = time_skipping, sqlite_database
    set_policy(db, InboxPolicy(calendar=ALWAYS))
    on_shift(db, "xiaozhou", await env.get_current_time())
    async with content_worker(env.client, db, sandbox) as w:
        h = await start(env, w, db, "希望出一个带定时关机的款式", 31)
        await state(h, lambda s: s.status == "assigned", "assigned")
        await h.execute_update(
            InteractionWorkflow.open_feedback,
            FeedbackRequest(actor=AGENT, category="功能建议", department="product", summary="定时关机"),
        )
        marketing = Actor(user_id=8, name="mkt", roles=[Role.marketing])
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await h.execute_update(
                InteractionWorkflow.resolve_feedback, FeedbackOutcome(actor=marketing, outcome="已排期")
            )
        assert "product" in str(err.value.cause)
        pm = Actor(user_id=9, name="pm", roles=[Role.business_reviewer])
        await h.execute_update(
            InteractionWorkflow.resolve_feedback, FeedbackOutcome(actor=pm, outcome="新版将支持 2 小时定时关机")
        )
        # no agent has replied yet: the user is told now, and the record is closed
        assert any("定时关机" in p.text for p in sandbox.replies_to(Platform.weibo, "c-31"))
        with db.session() as s:
            fb = s.exec(select(FeedbackRecord)).one()
        assert fb.status == "resolved" and fb.user_told_at is not None


def test_spam_solicitation_batch_repeats_and_floods() -> None:
    from domain.inbox import earlier_to_hide

    m = default_model()
    one = classify(["加我微信 abc12345，带你赚钱", "加我好友吧"], [AuthorContext()] * 2, m)
    assert one[0].intent is Intent.spam and one[1].intent is not Intent.spam
    customer = classify(["订单一直没到，请尽快联系我 13812345678"], [AuthorContext()], m)[0]
    assert customer.intent is Intent.complaint and customer.spam_signals == ["含手机号"]
    # three identical texts in one batch, none stored before: every copy is a repeat, the first one too
    ad = "全场一折清仓 速来抢购"
    got = classify([ad, "质量不错", ad, ad], [AuthorContext()] * 4, m)
    assert [c.intent is Intent.spam for c in got] == [True, False, True, True]
    assert "本批 2 条" in got[0].reasons[-1]
    # one author posting eleven times in one batch is a flood; another author with one item is not
    texts = [f"第{i}条，大家快来看看" for i in range(11)] + ["第十二条，大家快来看看"]
    ctx = [AuthorContext(author="flooder")] * 11 + [AuthorContext(author="someone")]
    got = classify(texts, ctx, m)
    assert all(c.intent is Intent.spam for c in got[:11]) and got[11].intent is not Intent.spam
    # a later copy reveals the repeat: the stored copies (below the threshold when they came) are named
    hide = earlier_to_hide([ad], [AuthorContext(same_text_seen=2)])
    assert hide.matches(" 全场一折清仓  速来抢购！", "x") and not hide.matches("质量不错", "x")
    hide = earlier_to_hide(["新的一条", "又一条"], [AuthorContext(author="flooder", recent_items=9)] * 2)
    assert hide.matches("anything", "flooder") and not hide.matches("anything", "other")
    assert not earlier_to_hide(["质量不错"], [AuthorContext(author="a", recent_items=3)])


def test_risk_vocabulary_and_may_spread_without_negative_sentiment() -> None:
    from domain.risk import SAFETY_TERMS, spread_terms

    for term in ("冒烟", "着火", "烧焦", "鼓包", "漏电", "过敏", "炸了", "中毒"):
        assert term in SAFETY_TERMS
    assert spread_terms("我已经投诉到12315了") == ["投诉到", "12315"]
    m = default_model()
    texts = ["我已经投诉到12315了，等着吧", "明天就去法院起诉你们", "我会找记者来评评理", "充电器有点慢"]
    got = classify(texts, [AuthorContext()] * len(texts), m)
    assert [c.may_spread for c in got] == [True, True, True, False]
    assert got[0].priority.value == "urgent" and "12315" in got[0].reasons[-1]


async def test_after_sales_questions_find_the_faq_whatever_their_intent(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform
) -> None:
    """Was: only items labelled inquiry looked up the FAQ, and any overlap at all was suggested."""
    from domain.inbox import faq_applies

    assert faq_applies(Intent.complaint, "耳机坏了能退货吗") and not faq_applies(Intent.complaint, "太慢了")
    assert not faq_applies(Intent.spam, "退款加微信") and faq_applies(Intent.inquiry, "几点发货")
    env, db = time_skipping, sqlite_database
    set_policy(db, InboxPolicy(calendar=ALWAYS, faq_threshold=0.6, faq_min_score=0.35))
    with db.session() as s:
        s.add(
            FaqRow(
                question="如何申请退货退款？",
                answer="7 天无理由退货：订单页点“申请售后”。",
                keywords=["退货", "退款"],
            )
        )
        s.commit()
    on_shift(db, "xiaozhou", await env.get_current_time())
    async with content_worker(env.client, db, sandbox) as w:
        angry = await start(env, w, db, "收到就坏了，太失望了，我要退货退款！", 41)
        vague = await start(env, w, db, "请问你们周末上班吗？", 42)
        st = await state(angry, lambda s: s.status == "assigned", "a person handles the complaint")
        assert st.faq_suggestion is not None and st.faq_suggestion["question"] == "如何申请退货退款？"
        assert sandbox.replies_to(Platform.weibo, "c-41") == []  # suggested to the agent, not sent by a bot
        st = await state(vague, lambda s: s.status == "assigned", "inquiry without a good FAQ match")
        assert st.faq_suggestion is None  # below the minimum score: nothing to suggest


async def test_a_later_copy_hides_the_earlier_ones_and_a_person_can_unhide(
    time_skipping: WorkflowEnvironment, sqlite_database: Database, sandbox: SandboxPlatform
) -> None:
    """Was: the first copies of a repeated text (below the threshold when they arrived) stayed visible and
    waited for an agent after the third copy showed the text to be spam."""
    from core.dispatch import dispatch
    from db.inbox import store_batch

    env, db = time_skipping, sqlite_database
    set_policy(db, InboxPolicy(calendar=ALWAYS))
    on_shift(db, "xiaozhou", await env.get_current_time())
    seed_accounts(db)
    text = "请问这个活动什么时候结束？"
    async with content_worker(env.client, db, sandbox) as w:
        first = await start(env, w, db, text, 51)
        second = await start(env, w, db, text, 52)
        await state(first, lambda s: s.status == "assigned", "an ordinary question at first")
        await state(second, lambda s: s.status == "assigned", "a second copy is still below the threshold")
        batch = store_batch(
            db, Platform.weibo, "brand_weibo", [{"external_id": "c-53", "text": text, "author": "x"}]
        )
        assert batch.inputs[0].classification.intent is Intent.spam
        assert sorted(batch.flag_keys) == ["interaction-weibo-c-51:flag-spam", "interaction-weibo-c-52:flag-spam"]
        again = store_batch(db, Platform.weibo, "brand_weibo", [{"external_id": "c-53", "text": text}])
        assert again.inputs == [] and again.flag_keys == []  # a redelivery flags nothing twice
        res = await dispatch(env.client, db, w.task_queue, keys=batch.outbox_keys)
        assert len(res.started) == 3, res
        for h, ext in ((first, "c-51"), (second, "c-52")):
            st = await state(h, lambda s: s.status == "hidden", "hidden once the flood is known")
            assert st.intent == "spam" and "spam_revealed" in [e.kind for e in st.history]
            assert sandbox.is_hidden(Platform.weibo, ext)
        with db.session() as s:
            rows = s.exec(select(Interaction).where(col(Interaction.external_id).in_(["c-51", "c-52"]))).all()
            assert all(r.hidden and r.intent == "spam" and r.status == "hidden" for r in rows)
        # its SLA stops while it is hidden as spam: no breach a day later
        await env.sleep(timedelta(hours=30))
        st = await first.query(InteractionWorkflow.current)
        assert st.escalations == [] and st.status == "hidden"
        # a person says the first one was a real question: it is visible and handled again, as an inquiry
        await first.execute_update(InteractionWorkflow.set_hidden, NoteRequest(actor=AGENT, note="unhide"))
        st = await state(first, lambda s: s.status == "assigned" and s.intent == "inquiry", "unhidden, handled")
        assert not sandbox.is_hidden(Platform.weibo, "c-51")
        assert st.escalations == []  # the 30 hours it was hidden do not count against its SLA
        await first.execute_update(
            InteractionWorkflow.reply, ReplyRequest(actor=AGENT, text="活动到本月底结束。", request_key="k1")
        )
        await state(first, lambda s: s.status == "closed", "answered and closed")

        # A closed item is not run again when a later copy shows it to be spam (was: its process restarted,
        # logged "received" again and re-did its routing).
        praise = "这款暖手宝真好用，推荐大家买！"
        first_runs = {}
        for n in (61, 62):
            h = await start(env, w, db, praise, n)
            await state(h, lambda s: s.status == "closed", "thanked and closed")
            first_runs[f"interaction-weibo-c-{n}"] = (await h.describe()).run_id
        later = store_batch(db, Platform.weibo, "brand_weibo", [{"external_id": "c-63", "text": praise}])
        assert sorted(later.flag_keys) == ["interaction-weibo-c-61:flag-spam", "interaction-weibo-c-62:flag-spam"]
        await dispatch(env.client, db, w.task_queue, keys=later.outbox_keys)
        for wid, run_id in first_runs.items():
            assert (await env.client.get_workflow_handle(wid).describe()).run_id == run_id, wid  # not re-run
