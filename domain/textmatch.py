"""A compiled multi-pattern matcher (Aho–Corasick) for Chinese text: overlapping matches, no word breaks.

Chinese has no spaces, so matching is by characters: ``abc苹果手机`` finds both 苹果 and 手机. Latin letters
are matched case-insensitively. Built once per word list; matching is linear in the text length.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Match(Generic[T]):
    start: int
    end: int
    term: str
    payload: T


class Automaton(Generic[T]):
    def __init__(self, terms: dict[str, T]) -> None:
        self._goto: list[dict[str, int]] = [{}]
        self._fail: list[int] = [0]
        self._out: list[list[tuple[str, T]]] = [[]]
        for term, payload in terms.items():
            key = term.strip().casefold()
            if key:
                self._add(key, term.strip(), payload)
        self._build()

    def _add(self, key: str, term: str, payload: T) -> None:
        node = 0
        for ch in key:
            nxt = self._goto[node].get(ch)
            if nxt is None:
                nxt = len(self._goto)
                self._goto[node][ch] = nxt
                self._goto.append({})
                self._fail.append(0)
                self._out.append([])
            node = nxt
        self._out[node].append((term, payload))

    def _build(self) -> None:
        queue: deque[int] = deque(self._goto[0].values())
        while queue:
            node = queue.popleft()
            for ch, child in self._goto[node].items():
                queue.append(child)
                f = self._fail[node]
                while f and ch not in self._goto[f]:
                    f = self._fail[f]
                target = self._goto[f].get(ch, 0)
                self._fail[child] = target if target != child else 0
                self._out[child] = self._out[child] + self._out[self._fail[child]]

    def find_all(self, text: str) -> list[Match[T]]:
        matches: list[Match[T]] = []
        node = 0
        goto, fail, out = self._goto, self._fail, self._out
        for i, ch in enumerate(text.casefold()):
            while node and ch not in goto[node]:
                node = fail[node]
            node = goto[node].get(ch, 0)
            for term, payload in out[node]:
                matches.append(Match(i - len(term) + 1, i + 1, term, payload))
        return matches
