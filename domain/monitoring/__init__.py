"""Public-opinion monitoring (R-5.1.1–R-5.1.5), pure code, as a package:

- ``topics``: keyword groups, boolean queries, and ``TopicScanner`` — one compiled Aho–Corasick automaton
  over the text for all topics and the risk terms together, then each topic's query evaluated on the set of
  terms found, so adding keywords or topics does not add passes over the text;
- ``items``: what a source delivers (``RawItem``) and how much its kind of source weighs (``Authority``);
- ``terms``: the vocabularies that raise impact on their own (product safety, legal exposure);
- ``risk``: an item's signals and its impact × likelihood assessment, with reasons;
- ``spikes``: the EWMA spike detector over a topic's volume;
- ``analysis``: the batch pipeline — match → sentiment → risk → the watch queue's reason — that the
  ingest storage in ``db/monitoring.py`` runs (no database here).
"""

from domain.monitoring.items import AUTHORITY_POINTS, Authority, RawItem
from domain.monitoring.risk import ItemSignals, RiskAssessment, assess
from domain.monitoring.spikes import EwmaState, SpikeDetector
from domain.monitoring.terms import LEGAL_TERMS, SAFETY_TERMS
from domain.monitoring.topics import (
    NAME_MASK,
    TIER_INTERVAL,
    KeywordGroups,
    Tier,
    TopicMatch,
    TopicMatcher,
    TopicScanner,
    TopicSpec,
    evaluate,
    parse_query,
    query_terms,
)

__all__ = [
    "AUTHORITY_POINTS",
    "LEGAL_TERMS",
    "NAME_MASK",
    "SAFETY_TERMS",
    "TIER_INTERVAL",
    "Authority",
    "EwmaState",
    "ItemSignals",
    "KeywordGroups",
    "RawItem",
    "RiskAssessment",
    "SpikeDetector",
    "Tier",
    "TopicMatch",
    "TopicMatcher",
    "TopicScanner",
    "TopicSpec",
    "assess",
    "evaluate",
    "parse_query",
    "query_terms",
]
