"""A compiled multi-pattern matcher (Aho–Corasick) for Chinese text: overlapping matches, no word breaks.

Chinese has no spaces, so matching is by characters: ``abc苹果手机`` finds both 苹果 and 手机, and 果手 too if
it is a term. Latin letters match case-insensitively. The automaton is ahocorasick-rs's (Rust, the
``aho-corasick`` crate), built once per word list; matching is linear in the text length whatever the number
of terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import ahocorasick_rs

T = TypeVar("T")


@dataclass(frozen=True)
class Match(Generic[T]):
    start: int
    end: int
    term: str
    payload: T


class Automaton(Generic[T]):
    def __init__(self, terms: dict[str, T]) -> None:
        entries: dict[str, tuple[str, T]] = {}
        for term, payload in terms.items():
            key = term.strip().casefold()
            if key:
                entries[key] = (term.strip(), payload)
        self._entries = list(entries.values())
        self._ac = ahocorasick_rs.AhoCorasick(list(entries)) if entries else None

    def __len__(self) -> int:
        return len(self._entries)

    def find_all(self, text: str) -> list[Match[T]]:
        """Every occurrence of every term, overlapping ones included (positions in characters)."""
        if self._ac is None:
            return []
        entries = self._entries
        return [
            Match(start, end, *entries[i])
            for i, start, end in self._ac.find_matches_as_indexes(text.casefold(), overlapping=True)
        ]

    def terms_in(self, text: str) -> set[str]:
        """The distinct terms found (faster than ``find_all`` when positions do not matter)."""
        if self._ac is None:
            return set()
        entries = self._entries
        return {entries[i][0] for i, _, _ in self._ac.find_matches_as_indexes(text.casefold(), overlapping=True)}
