"""No double posts without a platform idempotency key (issue 14.4).

Real platforms do not look posts up by our key. After an unknown outcome (``PlatformTimeout``) a
connector lists the account's recent posts and matches ours by a fingerprint: the text normalized
(NFKC, whitespace collapsed, case folded) plus the media URIs, among posts created within the publish
window. Any connector can use it: implement ``recent_posts`` and call ``find_published``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.content import MediaRef

_SPACE = re.compile(r"\s+")
DEFAULT_WINDOW = timedelta(hours=6)


def normalize(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def fingerprint(text: str, media: Sequence[MediaRef | str] = ()) -> str:
    uris = sorted(m.uri if isinstance(m, MediaRef) else m for m in media)
    doc = normalize(text) + "\x00" + "\x00".join(uris)
    return hashlib.sha256(doc.encode()).hexdigest()


@dataclass(frozen=True)
class RecentPost:
    external_id: str
    text: str
    created_at: datetime
    url: str = ""
    media: tuple[str, ...] = ()  # media URIs where the platform echoes them; empty: match on text


def find_published(
    recent: Iterable[RecentPost],
    text: str,
    media: Sequence[MediaRef | str] = (),
    *,
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
    match_media: bool = False,
) -> RecentPost | None:
    """The newest of ``recent`` that is ours: same fingerprint, created within ``window`` before ``now``.

    ``match_media=False`` for platforms that do not echo our media URIs back (Weibo re-hosts images):
    the text alone decides, which is safe because platforms refuse identical consecutive posts anyway."""
    want = fingerprint(text, media if match_media else ())
    hits = [
        p
        for p in recent
        if p.created_at >= now - window and fingerprint(p.text, p.media if match_media else ()) == want
    ]
    return max(hits, key=lambda p: p.created_at) if hits else None
