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

# netlab itself (PyPI networklab, in its own venv): the Rust tests that compare with `netlab
# create` use it through NETTWIN_NETLAB, tests/netlab/run.sh below too. Without it they skip.
if netlab="$(bash tests/netlab/run.sh --venv-only)"; then
    export NETTWIN_NETLAB="$netlab"
fi

# Rust: unit, integration and property tests of every crate.
cargo test --workspace --all-targets

# The device CLI driven by real automation clients (netmiko, scrapli, OpenSSH) and parsed with
# ntc-templates; creates its own Python venv on first use.
bash crates/cli/tests/python/run.sh

# netlab labs: nettwin's addressing of every lab in tests/netlab equals what `netlab create`
# writes for it; installs networklab into its own venv on first use.
bash tests/netlab/run.sh
