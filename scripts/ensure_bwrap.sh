#!/usr/bin/env bash
# The local driver needs bubblewrap: install it when we are root, otherwise say what to run.
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "bubblewrap is missing: installing it with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  exit 0
fi
echo "bubblewrap (bwrap) is required by the local driver. Install it with:" >&2
echo "  sudo apt-get install bubblewrap      # Debian/Ubuntu" >&2
echo "  sudo dnf install bubblewrap          # Fedora" >&2
exit 1
