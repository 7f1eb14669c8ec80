#!/usr/bin/env bash
# Install the npm test tools (anvil, solc) into infra/.services/node. Idempotent: a second run with
# the same infra/package.json does nothing.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$repo/infra/.services/node"
stamp="$target/.installed-package.json"

command -v npm >/dev/null || { echo "install-node-tools: npm not found (needs Node >= 18)" >&2; exit 1; }

mkdir -p "$target"
if [[ -f "$stamp" ]] && cmp -s "$stamp" "$repo/infra/package.json" \
   && [[ -x "$target/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil" || -x "$target/node_modules/@foundry-rs/anvil-darwin-arm64/bin/anvil" ]] \
   && [[ -f "$target/node_modules/solc/package.json" ]]; then
  echo "install-node-tools: up to date in $target"
  exit 0
fi

cp "$repo/infra/package.json" "$target/package.json"
# npm 11 does not run install scripts; none are needed (the anvil binary ships in a platform package).
(cd "$target" && npm install --no-audit --no-fund --loglevel=error)
cp "$repo/infra/package.json" "$stamp"
echo "install-node-tools: installed into $target"
