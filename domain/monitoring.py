"""Public-opinion monitoring (R-5.1.1–R-5.1.5): topics, boolean keyword queries, risk with reasons, spikes.

Pure code. Matching runs one compiled Aho–Corasick automaton over the text for all topics and the risk terms
together (``TopicScanner``), then evaluates each topic's boolean query on the set of terms found, so adding
keywords or topics does not add passes over the text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import ahocorasick_rs
from pydantic import BaseModel, Field, field_validator

from domain.risk import Impact, Likelihood, RiskLevel, RiskMatrix
from domain.sentiment import Sentiment
from domain.textmatch import Automaton


class Tier(StrEnum):
    realtime = "realtime"
    hourly = "hourly"
    daily = "daily"
    weekly = "weekly"


TIER_INTERVAL = {
    Tier.realtime: timedelta(minutes=1),
    Tier.hourly: timedelta(hours=1),
    Tier.daily: timedelta(days=1),
    Tier.weekly: timedelta(days=7),
}


class Authority(StrEnum):
    news = "news"
    forum = "forum"
    social = "social"
    individual = "individual"


AUTHORITY_POINTS = {Authority.news: 2, Authority.forum: 1, Authority.social: 1, Authority.individual: 0}

# Terms that raise impact on their own: product safety and legal exposure.
SAFETY_TERMS = ("爆炸", "起火", "自燃", "中毒", "致癌", "受伤", "烫伤", "死亡", "召回", "漏电", "有毒", "安全隐患")
LEGAL_TERMS = ("起诉", "诉讼", "违法", "立案", "罚款", "诈骗", "维权", "315", "消协", "监管部门", "律师函")


class KeywordGroups(BaseModel):
    brand: list[str] = Field(default_factory=list)
    product: list[str] = Field(default_factory=list)
    founder: list[str] = Field(default_factory=list)
    industry: list[str] = Field(default_factory=list)

    def all(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for group in ("industry", "product", "brand", "founder"):
            for term in getattr(self, group):
                if term.strip():
                    out[term.strip()] = group
        return out


class TopicSpec(BaseModel):
    key: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9-]+$")
    name: str = Field(min_length=1, max_length=200)
    groups: KeywordGroups = Field(default_factory=KeywordGroups)
    exclude: list[str] = Field(default_factory=list, description="A text with any of these is not about the topic")
    query: str = Field(default="", max_length=2000, description='e.g. (恒星 OR "Hengxing") AND NOT 招聘')
    tier: Tier = Tier.hourly
    sweep_minutes: int | None = Field(
        default=None,
        ge=1,
        le=7 * 24 * 60,
        description="sweep interval in minutes, overriding the tier's (realtime 1, hourly 60, daily 1440, weekly 10080)",
    )
    sources: list[str] = Field(default_factory=list, description="source keys swept for this topic")

    @field_validator("query")
    @classmethod
    def _parses(cls, v: str) -> str:
        if v.strip():
            try:
                parse_query(v)
            except ValueError as exc:  # reported against this field: drop the message's own "query: "
                raise ValueError(str(exc).removeprefix("query: ")) from None
        return v

    @property
    def interval(self) -> timedelta:
        """How often the topic's sources are swept: ``sweep_minutes`` when set, else the tier's default."""
        return timedelta(minutes=self.sweep_minutes) if self.sweep_minutes else TIER_INTERVAL[self.tier]


# --- boolean queries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    text: str


@dataclass(frozen=True)
class Not:
    inner: Node


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


Node = Term | Not | And | Or
_TOKEN = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|"(?P<phrase>[^"]*)"|(?P<word>[^\s()"]+))')


def _tokens(query: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    query = query.rstrip()
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"query: unexpected character at position {pos}")
        if m.group("lp"):
            out.append(("(", "(", m.start("lp")))
        elif m.group("rp"):
            out.append((")", ")", m.start("rp")))
        elif m.group("phrase") is not None:
            if not m.group("phrase").strip():
                raise ValueError(f"query: empty quoted phrase at position {m.start()}")
            out.append(("term", m.group("phrase"), m.start()))
        else:
            word = m.group("word")
            kind = word if word in ("AND", "OR", "NOT") else "term"
            out.append((kind, word, m.start("word")))
        pos = m.end()
    return out


def parse_query(query: str) -> Node:
    """AND / OR / NOT (upper case), quoted phrases, parentheses; juxtaposition means AND."""
    tokens = _tokens(query)
    if not tokens:
        raise ValueError("query: empty")
    i = 0

    def peek() -> str | None:
        return tokens[i][0] if i < len(tokens) else None

    def take(kind: str) -> tuple[str, str, int]:
        nonlocal i
        if peek() != kind:
            where = tokens[i][2] if i < len(tokens) else len(query)
            raise ValueError(f"query: expected {kind} at position {where}")
        i += 1
        return tokens[i - 1]

    def parse_or() -> Node:
        parts = [parse_and()]
        while peek() == "OR":
            take("OR")
            parts.append(parse_and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def parse_and() -> Node:
        parts = [parse_not()]
        while peek() in ("AND", "NOT", "term", "("):
            if peek() == "AND":
                take("AND")
            parts.append(parse_not())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_not() -> Node:
        if peek() == "NOT":
            take("NOT")
            return Not(parse_not())
        return parse_atom()

    def parse_atom() -> Node:
        if peek() == "(":
            take("(")
            node = parse_or()
            take(")")
            return node
        if peek() == "term":
            return Term(take("term")[1])
        where = tokens[i][2] if i < len(tokens) else len(query)
        raise ValueError(f"query: expected a term or '(' at position {where}")

    node = parse_or()
    if i != len(tokens):
        raise ValueError(f"query: unexpected {tokens[i][1]!r} at position {tokens[i][2]}")
    return node


def query_terms(node: Node) -> set[str]:
    if isinstance(node, Term):
        return {node.text}
    if isinstance(node, Not):
        return query_terms(node.inner)
    return set().union(*(query_terms(p) for p in node.parts))


def evaluate(node: Node, found: set[str]) -> bool:
    if isinstance(node, Term):
        return node.text.casefold() in found
    if isinstance(node, Not):
        return not evaluate(node.inner, found)
    if isinstance(node, And):
        return all(evaluate(p, found) for p in node.parts)
    return any(evaluate(p, found) for p in node.parts)


@dataclass
class TopicMatch:
    matched: bool
    terms: list[str]
    groups: set[str]
    excluded: bool


class TopicMatcher:
    """One topic's keywords, query terms and exclusions; decides a match from the set of terms found."""

    def __init__(self, spec: TopicSpec) -> None:
        self.spec = spec
        self.groups = spec.groups.all()
        self.query = parse_query(spec.query) if spec.query.strip() else None
        terms: dict[str, str] = dict(self.groups)
        if self.query is not None:
            for t in query_terms(self.query):
                terms.setdefault(t, "query")
        for t in spec.exclude:
            if t.strip():
                terms[t.strip()] = "exclude"
        self.terms = terms
        self._group_of = {t.casefold(): g for t, g in terms.items()}
        self._exclude = {t.strip().casefold() for t in spec.exclude if t.strip()}
        self._automaton: Automaton[str] | None = None

    def match(self, text: str) -> TopicMatch:
        if self._automaton is None:
            self._automaton = Automaton(self.terms)
        return self.decide({t.casefold() for t in self._automaton.terms_in(text)})

    def decide(self, found: set[str]) -> TopicMatch:
        """The match for a text in which these (case-folded) terms of this topic were found."""
        excluded = bool(found & self._exclude)
        keywords = {t for t in found if self._group_of.get(t) not in (None, "exclude")}
        if self.query is not None:
            hit = evaluate(self.query, found)
        else:
            hit = any(self._group_of[t] != "query" for t in keywords)
        groups = {
            self._group_of[t]
            for t in keywords
            if self._group_of.get(t) in ("brand", "product", "founder", "industry")
        }
        return TopicMatch(matched=hit and not excluded, terms=sorted(keywords), groups=groups, excluded=excluded)


class TopicScanner:
    """Every topic's terms and the risk terms in one automaton: one pass over a text answers all topics.

    Topics without a boolean query are decided on term ids alone; a topic with a query evaluates it on the
    terms found (and is evaluated even when none of its terms occur, since ``NOT x`` can match).
    """

    def __init__(self, specs: list[TopicSpec]) -> None:
        self.topics = [TopicMatcher(spec) for spec in specs]
        ids: dict[str, int] = {}

        def id_of(term: str) -> int:
            return ids.setdefault(term.strip().casefold(), len(ids))

        self._plans: list[_TopicPlan] = []
        for m in self.topics:
            group_of = {id_of(t): g for t, g in m.terms.items() if t.strip()}
            self._plans.append(
                _TopicPlan(
                    key=m.spec.key,
                    matcher=m,
                    ids=frozenset(group_of),
                    exclude=frozenset(i for i, g in group_of.items() if g == "exclude"),
                    group_of=group_of,
                    query=m.query is not None,
                    always=m.query is not None and evaluate(m.query, set()),
                )
            )
        self._entities = frozenset(
            i for plan in self._plans for i, g in plan.group_of.items() if g in ("brand", "product", "founder")
        )
        self._safety = frozenset(id_of(t) for t in SAFETY_TERMS)
        self._legal = frozenset(id_of(t) for t in LEGAL_TERMS)
        self._names = list(ids)  # id → term; ids are dense, so a pattern's index is its id
        # UTF-8 bytes: a pattern can only match on character boundaries (lead bytes never occur inside a
        # character), and byte matching skips the character-offset bookkeeping we do not need here.
        self._ac = ahocorasick_rs.BytesAhoCorasick([t.encode() for t in self._names]) if self._names else None

    def scan(self, text: str) -> Scan:
        """The topics a text matches, the risk terms in it, and the text to read its sentiment from."""
        if self._ac is None:
            return self._decide(set(), [], text)
        data = text.casefold().encode()
        matches = self._ac.find_matches_as_indexes(data, overlapping=True)
        return self._decide({i for i, _, _ in matches}, matches, text, data)

    def _decide(self, found: set[int], matches: list[tuple[int, int, int]], text: str, data: bytes = b"") -> Scan:
        names = self._names
        hits = []
        for plan in self._plans:
            mine = found & plan.ids
            if plan.query:
                if mine or plan.always:
                    tm = plan.matcher.decide({names[i] for i in mine})
                    if tm.matched:
                        hits.append((plan.key, tm))
            elif mine and not (mine & plan.exclude):
                group_of = plan.group_of
                hits.append(
                    (
                        plan.key,
                        TopicMatch(True, sorted(names[i] for i in mine), {group_of[i] for i in mine}, False),
                    )
                )
        if not found:
            return Scan(hits, [], [], text)
        safety = sorted(names[i] for i in found & self._safety) if found & self._safety else []
        legal = sorted(names[i] for i in found & self._legal) if found & self._legal else []
        opinion = text
        if found & self._entities:
            opinion = _mask([(s, e) for i, s, e in matches if i in self._entities], data)
        return Scan(hits, safety, legal, opinion)


NAME_MASK = "\ue000"  # a private-use character: no n-gram of the sentiment model contains it


def _mask(spans: list[tuple[int, int]], data: bytes) -> str:
    """``data`` (case-folded UTF-8) with each span replaced by NAME_MASK; overlapping spans merge."""
    out = bytearray()
    pos = 0
    mask = NAME_MASK.encode()
    for start, end in sorted(spans):
        if end <= pos:
            continue
        out += data[pos : max(start, pos)]
        if start >= pos:
            out += mask
        pos = end
    out += data[pos:]
    return out.decode()


@dataclass(slots=True)
class Scan:
    """What one pass over a text found."""

    hits: list[tuple[str, TopicMatch]]  # (topic key, match) for each topic the text matches
    safety: list[str]  # product-safety terms in the text
    legal: list[str]  # legal-exposure terms in the text
    # The text sentiment is read from: the names being monitored (brand, product, founder terms) are masked
    # out, because a name is not an opinion — a brand name that happens to occur in positive reviews of the
    # training corpus must not make every post about the brand look positive.
    opinion_text: str


@dataclass(frozen=True, slots=True)
class _TopicPlan:
    key: str
    matcher: TopicMatcher
    ids: frozenset[int]
    exclude: frozenset[int]
    group_of: dict[int, str]
    query: bool
    always: bool


# --- risk ----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ItemSignals:
    """What is known about one item and its topic's recent traffic when it is assessed."""

    sentiment: Sentiment
    sentiment_confidence: float = 0.0
    authority: Authority = Authority.individual
    author_followers: int = 0
    engagement: int = 0  # likes + comments + reposts
    reposts: int = 0
    groups: set[str] = field(default_factory=set)
    text: str = ""
    topic_items_last_hour: int = 0
    topic_negative_share: float = 0.0
    repost_growth_per_hour: float = 0.0
    risk_terms: tuple[list[str], list[str]] | None = None  # (safety, legal) when already found, else scanned


@dataclass(slots=True)
class RiskAssessment:
    level: RiskLevel
    priority: str
    impact: Impact
    likelihood: Likelihood
    reasons: list[str]


_RISK_TERMS = Automaton({**{t: "safety" for t in SAFETY_TERMS}, **{t: "legal" for t in LEGAL_TERMS}})


def assess(s: ItemSignals, matrix: RiskMatrix) -> RiskAssessment:
    reasons: list[str] = []
    points = AUTHORITY_POINTS[s.authority]
    if points:
        reasons.append(f"来源权威性：{s.authority.value}（+{points}）")
    if s.author_followers >= 1_000_000:
        points += 2
        reasons.append(f"作者粉丝 {s.author_followers:,}（≥100万，+2）")
    elif s.author_followers >= 100_000:
        points += 1
        reasons.append(f"作者粉丝 {s.author_followers:,}（≥10万，+1）")
    if "founder" in s.groups:
        points += 1
        reasons.append("涉及创始人（+1）")
    if s.risk_terms is not None:
        safety, legal = s.risk_terms
    else:
        found = _RISK_TERMS.find_all(s.text) if s.text else []
        safety = sorted({m.term for m in found if m.payload == "safety"})
        legal = sorted({m.term for m in found if m.payload == "legal"})
    if safety:
        points += 2
        reasons.append(f"产品安全词：{'、'.join(safety)}（+2）")
    if legal:
        points += 2
        reasons.append(f"法律风险词：{'、'.join(legal)}（+2）")
    if s.engagement >= 1000:
        points += 1
        reasons.append(f"互动量 {s.engagement:,}（≥1000，+1）")
    negative = s.sentiment is Sentiment.negative
    if not negative and not safety and not legal:
        points = min(points, 1)
    impact = (
        Impact.minor
        if points <= 1
        else Impact.moderate
        if points == 2
        else Impact.major
        if points <= 4
        else Impact.severe
    )

    chance = 0
    if s.topic_items_last_hour >= 50:
        chance += 2
        reasons.append(f"话题近 1 小时 {s.topic_items_last_hour} 条（≥50，+2）")
    elif s.topic_items_last_hour >= 10:
        chance += 1
        reasons.append(f"话题近 1 小时 {s.topic_items_last_hour} 条（≥10，+1）")
    if s.topic_negative_share >= 0.5:
        chance += 1
        reasons.append(f"负面占比 {s.topic_negative_share:.0%}（≥50%，+1）")
    if s.repost_growth_per_hour >= 100:
        chance += 1
        reasons.append(f"转发增长快（每小时约 {s.repost_growth_per_hour:,.0f} 次，≥100，+1）")
    elif s.reposts >= 500:
        chance += 1
        reasons.append(f"转发量大（转发 {s.reposts:,}，≥500，+1）")
    if negative and s.sentiment_confidence >= 0.6:
        chance += 1
        reasons.append(f"明确负面（置信度 {s.sentiment_confidence:.2f}，+1）")
    likelihood = [Likelihood.unlikely, Likelihood.possible, Likelihood.likely, Likelihood.certain][min(chance, 3)]

    level = matrix.level(impact, likelihood)
    if not negative and not safety and not legal:
        level = RiskLevel.none
        reasons.append(f"情感为{s.sentiment.value}且无安全/法律风险词：无风险")
    reasons.insert(0, f"影响 {impact.value} × 可能性 {likelihood.value} → {level.value}")
    return RiskAssessment(
        level=level, priority=matrix.priority[level], impact=impact, likelihood=likelihood, reasons=reasons
    )


# --- spikes --------------------------------------------------------------------------------------------


class EwmaState(BaseModel):
    mean: float = 0.0
    var: float = 0.0
    n: int = 0


@dataclass
class SpikeDetector:
    """Exponentially weighted mean and variance; a value above mean + k·σ (after warm-up) is a spike."""

    alpha: float = 0.3
    k: float = 3.0
    warmup: int = 5
    min_value: float = 5.0
    poisson: bool = True  # counts: σ is at least √mean, so a quiet baseline does not alarm on noise
    min_std: float = 0.0
    state: EwmaState = field(default_factory=EwmaState)

    def update(self, x: float) -> tuple[bool, float]:
        s = self.state
        std = max(math.sqrt(s.var), math.sqrt(max(s.mean, 1.0)) if self.poisson else 0.0, self.min_std)
        z = (x - s.mean) / std if std > 0 else (math.inf if x > s.mean else 0.0)
        spike = s.n >= self.warmup and x >= self.min_value and x > s.mean + self.k * max(std, 1e-9)
        if s.n == 0:
            s.mean, s.var = x, 0.0
        else:
            diff = x - s.mean
            incr = self.alpha * diff
            s.mean += incr
            s.var = (1 - self.alpha) * (s.var + diff * incr)
        s.n += 1
        return spike, z


class RawItem(BaseModel):
    """An item as a source delivers it, before analysis."""

    external_id: str = Field(min_length=1, max_length=200)
    url: str = Field(default="", max_length=1000)
    title: str = Field(default="", max_length=500)
    text: str = Field(min_length=1, max_length=20000)
    author: str = Field(default="", max_length=200)
    author_followers: int = Field(default=0, ge=0)
    engagement: int = Field(default=0, ge=0)
    reposts: int = Field(default=0, ge=0)
    published_at: datetime | None = None
