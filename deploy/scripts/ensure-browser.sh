#!/usr/bin/env bash
# The browser tests drive Debian's chromium (Playwright cannot download browsers here), with CJK fonts so
# Chinese text renders in screenshots. Installs them with apt-get when missing and we may (root); in CI a
# missing browser is an error, elsewhere the browser tests skip.
set -u
have() { [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "noto.*cjk"; }
if have; then echo "ensure-browser: chromium and CJK fonts are installed"; exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-browser: installing chromium and fonts-noto-cjk (apt-get) …"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi
if have; then echo "ensure-browser: chromium and CJK fonts are installed"; exit 0; fi
if [ -n "${CI:-}" ]; then echo "ensure-browser: chromium could not be installed" >&2; exit 1; fi
echo "ensure-browser: no chromium; the browser tests will be skipped (apt-get install chromium fonts-noto-cjk)" >&2
exit 0
