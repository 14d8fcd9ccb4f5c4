"""Topics: keyword groups, boolean queries, and the one compiled scanner that matches every topic (and the
risk terms) in a single pass over the text. Pure code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

import ahocorasick_rs
from pydantic import BaseModel, Field, field_validator

from domain.monitoring.terms import LEGAL_TERMS, SAFETY_TERMS
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
