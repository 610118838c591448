#!/usr/bin/env bash
# Installs every build and test dependency from Debian's packages (and the npm
# test peers into tests/node_modules). Idempotent and quick when all is present.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  build-essential cmake ninja-build pkg-config ccache clang clang-tidy clang-format libclang-rt-14-dev
  libboost-dev libssl-dev libsodium-dev libcrypt-dev libsqlite3-dev libpq-dev
  libhiredis-dev nlohmann-json3-dev libcurl4-openssl-dev liboath-dev libqrencode-dev
  libkainjow-mustache-dev libutf8proc-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libcrack2-dev cracklib-runtime john-data libgtest-dev libgmock-dev libbenchmark-dev libexpected-dev
  postgresql-15 postgresql-client-15 redis-server redis-tools nginx chromium fonts-liberation curl
  oathtool faketime wrk python3-aiosmtpd nodejs npm
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  # nodejs/npm may come from another source on a machine that already has them.
  if command -v node >/dev/null && command -v npm >/dev/null; then
    filtered=(); for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p"); done
    missing=("${filtered[@]}")
  fi
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "deps: run as root (apt-get needed)" >&2; exit 1; fi
  timeout 600 apt-get update -q
  DEBIAN_FRONTEND=noninteractive timeout 1800 apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ -f tests/package.json ]; then
  if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ]; then
    (cd tests && timeout 600 npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
