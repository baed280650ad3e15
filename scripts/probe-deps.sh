#!/bin/sh
# Installs what the probe anchor test needs: Debian's prometheus-blackbox-exporter, run side by
# side with `nettwin probe` against the same targets. Idempotent and quiet, like emu-deps.sh;
# needs root (or sudo). The package's service is not started (the test runs its own copy).
set -eu
pkg=prometheus-blackbox-exporter
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
        echo "probe-deps: need root to install $pkg" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1; then
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
fi
