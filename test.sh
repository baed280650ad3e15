#!/usr/bin/env bash
# Runs every nettwin test on a fresh machine. It installs what the tests need by itself.
set -euo pipefail
cd "$(dirname "$0")"

# The namespace tests compare the twin with a real kernel and FRR; they need root and install
# FRR, ping and traceroute here (without root they print SKIPPED and pass).
if [ "$(id -u)" -eq 0 ]; then
    sh scripts/emu-deps.sh
    # Debian's blackbox_exporter, the anchor nettwin probe's metrics are checked against.
    sh scripts/probe-deps.sh
fi

# Rust: unit, integration and property tests of every crate.
cargo test --workspace --all-targets

# The device CLI driven by real automation clients (netmiko, scrapli, OpenSSH) and parsed with
# ntc-templates; creates its own Python venv on first use.
bash crates/cli/tests/python/run.sh
