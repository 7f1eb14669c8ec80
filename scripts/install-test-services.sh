#!/usr/bin/env bash
# Installs every real service the test suite starts: LocalStack (own venv), the MongoDB-compatible
# server, anvil and solc (npm), Debian's chromium (the status-page browser test). Each step is idempotent and skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."
for step in install-localstack.sh install-node-tools.sh install-chromium.sh; do
  if [[ -f "scripts/$step" ]]; then
    bash "scripts/$step"
  fi
done
