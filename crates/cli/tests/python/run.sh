#!/usr/bin/env bash
# Drives the nettwin device CLI with real automation clients (netmiko, scrapli, OpenSSH) and
# parses its output with ntc-templates. Creates the venv on first use, builds the server,
# runs pytest. Extra arguments go to pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
crate="$(cd "$here/../.." && pwd)"
repo="$(cd "$crate/../.." && pwd)"
venv="${NETTWIN_CLI_VENV:-$repo/.venv-cli}"

if [ ! -x "$venv/bin/pytest" ]; then
    python3 -m venv "$venv"
    # scrapli 2025.1.30 is the last release with the classic driver API (IOSXEDriver);
    # 2026 releases are a different, FFI-based library.
    "$venv/bin/pip" install -q netmiko "scrapli==2025.1.30" ntc-templates textfsm pytest
fi

# Build the example binaries and learn where cargo put them.
paths="$(cd "$crate" && cargo build --examples --message-format=json-render-diagnostics \
    | "$venv/bin/python" -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "example" in m["target"]["kind"]:
        print(m["target"]["name"] + "=" + m["executable"])
')"
# The server under test is the real `nettwin serve` (routing engine behind the CLI).
(cd "$repo" && cargo build -q -p nettwin)
export NETTWIN_CLI_SERVE="${CARGO_TARGET_DIR:-$repo/target}/debug/nettwin"
export NETTWIN_CLI_SERVE_ARGS="serve"
export NETTWIN_CLI_SAMPLES="$(echo "$paths" | sed -n 's/^render_samples=//p')"
export NETTWIN_CLI_LAB="$crate/tests/data/lab.yml"
cd "$here"
exec "$venv/bin/pytest" -q -p no:cacheprovider "$@"
