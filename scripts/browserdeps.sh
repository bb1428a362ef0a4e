#!/usr/bin/env bash
# Chromium for the browser tests (Playwright for Python drives Debian's chromium;
# `playwright install` is never run). Installs it with apt-get when running as root;
# otherwise says how. Without it the browser tests are skipped, except in CI
# (CI=true), where this script fails instead.
set -euo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing chromium for the browser tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "Chromium not found at $CHROMIUM: the browser tests will be skipped. Install it with:" >&2
echo "  sudo apt-get install -y chromium" >&2
[ "${CI:-}" != "true" ]
