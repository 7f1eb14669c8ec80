#!/usr/bin/env bash
# Install the test services that run without Docker, each in its own virtualenv under
# infra/.services (ignored by git). Idempotent: a venv whose marker file matches the pins is kept.
#   - LocalStack 4.13.1 in host mode: the newest release that runs on Python 3.11; the pins below
#     are the ones that make it start (see docs: cbor2 6 and pyOpenSSL 26 break it).
#   - nx-27017: a MongoDB wire-protocol server on SQLite, used when MONGODB_URL is not set.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES="$ROOT/infra/.services"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

LOCALSTACK_PINS=(
  "localstack-core[runtime]==4.13.1"
  "cbor2<6"
  "pyopenssl==25.3.0"
  "cryptography>=45.0.7,<47"
  "service_identity"
)
NX_PINS=("nx-27017==0.8.1")

install_venv() {
  local dir="$1"; shift
  local marker="$dir/.pins"
  local want
  want="$(printf '%s\n' "$@")"
  if [[ -x "$dir/bin/python" && -f "$marker" && "$(cat "$marker")" == "$want" ]]; then
    echo "$(basename "$dir"): already installed"
    return
  fi
  echo "$(basename "$dir"): installing $*"
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir"
  # pip warns once per package about absent local index folders; keep the output readable.
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }
  printf '%s' "$want" >"$marker"
  echo "$(basename "$dir"): installed"
}

mkdir -p "$SERVICES"
what="${1:-all}"
if [[ "$what" == "all" || "$what" == "localstack" ]]; then
  install_venv "$SERVICES/localstack-venv" "${LOCALSTACK_PINS[@]}"
fi
if [[ "$what" == "all" || "$what" == "mongo" ]]; then
  install_venv "$SERVICES/nx27017-venv" "${NX_PINS[@]}"
fi
