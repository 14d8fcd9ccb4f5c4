"""Creator self-check on submit (R-4.1.2): the mistakes a person would catch on a careful re-read."""

from __future__ import annotations

import re

from domain.content import ContentPlan, Finding, Severity, VersionContent
from domain.platform_rules import adapt

_REPEATED_PUNCT = re.compile(r"([！？。，、；：!?,.;~～])\1{2,}")
_PAIRS = {
    "（": "）",
    "(": ")",
    "【": "】",
    "[": "]",
    "《": "》",
    "「": "」",
    "『": "』",
    "“": "”",
    "‘": "’",
    "{": "}",
}
_CLOSERS = {v: k for k, v in _PAIRS.items()}


def bracket_problems(text: str) -> list[str]:
    stack: list[str] = []
    problems: list[str] = []
    for ch in text:
        if ch in _PAIRS and not (ch in _CLOSERS and stack and stack[-1] == _CLOSERS[ch]):
            stack.append(ch)
        elif ch in _CLOSERS:
            if stack and stack[-1] == _CLOSERS[ch]:
                stack.pop()
            else:
                problems.append(f"多余的“{ch}”")
    problems += [f"未闭合的“{ch}”" for ch in stack]
    if text.count('"') % 2:
        problems.append('未闭合的英文引号 "')
    return problems


def self_check(version: VersionContent, plan: ContentPlan) -> list[Finding]:
    findings: list[Finding] = []
    if not version.title.strip() and not any(
        v.title for v in version.variants.values()
    ):  # a title is only blocking where a platform needs one (see adaptation)
        findings.append(Finding(code="title_empty", severity=Severity.warning, message="标题为空", field="title"))
    if not version.body.strip():
        findings.append(Finding(code="body_empty", severity=Severity.blocking, message="正文为空", field="body"))
    for field, text in (("title", version.title), ("body", version.body)):
        for m in _REPEATED_PUNCT.finditer(text):
            findings.append(
                Finding(
                    code="repeated_punctuation",
                    severity=Severity.warning,
                    message=f"重复标点“{m.group(0)}”",
                    field=field,
                    match=m.group(0),
                )
            )
        for problem in bracket_problems(text):
            findings.append(
                Finding(code="unbalanced_brackets", severity=Severity.warning, message=problem, field=field)
            )
    for i, media in enumerate(version.media):
        if not media.licence.strip() or not media.source.strip():
            findings.append(
                Finding(
                    code="media_unlicensed",
                    severity=Severity.blocking,
                    message=f"素材 {media.uri} 缺少版权/来源记录",
                    field=f"media.{i}",
                )
            )
    seen_codes: set[tuple[str, str]] = set()
    for target in plan.targets:
        for finding in adapt(version, target, plan.format).errors:
            key = (finding.code, str(finding.platform))
            if key not in seen_codes:
                seen_codes.add(key)
                findings.append(finding)
    return findings


def blocking(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.blocking]
