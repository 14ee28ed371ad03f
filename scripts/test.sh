#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs it.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

# System libraries: Qt (offscreen and xvfb), headless Chromium for the web tests.
SYSTEM_PACKAGES=(libegl1 libgl1 libfontconfig1 libglib2.0-0 libxkbcommon0 libdbus-1-3
                 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
                 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
                 libnss3 libasound2 xvfb chromium fonts-liberation)
missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test,pack]"  # pack: PyInstaller, for tests/packaging

.venv/bin/ruff check .
.venv/bin/lint-imports
# Node 24, NocoDB and n8n for the integration tests (needs npm; ≈ 8 min and 4.5 GB the first
# time, into $IBTRADER_SERVICES_CACHE or ~/.cache/ibtrader-services; seconds once cached)
if ! command -v npm >/dev/null 2>&1; then  # npm only bootstraps Node 24 (from npm itself)
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
fi
bash scripts/services/install.sh
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest "$@"
