#!/usr/bin/env bash
# Debian's Chromium and CJK fonts for the browser tests (Playwright drives /usr/bin/chromium;
# no browser download). Idempotent: returns at once when both are present.
set -euo pipefail

if [ -x /usr/bin/chromium ] && fc-list :lang=zh 2>/dev/null | grep -qi noto; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
  command -v sudo >/dev/null || { echo "install-browser: run as root, or install sudo" >&2; exit 1; }
else
  sudo=
fi
export DEBIAN_FRONTEND=noninteractive
# Without fonts-noto-cjk every Chinese character renders as a box in screenshots.
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk fontconfig >/dev/null
/usr/bin/chromium --version 2>/dev/null
