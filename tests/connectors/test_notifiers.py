"""Notifiers against local stubs that check each vendor's documented format and signature."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.policy import default

import pytest

from connectors.notifiers import DingTalkBot, FeishuBot, Message, NotifierError, SmtpMail, WeComBot, truncate_utf8
from tests.stubs import DINGTALK_SECRET, DINGTALK_TOKEN, FEISHU_HOOK, FEISHU_SECRET, WECOM_KEY, BotStub, SmtpStub

MSG = Message(subject="高风险事件已启动", body="请立即确认到岗", kind="page", drill=True)


@pytest.fixture
def bots() -> Iterator[BotStub]:
    stub = BotStub()
    yield stub
    stub.close()


def test_wecom_text_message(bots: BotStub) -> None:
    WeComBot(f"{bots.url}/cgi-bin/webhook/send?key={WECOM_KEY}").send(MSG)
    assert bots.received["wecom"][0]["text"]["content"].startswith("【演练】高风险事件已启动")
    with pytest.raises(NotifierError) as err:
        WeComBot(f"{bots.url}/cgi-bin/webhook/send?key=wrong").send(MSG)
    assert err.value.code == "93000" and not err.value.retryable
    WeComBot(f"{bots.url}/cgi-bin/webhook/send?key={WECOM_KEY}").send(Message(subject="长" * 1000))
    assert len(bots.received["wecom"][1]["text"]["content"].encode()) <= 2048


def test_dingtalk_signed_message(bots: BotStub) -> None:
    DingTalkBot(f"{bots.url}/robot/send?access_token={DINGTALK_TOKEN}", DINGTALK_SECRET).send(MSG)
    assert bots.received["dingtalk"][0]["text"]["content"].endswith("请立即确认到岗")
    with pytest.raises(NotifierError) as err:
        DingTalkBot(f"{bots.url}/robot/send?access_token={DINGTALK_TOKEN}", "wrong-secret").send(MSG)
    assert err.value.code == "310000"


def test_feishu_signed_message(bots: BotStub) -> None:
    FeishuBot(f"{bots.url}/open-apis/bot/v2/hook/{FEISHU_HOOK}", FEISHU_SECRET).send(MSG)
    assert bots.received["feishu"][0]["msg_type"] == "text"
    with pytest.raises(NotifierError) as err:  # Feishu reports a bad signature with HTTP 200 and code 19021
        FeishuBot(f"{bots.url}/open-apis/bot/v2/hook/{FEISHU_HOOK}", "wrong").send(MSG)
    assert err.value.code == "19021"


def test_smtp_mail() -> None:
    stub = SmtpStub()
    try:
        SmtpMail("127.0.0.1", stub.port, "socialops@example.com", ["duty@example.com"]).send(MSG)
    finally:
        stub.close()
    assert stub.messages[0]["to"] == ["<duty@example.com>"]
    parsed = email.message_from_bytes(stub.messages[0]["data"], policy=default)
    assert parsed["Subject"] == "【演练】高风险事件已启动"
    assert "请立即确认到岗" in parsed.get_content()


def test_truncate_keeps_utf8_whole() -> None:
    cut = truncate_utf8("演练" * 2000, 2048)
    assert len(cut.encode()) <= 2048 and cut.endswith("…")
