#!/usr/bin/env bash
# Debian's Chromium for the status-page browser test (Playwright drives /usr/bin/chromium; nothing
# downloads a browser). Idempotent: skips the install when the browser is there.
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then
  exit 0
fi
SUDO=""
if [[ "$(id -u)" != "0" ]]; then
  SUDO="sudo"
fi
$SUDO apt-get install -y chromium || { $SUDO apt-get update && $SUDO apt-get install -y chromium; }
