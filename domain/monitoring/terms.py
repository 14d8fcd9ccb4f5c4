"""The vocabularies that raise an item's impact on their own: product safety and legal exposure (R-5.1.5)."""

from __future__ import annotations

SAFETY_TERMS = ("爆炸", "起火", "自燃", "中毒", "致癌", "受伤", "烫伤", "死亡", "召回", "漏电", "有毒", "安全隐患")
LEGAL_TERMS = ("起诉", "诉讼", "违法", "立案", "罚款", "诈骗", "维权", "315", "消协", "监管部门", "律师函")
