#!/usr/bin/env bash
# Installs every real service the test suite starts: LocalStack (own venv), the MongoDB-compatible
# server, anvil and solc (npm). Each step is idempotent and skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."
for step in install-localstack.sh install-node-tools.sh; do
  if [[ -f "scripts/$step" ]]; then
    bash "scripts/$step"
  fi
done
