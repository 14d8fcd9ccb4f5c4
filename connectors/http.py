"""What the real connectors share: one HTTP call with typed errors, a per-account rate budget, reading
media bytes, and the fingerprint that finds our own post again after an unknown outcome.

Kept small on purpose; each connector maps its platform's own error codes itself.
"""

from __future__ import annotations

import html
import re
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from connectors.base import PlatformError, PlatformTimeout
from connectors.credentials import REAUTHORIZE_NEEDED, ConnectorContext, Credentials
from domain.content import MediaRef
from domain.kernel import Platform


def option_float(options: Mapping[str, str], name: str, default: float) -> float:
    raw = options.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise PlatformError(f"option {name}={raw!r} is not a number", retryable=False, code="bad_option") from None


def option_int(options: Mapping[str, str], name: str, default: int) -> int:
    return int(option_float(options, name, default))


class RateBudget:
    """A per-account sliding one-hour budget of calls, so a bulk schedule cannot burn a daily quota.

    ``take`` raises a retryable ``PlatformError(code="rate_budget")`` when the account has used its calls
    for the hour; the activity's retry policy then waits and tries again.
    """

    def __init__(self, per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_hour = per_hour
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, account: str) -> None:
        if self.per_hour <= 0:
            return
        now = self._clock()
        with self._lock:
            calls = self._calls.setdefault(account, deque())
            while calls and now - calls[0] >= 3600:
                calls.popleft()
            if len(calls) >= self.per_hour:
                wait = int(3600 - (now - calls[0])) + 1
                raise PlatformError(
                    f"account {account!r} used its budget of {self.per_hour} calls this hour; next call in {wait} s",
                    retryable=True,
                    code="rate_budget",
                )
            calls.append(now)


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    platform: str,
    effectful: bool,
    **kwargs: Any,
) -> httpx.Response:
    """One HTTP call. Transport failures become typed errors: a call that may have reached the platform
    and changed something (``effectful``) and then timed out is a ``PlatformTimeout`` (look before
    retrying); a connect failure never reached it and is a plain retryable error. HTTP 429 and 5xx are
    retryable; other statuses are returned for the connector to read the platform's envelope."""
    try:
        resp = client.request(method, url, **kwargs)
    except httpx.ConnectError as exc:
        raise PlatformError(f"{platform}: cannot connect: {exc}", retryable=True, code="connect") from exc
    except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as exc:
        if effectful and not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            raise PlatformTimeout(
                f"{platform}: no answer ({type(exc).__name__}); the call may have taken effect"
            ) from exc
        raise PlatformError(
            f"{platform}: no answer ({type(exc).__name__})", retryable=True, code="timeout"
        ) from exc
    if resp.status_code == 429:
        raise PlatformError(f"{platform}: HTTP 429 rate limited", retryable=True, code="http_429")
    if resp.status_code >= 500:
        if effectful:
            raise PlatformTimeout(f"{platform}: HTTP {resp.status_code}; the call may have taken effect")
        raise PlatformError(
            f"{platform}: HTTP {resp.status_code}", retryable=True, code=f"http_{resp.status_code}"
        )
    return resp


def json_body(resp: httpx.Response, platform: str) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        raise PlatformError(
            f"{platform}: HTTP {resp.status_code} with a body that is not JSON", retryable=resp.status_code >= 500
        ) from None
    if not isinstance(data, dict):
        raise PlatformError(f"{platform}: unexpected JSON shape", retryable=False, code="bad_response")
    return data


def as_int(value: Any, default: int = 0) -> int:
    """Platforms send numbers as strings sometimes (Douyin, Weibo)."""
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


# -- media ---------------------------------------------------------------------------------------------


def media_bytes(ref: MediaRef, *, max_bytes: int, client: httpx.Client | None = None) -> tuple[str, bytes]:
    """The bytes behind a ``MediaRef``: a local path or ``file://`` URI is read from disk, an ``http(s)://``
    URL is downloaded. Anything else (``s3://`` …) cannot be read by this worker and is a non-retryable
    error naming the URI — the media store is not part of the connectors."""
    parts = urlsplit(ref.uri)
    name = Path(unquote(parts.path)).name or "media"
    if parts.scheme in ("", "file"):
        path = Path(unquote(parts.path) if parts.scheme == "file" else ref.uri)
        if not path.is_file():
            raise PlatformError(
                f"media file {ref.uri!r} does not exist on this worker", retryable=False, code="media"
            )
        size = path.stat().st_size
        if size > max_bytes:
            raise PlatformError(
                f"media {name} is {size} bytes, over the {max_bytes}-byte limit",
                retryable=False,
                code="media_size",
            )
        return name, path.read_bytes()
    if parts.scheme in ("http", "https"):
        own = client or httpx.Client(timeout=60)
        try:
            resp = own.get(ref.uri)
        except httpx.HTTPError as exc:
            raise PlatformError(f"cannot download media {ref.uri!r}: {exc}", retryable=True, code="media") from exc
        finally:
            if client is None:
                own.close()
        if resp.status_code != 200:
            raise PlatformError(
                f"media {ref.uri!r}: HTTP {resp.status_code}", retryable=resp.status_code >= 500, code="media"
            )
        if len(resp.content) > max_bytes:
            raise PlatformError(
                f"media {name} is over the {max_bytes}-byte limit", retryable=False, code="media_size"
            )
        return name, resp.content
    raise PlatformError(
        f"media {ref.uri!r}: this worker reads only local paths, file:// and http(s):// URLs",
        retryable=False,
        code="media",
    )


# -- fingerprint dedupe ------------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Text as a platform may hand it back: markup stripped, entities decoded, NFKC, no whitespace."""
    plain = html.unescape(_TAG.sub(" ", text))
    return _SPACE.sub("", unicodedata.normalize("NFKC", plain)).casefold()


def fingerprint(title: str, text: str, media_count: int) -> str:
    """What identifies our post among an account's recent posts when the platform has no client key:
    normalized title and text plus how many media items it carries."""
    return f"{normalize_text(title)}|{normalize_text(text)}|{media_count}"


def usable_credentials(ctx: ConnectorContext, platform: Platform, account: str, label: str) -> Credentials:
    """The account's credentials, or a non-retryable ``reauthorize_needed`` error once the platform refused
    the grant for good (``label`` names the platform to the owner: 抖音, 快手 …)."""
    creds = ctx.credentials.get(platform, account)
    if creds.reauthorize_reason:
        raise PlatformError(
            f"{label}账号 {account} 需要重新授权：{creds.reauthorize_reason}",
            retryable=False,
            code=REAUTHORIZE_NEEDED,
        )
    return creds
