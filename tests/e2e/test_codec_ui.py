"""The Temporal web UI shows decrypted payloads to a signed-in person, in a real browser (issue 13.8).

``socialops up`` with payload keys; the person signs in at ``/codec/sign-in`` with their token; the UI
(codec settings from the browser, with cross-origin credentials) sends the cookie with its decode calls
and shows the incident's personal data, which Temporal itself only holds encrypted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core.codec import new_key_spec
from tests.conftest import free_port
from tests.e2e.browser import chromium_or_skip

SOCIALOPS = str(Path(sys.executable).parent / "socialops")
SECRET_TEXT = "用户王小明，手机13800138000"


def _wait(url: str, proc: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "socialops up exited"
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} never answered 200")


def test_the_temporal_ui_shows_decrypted_payloads_after_codec_sign_in(tmp_path: Path) -> None:
    chromium = chromium_or_skip()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    api, grpc, ui = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALOPS_")}
    env.update(SOCIALOPS_VAR_DIR=str(tmp_path / "var"), SOCIALOPS_PAYLOAD_KEYS=new_key_spec("e2e"))
    log = open(tmp_path / "up.log", "w")
    proc = subprocess.Popen(
        [SOCIALOPS, "up", "--api-port", str(api), "--temporal-port", str(grpc), "--ui-port", str(ui)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{api}"
    try:
        _wait(f"{base}/health", proc)
        _wait(f"http://127.0.0.1:{ui}/", proc)
        token = re.search(r"sop_[A-Za-z0-9_-]+", (tmp_path / "up.log").read_text())
        assert token, (tmp_path / "up.log").read_text()[-2000:]
        bearer = {"Authorization": f"Bearer {token.group(0)}"}
        r = httpx.post(
            f"{base}/incidents", headers=bearer, json={"title": "暖手宝起火投诉", "description": SECRET_TEXT}
        )
        assert r.status_code == 201, r.text
        workflow_id = f"incident-{r.json()['id']}"

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()
            decode_status: list[int] = []
            page.on(
                "response", lambda resp: decode_status.append(resp.status) if "/codec/decode" in resp.url else None
            )

            def shown(path: str, timeout_ms: float = 60_000) -> str:
                page.goto(f"http://127.0.0.1:{ui}{path}")
                page.wait_for_selector("text=incident_id", timeout=timeout_ms)
                return page.inner_text("body")

            # The browser's codec settings, as a person sets them once in the UI (kept in localStorage).
            page.goto(f"http://127.0.0.1:{ui}/")
            page.evaluate(
                """endpoint => { localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
                   localStorage.setItem('endpoint', JSON.stringify(endpoint));
                   localStorage.setItem('includeCredentials', 'true'); }""",
                f"{base}/codec",
            )
            # Not signed in: the codec refuses, the personal data is not shown.
            with pytest.raises(PlaywrightTimeout):  # the input never decodes, so its keys never appear
                shown(f"/namespaces/default/workflows/{workflow_id}", timeout_ms=15_000)
            assert 401 in decode_status and SECRET_TEXT not in page.inner_text("body")

            page.goto(f"{base}/codec/sign-in")
            page.fill("#t", token.group(0))
            page.click("button[type=submit]")
            page.wait_for_selector("#out:has-text('已登录')")  # the page's CSP forbids evaluating strings
            decode_status.clear()
            body = shown(f"/namespaces/default/workflows/{workflow_id}")
            assert SECRET_TEXT in body and 200 in decode_status
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
