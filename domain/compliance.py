"""Automated compliance scan before human review (R-4.1.3.1): word lists, privacy patterns, media rights."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.content import Finding, Severity, VersionContent
from domain.textmatch import Automaton


class TermCategory(StrEnum):
    prohibited = "prohibited"  # legally prohibited terms
    ad_absolute = "ad_absolute"  # Advertising Law art. 9(3): absolute claims
    competitor = "competitor"
    sensitive = "sensitive"


CATEGORY_LABELS = {
    TermCategory.prohibited: "违禁词",
    TermCategory.ad_absolute: "广告法极限词",
    TermCategory.competitor: "竞品名称",
    TermCategory.sensitive: "敏感词",
}


class Term(BaseModel):
    term: str = Field(min_length=1, max_length=100)
    category: TermCategory
    severity: Severity = Severity.blocking
    note: str = ""


# Shipped defaults; the database copy (table compliance_terms) is what runs and what people edit.
DEFAULT_TERMS: list[Term] = [
    *(
        Term(
            term=t,
            category=TermCategory.ad_absolute,
            note="《广告法》第九条：不得使用“国家级”“最高级”“最佳”等用语",
        )
        for t in (
            "最佳",
            "第一",
            "国家级",
            "最高级",
            "最好",
            "顶级",
            "极致",
            "首选",
            "全网最低",
            "100%有效",
            "史上最",
            "绝无仅有",
            "万能",
        )
    ),
    *(
        Term(term=t, category=TermCategory.prohibited, note="法律法规禁止内容")
        for t in ("赌博", "代开发票", "枪支", "毒品", "传销")
    ),
    *(
        Term(term=t, category=TermCategory.sensitive, severity=Severity.warning, note="需人工判断语境")
        for t in ("维权", "投诉", "事故", "召回", "爆炸", "泄露")
    ),
]


_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)")
_RESIDENT_ID = re.compile(r"(?<![\dXx])\d{17}[\dXx](?![\dXx])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_BANK_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){15,18}\d(?!\d)")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def valid_resident_id(value: str) -> bool:
    """GB 11643 check digit."""
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17].upper()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# Ordinary phrases that contain a listed term but claim nothing (第一时间 = "at once"): masked before matching.
NOT_CLAIMS = ("第一时间", "第一次", "第一步", "第一批", "第一天", "第一期", "第一届", "第一季度", "第一阶段")


def _without_idioms(text: str) -> str:
    for phrase in NOT_CLAIMS:
        text = text.replace(phrase, "□" * len(phrase))
    return text


def mask(value: str) -> str:
    return value[:3] + "*" * max(len(value) - 7, 1) + value[-4:] if len(value) > 7 else "***"


def privacy_findings(text: str, field: str) -> list[Finding]:
    found: list[Finding] = []
    id_spans: list[tuple[int, int]] = []
    for m in _RESIDENT_ID.finditer(text):
        if valid_resident_id(m.group(0)):
            id_spans.append(m.span())
            found.append(
                Finding(
                    code="privacy_resident_id",
                    severity=Severity.blocking,
                    message="包含居民身份证号码",
                    field=field,
                    match=mask(m.group(0)),
                )
            )
    for m in _MOBILE.finditer(text):
        found.append(
            Finding(
                code="privacy_mobile",
                severity=Severity.blocking,
                message="包含手机号码",
                field=field,
                match=mask(m.group(0)),
            )
        )
    for m in _EMAIL.finditer(text):
        found.append(
            Finding(
                code="privacy_email",
                severity=Severity.warning,
                message="包含电子邮箱地址（官方邮箱可忽略）",
                field=field,
                match=m.group(0),
            )
        )
    for m in _BANK_CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        overlaps_id = any(s <= m.start() < e for s, e in id_spans)
        if 16 <= len(digits) <= 19 and luhn_ok(digits) and not overlaps_id:
            found.append(
                Finding(
                    code="privacy_bank_card",
                    severity=Severity.blocking,
                    message="包含银行卡号",
                    field=field,
                    match=mask(digits),
                )
            )
    return found


@dataclass
class ComplianceScanner:
    """Compiled once from the active word list; ``scan`` is pure."""

    terms: list[Term]

    def __post_init__(self) -> None:
        self._automaton: Automaton[Term] = Automaton({t.term: t for t in self.terms})

    def scan_text(self, text: str, field: str) -> list[Finding]:
        findings: list[Finding] = []
        seen: set[tuple[str, str]] = set()
        for m in self._automaton.find_all(_without_idioms(text)):
            term = m.payload
            if (term.term, field) in seen:
                continue
            seen.add((term.term, field))
            findings.append(
                Finding(
                    code=f"term_{term.category.value}",
                    severity=term.severity,
                    message=f"{CATEGORY_LABELS[term.category]}：“{term.term}”"
                    + (f"（{term.note}）" if term.note else ""),
                    field=field,
                    match=term.term,
                )
            )
        return findings + privacy_findings(text, field)

    def scan(self, version: VersionContent) -> list[Finding]:
        findings = self.scan_text(version.title, "title") + self.scan_text(version.body, "body")
        for platform, variant in version.variants.items():
            findings += self.scan_text(variant.title or "", f"variants.{platform.value}.title")
            findings += self.scan_text(variant.body or "", f"variants.{platform.value}.body")
        for i, m in enumerate(version.media):
            if not m.licence.strip() or not m.source.strip():
                findings.append(
                    Finding(
                        code="media_rights_missing",
                        severity=Severity.blocking,
                        message=f"素材 {m.uri} 未记录授权/来源",
                        field=f"media.{i}",
                    )
                )
        return findings
