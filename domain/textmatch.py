"""A compiled multi-pattern matcher (Aho–Corasick) for Chinese text: overlapping matches, no word breaks.

Chinese has no spaces, so matching is by characters: ``abc苹果手机`` finds both 苹果 and 手机, and 果手 too if
it is a term. Latin letters match case-insensitively. The automaton is pyahocorasick's (C), built once
per word list; matching is linear in the text length whatever the number of terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import ahocorasick

T = TypeVar("T")


@dataclass(frozen=True)
class Match(Generic[T]):
    start: int
    end: int
    term: str
    payload: T


class Automaton(Generic[T]):
    def __init__(self, terms: dict[str, T]) -> None:
        self._ac = ahocorasick.Automaton()
        for term, payload in terms.items():
            key = term.strip().casefold()
            if key:
                self._ac.add_word(key, (term.strip(), payload))
        self._empty = len(self._ac) == 0
        if not self._empty:
            self._ac.make_automaton()

    def __len__(self) -> int:
        return len(self._ac)

    def find_all(self, text: str) -> list[Match[T]]:
        if self._empty:
            return []
        return [
            Match(end - len(term) + 1, end + 1, term, payload)
            for end, (term, payload) in self._ac.iter(text.casefold())
        ]

    def terms_in(self, text: str) -> set[str]:
        """The distinct terms found (faster than ``find_all`` when positions do not matter)."""
        if self._empty:
            return set()
        return {term for _, (term, _) in self._ac.iter(text.casefold())}
