#!/usr/bin/env bash
# Runs every nettwin test on a fresh machine. It installs what the tests need by itself.
set -euo pipefail
cd "$(dirname "$0")"

# The Rust toolchain is the only thing assumed present; later test suites (SSH clients, FRR,
# namespaces) install their own tools here before they run.
cargo test --workspace --all-targets
