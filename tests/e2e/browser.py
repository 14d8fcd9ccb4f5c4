"""The browser the end-to-end tests drive: Debian's chromium through Playwright (``playwright install``
cannot download browsers here). ``make test`` installs it (deploy/scripts/ensure-browser.sh); without it
the browser tests skip locally and fail in CI."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("SOCIALOPS_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def chromium_or_skip() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"no chromium at {CHROMIUM}: deploy/scripts/ensure-browser.sh should have installed it")
    pytest.skip(f"no chromium at {CHROMIUM} (run deploy/scripts/ensure-browser.sh)")
