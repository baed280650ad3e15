#!/bin/sh
# Installs what the emulation tests need (nettwin emu): iproute2, FRR, ping and traceroute.
# Idempotent and quiet: does nothing when everything is there, runs `apt-get update` only when
# a package cannot be found in the current lists. Needs root (or sudo) to install.
set -eu
pkgs="frr iputils-ping traceroute iproute2"
missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
        echo "emu-deps: need root to install:$missing" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -qq $missing >/dev/null 2>&1; then
    $SUDO apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq $missing >/dev/null
fi
