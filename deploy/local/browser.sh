#!/usr/bin/env bash
# Make sure Debian's Chromium is installed at /usr/bin/chromium for the browser tests.
#
# The tests drive it with Playwright's Python client through `executable_path="/usr/bin/chromium"`;
# Playwright's own browser download (`playwright install`) is never used. Idempotent: does nothing when
# Chromium is already there.
set -euo pipefail
_sigap_tag=browser
# shellcheck source=deploy/local/lib.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
  info "chromium present: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  warn "$CHROMIUM is missing and apt-get is not available on this machine."
  warn "Install Chromium with your package manager (Debian/Ubuntu: apt-get install chromium) or the"
  warn "browser tests will be skipped."
  exit 0
fi

sudo_cmd=()
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo_cmd=(sudo -n)
  else
    warn "$CHROMIUM is missing; installing it needs root (run: sudo apt-get install -y chromium)."
    warn "The browser tests will be skipped until it is installed."
    exit 0
  fi
fi

info "installing Debian's chromium with apt-get (one time)"
t0="$(now)"
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1; then
  "${sudo_cmd[@]}" apt-get update -q >/dev/null
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends chromium fonts-liberation >/dev/null
fi
[[ -x "$CHROMIUM" ]] || die "apt-get finished but $CHROMIUM is still missing"
info "chromium installed in $(elapsed "$t0")s: $("$CHROMIUM" --version 2>/dev/null || true)"
