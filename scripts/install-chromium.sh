#!/usr/bin/env bash
# Install headless Chromium (Debian package "chromium") for the browser test
# of the setup pages (app/setup/browsertest), and a colour emoji font so
# its screenshots render the 👀 in app.yml's reasons. Idempotent: does
# nothing when Chromium is already there. Needs root (CI) or sudo.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "chromium is installed: $(chromium --version 2>/dev/null || echo unknown version)"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends chromium fonts-noto-color-emoji
echo "chromium installed: $(chromium --version 2>/dev/null || echo unknown version)"
