"""Engagement inbox (R-4.2.1, R-4.2.2, R-4.2.4, R-2.2, R-3.3): classification, FAQ matching, SLA policy.

Pure code. Spam comes from its signals (links, contact handles, solicitation, repeats, floods — counted over
the whole batch); every other intent from the trained intent model (domain/intent.py: character n-grams,
sentiment, question form and context-checked cue words); sentiment from the shipped model. Every label
carries its reasons.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from domain.intent import IntentModel, cue_hits
from domain.intent import default_model as default_intent_model
from domain.kernel import WorkCalendarConfig
from domain.limits import MAX_SLA_HOURS
from domain.risk import WEAK_SPREAD_TERMS, spread_terms
from domain.roles import Role
from domain.sentiment import Sentiment, SentimentModel


class Kind(StrEnum):
    comment = "comment"
    reply = "reply"
    dm = "dm"
    mention = "mention"


class Intent(StrEnum):
    praise = "praise"
    inquiry = "inquiry"
    complaint = "complaint"
    suggestion = "suggestion"
    spam = "spam"
    sales_lead = "sales_lead"
    other = "other"


class Priority(StrEnum):
    urgent = "urgent"
    high = "high"
    normal = "normal"
    low = "low"


_URL = re.compile(r"(https?://|www\.)\S+|\b[\w-]+\.(com|cn|net|top|xyz|vip)\b", re.I)
_CONTACT = re.compile(
    r"(加\s*[vV微]|[vV][xX]|[vV]信|微信|威信|薇信|维信|wx|qq|扣扣|企鹅)\s*号?\s*[:：]?\s*[A-Za-z0-9_-]{5,}", re.I
)
_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
# Solicitation that is spam on its own, and weaker asks that are spam only together with a contact handle,
# a phone number or a link ("加我微信 abc123" is spam; "加我好友吧" alone is not).
_SOLICIT = (
    "加V",
    "加v",
    "加微",
    "兼职",
    "日赚",
    "月入过万",
    "代刷",
    "刷单",
    "免费领取",
    "私聊有惊喜",
    "点击链接",
    "低价出",
)
_SOLICIT_WEAK = (
    "加我",
    "加一下",
    "私聊",
    "私信我",
    "滴滴我",
    "扫码",
    "进群",
    "加群",
    "主页有",
    "看我主页",
)  # not 联系我 / 找我: a customer who leaves a phone number for the service team is not spam
_SPACE_PUNCT = re.compile(r"[\s\W_]+")
REPEAT_THRESHOLD = 2  # earlier copies (stored or in the same batch) that make a text a repeat
FLOOD_THRESHOLD = 10  # other items by one author within the hour (stored or in the same batch)
MIN_REPEAT_CHARS = 4  # "好评" or "赞" three times from three fans is not spam


class Classification(BaseModel):
    intent: Intent
    sentiment: Sentiment
    sentiment_score: float
    priority: Priority
    spam_signals: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    may_spread: bool = False


class AuthorContext(BaseModel):
    """What the inbox already knows about the author when an item arrives."""

    followers: int = 0
    recent_items: int = 0  # from this author in the last hour (stored items)
    same_text_seen: int = 0  # identical text already received (stored items)
    author: str = ""  # lets classify() count the author's other items in the same batch


def repeat_key(text: str) -> str:
    """What "identical" means for repeats: case, white space and punctuation ignored."""
    return _SPACE_PUNCT.sub("", text).casefold()


def spam_signals(
    text: str, ctx: AuthorContext, in_batch_copies: int = 0, in_batch_by_author: int = 0
) -> list[str]:
    """Spam signals of one text. ``in_batch_*`` count the *other* items of the same batch with the same text
    / by the same author: a batch is judged as a whole, so the first copy and the last look alike."""
    signals = []
    link = bool(_URL.search(text))
    contact = bool(_CONTACT.search(text))
    phone = bool(_PHONE.search(text))
    if link:
        signals.append("含链接")
    if contact:
        signals.append("含微信/QQ号")
    if phone:
        signals.append("含手机号")
    hits = [w for w in _SOLICIT if w in text]
    if link or contact or phone:
        hits += [w for w in _SOLICIT_WEAK if w in text and not any(w in h for h in hits)]
    if hits:
        signals.append(f"招揽用语：{'、'.join(hits)}")
    same = ctx.same_text_seen + in_batch_copies
    if same >= REPEAT_THRESHOLD and len(repeat_key(text)) >= MIN_REPEAT_CHARS:
        where = f"（本批 {in_batch_copies} 条）" if in_batch_copies else ""
        signals.append(f"相同内容已出现 {same} 次{where}")
    recent = ctx.recent_items + in_batch_by_author
    if recent >= FLOOD_THRESHOLD:
        signals.append(f"同一作者 1 小时内 {recent} 条（刷屏）")
    return signals


def _is_spam(signals: list[str]) -> bool:
    return len(signals) >= 2 or any(s.startswith(("招揽", "相同内容", "同一作者")) for s in signals)


def _batch_counts(texts: list[str], contexts: list[AuthorContext]) -> tuple[list[int], list[int]]:
    """Per item: other items of the batch with the same text, and by the same (named) author."""
    keys = [repeat_key(t) for t in texts]
    by_text: dict[str, int] = {}
    by_author: dict[str, int] = {}
    for k, c in zip(keys, contexts, strict=True):
        by_text[k] = by_text.get(k, 0) + 1
        if c.author:
            by_author[c.author] = by_author.get(c.author, 0) + 1
    return (
        [by_text[k] - 1 for k in keys],
        [by_author[c.author] - 1 if c.author else 0 for c in contexts],
    )


class HideEarlier(BaseModel):
    """Stored items a batch revealed as spam after the fact: copies of a repeated text, and an author's flood.

    The activity that stores a batch hides, among items it already stored (not yet hidden), those for which
    ``matches(row.text, row.author)`` holds — for authors, within the flood window (the last hour).
    """

    texts: list[str] = Field(default_factory=list)  # repeat_key() of texts whose earlier copies to hide
    authors: list[str] = Field(default_factory=list)

    def matches(self, text: str, author: str) -> bool:
        return (bool(author) and author in self.authors) or repeat_key(text) in self.texts

    def __bool__(self) -> bool:
        return bool(self.texts or self.authors)


def earlier_to_hide(texts: list[str], contexts: list[AuthorContext]) -> HideEarlier:
    """Which earlier, already stored items this batch shows to be spam (see ``HideEarlier``).

    A text with stored copies that is a repeat now names its stored copies (the first ones were still below
    the threshold when they arrived); likewise an author with stored items who is flooding now. Hiding is
    idempotent, so naming copies already hidden is harmless.
    """
    copies, by_author = _batch_counts(texts, contexts)
    hide_texts: dict[str, None] = {}
    hide_authors: dict[str, None] = {}
    for text, ctx, c, a in zip(texts, contexts, copies, by_author, strict=True):
        key = repeat_key(text)
        if ctx.same_text_seen > 0 and ctx.same_text_seen + c >= REPEAT_THRESHOLD:
            if len(key) >= MIN_REPEAT_CHARS:
                hide_texts[key] = None
        if ctx.author and ctx.recent_items > 0 and ctx.recent_items + a >= FLOOD_THRESHOLD:
            hide_authors[ctx.author] = None
    return HideEarlier(texts=list(hide_texts), authors=list(hide_authors))


# A question the sentiment model leans negative on but not strongly (and with no complaint cue) is neutral.
PLAIN_QUESTION_FLOOR = 0.1


def classify(
    texts: list[str],
    contexts: list[AuthorContext],
    model: SentimentModel,
    intent_model: IntentModel | None = None,
) -> list[Classification]:
    """Spam from its signals (judged over the whole batch), else intent from the trained model
    (domain/intent.py); sentiment from ``model``. Every label carries its reasons."""
    intents = intent_model or default_intent_model()
    out = []
    copies, by_author = _batch_counts(texts, contexts)
    decisions = model.opinion_decisions(texts, model.decisions(texts))
    labels = model.classify_decisions(texts, decisions)
    predicted = intents.predict(texts, decisions.tolist())
    for text, ctx, (label, p, _conf), guess, n_copies, n_author in zip(
        texts, contexts, labels, predicted, copies, by_author, strict=True
    ):
        signals = spam_signals(text, ctx, n_copies, n_author)
        reasons = [f"情感 {label.value}（{p:.2f}）"]
        if _is_spam(signals):
            intent = Intent.spam
            reasons.append("垃圾信号：" + "；".join(signals))
        else:
            intent = Intent(guess.intent)
            reasons += guess.reasons
            if intent is Intent.inquiry and label is Sentiment.negative and p >= PLAIN_QUESTION_FLOOR:
                if not cue_hits(text).get("complaint"):
                    # "能开发票吗？公司报销需要。": a request for something, not a grievance
                    label = Sentiment.neutral
                    reasons[0] = f"情感 neutral（{p:.2f}，问句且无抱怨线索）"
        spread = spread_terms(text) if intent is not Intent.spam else []
        if intent is Intent.praise and all(t in WEAK_SPREAD_TERMS for t in spread):
            spread = []
        big_account = label is Sentiment.negative and ctx.followers >= 10_000
        may_spread = big_account or bool(spread)
        if may_spread:
            why = [f"粉丝 {ctx.followers}"] if big_account else []
            why += [f"要找{'、'.join(spread)}"] if spread else []
            reasons.append(f"可能扩散（{'；'.join(why)}）")
        if intent is Intent.spam:
            priority = Priority.low
        elif may_spread or (intent is Intent.complaint and label is Sentiment.negative):
            priority = Priority.urgent if may_spread else Priority.high
        elif intent in (Intent.complaint, Intent.sales_lead):
            priority = Priority.high
        elif intent is Intent.praise:
            priority = Priority.low
        else:
            priority = Priority.normal
        out.append(
            Classification(
                intent=intent,
                sentiment=label,
                sentiment_score=round(p, 4),
                priority=priority,
                spam_signals=signals,
                reasons=reasons,
                may_spread=may_spread,
            )
        )
    return out


# --- FAQ ------------------------------------------------------------------------------------------------


class FaqEntry(BaseModel):
    id: int
    question: str
    answer: str
    keywords: list[str] = Field(default_factory=list)


_STRIP = re.compile(r"[\s，。！？、,.!?：:；;“”\"'（）()]+")


def _bigrams(text: str) -> set[str]:
    t = _STRIP.sub("", text.lower())
    return {t[i : i + 2] for i in range(len(t) - 1)} or ({t} if t else set())


# After-sales questions (return, refund, exchange, fault, repair, invoice) have FAQ answers whatever the
# intent label says: "怎么退货？" is an inquiry, "坏了能退吗，太失望了" reads as a complaint.
AFTER_SALES = ("退货", "退款", "换货", "退换", "退钱", "售后", "保修", "维修", "坏了", "故障", "发票", "运费险")


def faq_applies(intent: Intent, text: str) -> bool:
    """Whether the FAQ is consulted for this item: every inquiry, and after-sales questions whatever their
    intent (never spam or praise)."""
    if intent is Intent.inquiry:
        return True
    return intent not in (Intent.spam, Intent.praise) and any(w in text for w in AFTER_SALES)


def faq_match(text: str, entries: list[FaqEntry]) -> tuple[FaqEntry | None, float]:
    """Best entry and a confidence in [0, 1]: character and bigram overlap with the question, plus keywords."""
    grams = _bigrams(text)
    chars = set(_STRIP.sub("", text.lower()))
    best: tuple[FaqEntry | None, float] = (None, 0.0)
    for e in entries:
        q = _bigrams(e.question)
        q_chars = set(_STRIP.sub("", e.question.lower()))
        overlap = len(grams & q) / max(len(q), 1)
        char_overlap = len(chars & q_chars) / max(len(q_chars), 1)
        kw = [k for k in e.keywords if k and k in text]
        score = min(1.0, 0.45 * overlap + 0.25 * char_overlap + (0.3 if kw else 0.0) + 0.1 * max(len(kw) - 1, 0))
        if overlap == 1.0:
            score = 1.0
        if score > best[1]:
            best = (e, round(score, 3))
    return best


# Public holidays and make-up workdays for 2026 as the team recorded them from the State Council's notice;
# edit them through PUT /inbox/policy if the notice differs.
CN_HOLIDAYS_2026 = [
    "2026-01-01",
    "2026-01-02",
    "2026-01-03",
    *(f"2026-02-{d:02d}" for d in range(15, 24)),
    "2026-04-04",
    "2026-04-05",
    "2026-04-06",
    *(f"2026-05-{d:02d}" for d in range(1, 6)),
    "2026-06-19",
    "2026-06-20",
    "2026-06-21",
    "2026-09-25",
    "2026-09-26",
    "2026-09-27",
    *(f"2026-10-{d:02d}" for d in range(1, 8)),
]
CN_MAKEUP_2026 = ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]


# --- SLA policy -----------------------------------------------------------------------------------------------


DEFAULT_DEPARTMENTS: dict[str, list[Role]] = {
    "product": [Role.business_reviewer],
    "quality": [Role.business_reviewer],
    "customer_service": [Role.interaction_agent],
    "logistics": [Role.ops_head],
    "marketing": [Role.marketing],
    "legal": [Role.risk_compliance],
}


class InboxPolicy(BaseModel):
    """Stored settings of the inbox (one row), editable through the API."""

    sla_hours: dict[str, Annotated[float, Field(gt=0, le=MAX_SLA_HOURS)]] = Field(
        default_factory=lambda: {"default": 2.0, "urgent": 1.0},
        description="hours per priority or intent, and 'default' (each > 0 and at most 720)",
    )
    reminder_at: float = Field(
        default=0.75, gt=0, lt=1, description="Share of the SLA when the assignee is reminded"
    )
    faq_threshold: float = Field(default=0.6, ge=0, le=1)
    faq_min_score: float = Field(
        default=0.35, ge=0, le=1, description="Below this an FAQ entry is not even suggested to the agent"
    )
    thank_praise: bool = True
    group_lead: str = Field(default="", description="User told at breach; empty: the ops_head role")
    calendar: WorkCalendarConfig = Field(
        default_factory=lambda: WorkCalendarConfig(holidays=CN_HOLIDAYS_2026, makeup_workdays=CN_MAKEUP_2026)
    )
    feedback_days: int = Field(default=5, ge=1, le=90)
    departments: dict[str, list[Role]] = Field(
        default_factory=lambda: dict(DEFAULT_DEPARTMENTS),
        description="Who may resolve a department's feedback (ops_head always may); a department not listed: "
        "ops_head only",
    )

    @field_validator("sla_hours")
    @classmethod
    def _has_default(cls, value: dict[str, float]) -> dict[str, float]:
        if "default" not in value:
            raise ValueError("needs a 'default' entry (hours)")
        return value

    def may_resolve(self, department: str, roles: list[Role]) -> bool:
        return Role.ops_head in roles or bool(set(self.departments.get(department, [])) & set(roles))

    def sla_for(self, intent: Intent, priority: Priority) -> timedelta:
        hours = self.sla_hours.get(priority.value) or self.sla_hours.get(intent.value) or self.sla_hours["default"]
        return timedelta(hours=hours)


class DEFAULT_TEMPLATES:
    thanks = "感谢您的支持与喜爱！我们会继续努力 ❤"
    acknowledge = "您好，已收到您的留言。现在是非工作时间，客服将在工作时间（{hours}）尽快回复您。"
    feedback_closed = "您好，您反馈的问题已处理：{outcome}。感谢您帮助我们改进！"


def first_working_instant(calendar: WorkCalendarConfig, at: datetime) -> bool:
    from domain.workcalendar import WorkCalendar

    return WorkCalendar(calendar).is_working_time(at)
