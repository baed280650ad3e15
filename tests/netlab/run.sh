#!/usr/bin/env bash
# Compares nettwin's addressing of every lab in this corpus with what `netlab create` writes for
# it: netlab (PyPI `networklab`) is installed into its own venv on first use, the nettwin binary
# is built, and compare.py reports every difference (lab, node, interface, both values).
# Without network access to create the venv it prints SKIPPED with the reason and passes.
# Arguments: lab files to compare instead of the whole corpus, or `--venv-only`: make the venv,
# print its netlab program and exit (1 when it cannot be made), for test.sh to hand the Rust tests.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${NETTWIN_NETLAB_VENV:-$repo/.venv-netlab}"
# The netlab release the corpus was checked against; a newer one may allocate differently.
netlab_version="26.10"

if [ "$("$venv/bin/pip" show networklab 2>/dev/null | sed -n 's/^Version: //p')" != "$netlab_version" ]; then
    if ! python3 -m venv "$venv" >/tmp/nettwin-netlab-venv.log 2>&1 \
        || ! "$venv/bin/pip" install -q "networklab==$netlab_version" >>/tmp/nettwin-netlab-venv.log 2>&1; then
        echo "SKIPPED: cannot install networklab==$netlab_version into $venv: $(tail -n 1 /tmp/nettwin-netlab-venv.log)" >&2
        [ "${1:-}" = --venv-only ] && exit 1
        exit 0
    fi
fi
if [ "${1:-}" = --venv-only ]; then
    echo "$venv/bin/netlab"
    exit 0
fi

(cd "$repo" && cargo build -q -p nettwin)
binary="${CARGO_TARGET_DIR:-$repo/target}/debug/nettwin"
if [ $# -eq 0 ]; then
    # Every lab; files with `defaults` in their name are defaults files the labs include.
    mapfile -t labs < <(find "$here" -name '*.yml' ! -name '*defaults*' | sort)
else
    labs=("$@")
fi
exec "$venv/bin/python" "$here/compare.py" "$binary" "${labs[@]}"
