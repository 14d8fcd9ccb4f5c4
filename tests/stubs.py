"""Local stub servers that speak the documented group-bot webhook APIs and SMTP, and check what they get."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socketserver
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WECOM_KEY = "wecom-test-key"
DINGTALK_TOKEN = "ding-token"
DINGTALK_SECRET = "SECding-secret"
FEISHU_HOOK = "feishu-hook-id"
FEISHU_SECRET = "feishu-secret"


class BotStub:
    """One server, three bots: /cgi-bin/webhook/send (WeCom), /robot/send (DingTalk), /open-apis/bot/v2/hook/… (Feishu)."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict[str, Any]]] = {"wecom": [], "dingtalk": [], "feishu": []}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._reply(400, {"errcode": 40001, "errmsg": "invalid json"})
                if url.path == "/cgi-bin/webhook/send":
                    return self._reply(200, stub.wecom(query, body, raw))
                if url.path == "/robot/send":
                    return self._reply(200, stub.dingtalk(query, body))
                if url.path == f"/open-apis/bot/v2/hook/{FEISHU_HOOK}":
                    return self._reply(200, stub.feishu(body))
                return self._reply(404, {"errcode": 404})

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wecom(self, query: dict[str, str], body: dict[str, Any], raw: bytes) -> dict[str, Any]:
        if query.get("key") != WECOM_KEY:
            return {"errcode": 93000, "errmsg": "invalid webhook url"}
        if body.get("msgtype") != "text" or not isinstance(body.get("text", {}).get("content"), str):
            return {"errcode": 40008, "errmsg": "invalid message type"}
        if len(body["text"]["content"].encode()) > 2048:
            return {"errcode": 40058, "errmsg": "content exceed max length"}
        self.received["wecom"].append(body)
        return {"errcode": 0, "errmsg": "ok"}

    def dingtalk(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if query.get("access_token") != DINGTALK_TOKEN:
            return {"errcode": 300001, "errmsg": "token is not exist"}
        ts, sign = query.get("timestamp", ""), query.get("sign", "")
        expected = base64.b64encode(
            hmac.new(DINGTALK_SECRET.encode(), f"{ts}\n{DINGTALK_SECRET}".encode(), hashlib.sha256).digest()
        ).decode()
        if not ts or abs(time.time() * 1000 - int(ts)) > 3_600_000 or sign != expected:
            return {"errcode": 310000, "errmsg": "sign not match"}
        if body.get("msgtype") != "text" or "content" not in body.get("text", {}):
            return {"errcode": 40035, "errmsg": "missing parameter"}
        self.received["dingtalk"].append(body)
        return {"errcode": 0, "errmsg": "ok"}

    def feishu(self, body: dict[str, Any]) -> dict[str, Any]:
        ts = str(body.get("timestamp", ""))
        expected = base64.b64encode(
            hmac.new(f"{ts}\n{FEISHU_SECRET}".encode(), b"", hashlib.sha256).digest()
        ).decode()
        if not ts or abs(time.time() - int(ts)) > 3600 or body.get("sign") != expected:
            return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
        if body.get("msg_type") != "text" or "text" not in body.get("content", {}):
            return {"code": 9499, "msg": "Bad Request"}
        self.received["feishu"].append(body)
        return {"code": 0, "msg": "success", "data": {}, "StatusCode": 0, "StatusMessage": "success"}


class SmtpStub:
    """Enough SMTP (RFC 5321) for smtplib: EHLO/HELO, MAIL, RCPT, DATA, QUIT; keeps each message."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        stub = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 stub ESMTP\r\n")
                sender, rcpts = "", []
                while True:
                    line = self.rfile.readline().decode("utf-8", "replace").rstrip("\r\n")
                    verb = line.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.wfile.write(b"250-stub\r\n250 8BITMIME\r\n")
                    elif verb == "MAIL":
                        sender = line.split(":", 1)[1].strip()
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == "RCPT":
                        rcpts.append(line.split(":", 1)[1].strip())
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == "DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        data = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data.append(chunk)
                        stub.messages.append({"from": sender, "to": rcpts, "data": b"".join(data)})
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    elif verb == "":
                        return
                    else:
                        self.wfile.write(b"250 OK\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
