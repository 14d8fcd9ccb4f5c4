"""Internal notification channels (R-5.2.5): WeCom, DingTalk and Feishu group bots, SMTP e-mail, and a log.

Each follows the vendor's documented webhook format (shared/reference/platform-apis.md §6). Calls are
synchronous; activities run them in a thread. A failure raises :class:`NotifierError` with the
vendor's code so the activity can retry (rate limits) or give up (bad signature, bad URL).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import smtplib
import time
import urllib.parse
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

import httpx
import structlog

from domain.emergency import drill_mark

log = structlog.get_logger("socialops.notify")


@dataclass(frozen=True)
class Message:
    subject: str
    body: str = ""
    kind: str = "info"  # info | reminder | escalation | alert | page
    drill: bool = False
    ref: str = ""

    @property
    def marked_subject(self) -> str:
        """The subject, marked 【演练】 exactly once for a drill."""
        return drill_mark(self.subject) if self.drill else self.subject

    def text(self) -> str:
        return self.marked_subject + (f"\n{self.body}" if self.body else "")


class NotifierError(Exception):
    def __init__(self, message: str, *, code: str = "", retryable: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class Notifier(Protocol):
    name: str

    def send(self, msg: Message) -> None: ...


def truncate_utf8(text: str, max_bytes: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[: max_bytes - 3].decode("utf-8", errors="ignore") + "…"


RATE_LIMIT_CODES = {"45009", "130101", "11232", "90030"}


def _post(client: httpx.Client, url: str, payload: dict[str, Any], params: dict[str, str] | None = None) -> Any:
    try:
        r = client.post(url, json=payload, params=params, timeout=10)
    except httpx.HTTPError as exc:
        raise NotifierError(f"request failed: {exc}") from exc
    if r.status_code >= 500:
        raise NotifierError(f"HTTP {r.status_code}")
    try:
        return r.json()
    except ValueError as exc:
        raise NotifierError(f"HTTP {r.status_code}: not JSON", retryable=False) from exc


@dataclass
class WeComBot:
    """企业微信群机器人: POST …/cgi-bin/webhook/send?key=KEY, text ≤ 2048 bytes."""

    url: str
    name: str = "wecom"
    client: httpx.Client = field(default_factory=httpx.Client)

    def send(self, msg: Message) -> None:
        body = _post(
            self.client, self.url, {"msgtype": "text", "text": {"content": truncate_utf8(msg.text(), 2048)}}
        )
        if str(body.get("errcode")) != "0":
            code = str(body.get("errcode"))
            raise NotifierError(
                f"WeCom errcode {code}: {body.get('errmsg')}", code=code, retryable=code in RATE_LIMIT_CODES
            )


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


@dataclass
class DingTalkBot:
    """钉钉自定义机器人: sign = urlencode(b64(HMAC_SHA256(secret, f"{ts_ms}\\n{secret}"))) as query params."""

    url: str
    secret: str = ""
    name: str = "dingtalk"
    client: httpx.Client = field(default_factory=httpx.Client)

    def send(self, msg: Message) -> None:
        url = self.url
        if self.secret:
            ts = int(time.time() * 1000)
            sep = "&" if "?" in url else "?"
            url = f"{url}{sep}timestamp={ts}&sign={dingtalk_sign(self.secret, ts)}"
        payload = {"msgtype": "text", "text": {"content": msg.text()}, "at": {"atMobiles": [], "isAtAll": False}}
        body = _post(self.client, url, payload)
        if str(body.get("errcode")) != "0":
            code = str(body.get("errcode"))
            raise NotifierError(
                f"DingTalk errcode {code}: {body.get('errmsg')}", code=code, retryable=code in RATE_LIMIT_CODES
            )


def feishu_sign(secret: str, timestamp_s: int) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


@dataclass
class FeishuBot:
    """飞书自定义机器人: sign = b64(HMAC_SHA256(key=f"{ts_s}\\n{secret}", msg="")) in the JSON body."""

    url: str
    secret: str = ""
    name: str = "feishu"
    client: httpx.Client = field(default_factory=httpx.Client)

    def send(self, msg: Message) -> None:
        payload: dict[str, Any] = {"msg_type": "text", "content": {"text": truncate_utf8(msg.text(), 18_000)}}
        if self.secret:
            ts = int(time.time())
            payload.update(timestamp=str(ts), sign=feishu_sign(self.secret, ts))
        body = _post(self.client, self.url, payload)
        code = str(body.get("code", body.get("StatusCode", "")))
        if code != "0":
            raise NotifierError(
                f"Feishu code {code}: {body.get('msg')}", code=code, retryable=code in RATE_LIMIT_CODES
            )


@dataclass
class SmtpMail:
    host: str
    port: int
    sender: str
    recipients: list[str]
    username: str = ""
    password: str = ""
    starttls: bool = False
    name: str = "email"

    def send(self, msg: Message) -> None:
        mail = EmailMessage()
        mail["Subject"] = msg.marked_subject
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail.set_content(msg.body or msg.subject)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifierError(f"SMTP: {exc}") from exc


@dataclass
class LogNotifier:
    name: str = "log"

    def send(self, msg: Message) -> None:
        log.info("notify", kind=msg.kind, subject=msg.subject, body=msg.body, drill=msg.drill, ref=msg.ref)


def from_settings(settings: Any) -> list[Notifier]:
    """The channels configured in settings; the log notifier is always there."""
    out: list[Notifier] = [LogNotifier()]
    if settings.notify_wecom_webhook:
        out.append(WeComBot(settings.notify_wecom_webhook))
    if settings.notify_dingtalk_webhook:
        out.append(
            DingTalkBot(settings.notify_dingtalk_webhook, settings.notify_dingtalk_secret.get_secret_value())
        )
    if settings.notify_feishu_webhook:
        out.append(FeishuBot(settings.notify_feishu_webhook, settings.notify_feishu_secret.get_secret_value()))
    if settings.smtp_host and settings.smtp_to:
        out.append(
            SmtpMail(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_from,
                list(settings.smtp_to),
                settings.smtp_username,
                settings.smtp_password.get_secret_value(),
                settings.smtp_starttls,
            )
        )
    return out
