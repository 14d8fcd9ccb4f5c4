"""The vocabularies that raise an item's impact on their own: product safety and legal exposure (R-5.1.5).

One vocabulary for the inbox and monitoring: it lives in ``domain/risk.py``.
"""

from __future__ import annotations

from domain.risk import LEGAL_TERMS, SAFETY_TERMS

__all__ = ["LEGAL_TERMS", "SAFETY_TERMS"]
