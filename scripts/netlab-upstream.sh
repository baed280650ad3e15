#!/usr/bin/env bash
# Runs `nettwin check` over netlab's own labs (its transformation tests, tests/topology/input,
# and integration labs, tests/integration) and counts the results by first error, with the
# error's names and numbers blanked out, most common first. Not part of CI: it needs a copy of
# netlab's repository. docs/netlab.md records the counts.
#
# Usage: scripts/netlab-upstream.sh NETLAB        (a checkout, or a bare git directory)
#        scripts/netlab-upstream.sh NETLAB -v     (also each lab with its first error)
set -euo pipefail
src="${1:?usage: $0 NETLAB_CHECKOUT_OR_GIT_DIR [-v]}"
verbose="${2:-}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ -d "$src/tests/topology/input" ]; then
    cp -r "$src/tests" "$work/"
else
    git --git-dir="$src" archive HEAD tests/topology/input tests/integration | tar -x -C "$work"
fi
# NETTWIN=path/to/nettwin checks with another build (an older one, for before/after counts).
if [ -z "${NETTWIN:-}" ]; then
    (cd "$repo" && cargo build -q -p nettwin)
fi
nettwin="${NETTWIN:-${CARGO_TARGET_DIR:-$repo/target}/debug/nettwin}"

cd "$work"
# Files with `defaults` in their name are defaults files labs include, not labs; the same for
# the shared settings files at the top of tests/integration.
find tests/topology/input tests/integration -name '*.yml' ! -name '*defaults*' \
    ! -path 'tests/integration/wait_times.yml' ! -path 'tests/integration/warnings.yml' | sort | while read -r lab; do
    first="$("$nettwin" check "$lab" 2>&1 >/dev/null | sed -n 's/^error: //p' | head -n 1 || true)"
    printf '%s\t%s\n' "$lab" "${first:-ok}"
done >results.tsv

python3 - "$verbose" <<'PY'
import collections, re, sys
rows = [l.rstrip("\n").split("\t", 1) for l in open("results.tsv")]
def shape(msg):
    if msg == "ok":
        return "ok"
    msg = re.sub(r"^\S+?:\d+:\d+: ", "", msg)            # file:line:col
    msg = re.sub(r" \(at `[^`]*`\)$", "", msg)            # key path
    msg = re.sub(r"; expected one of: .*", "", msg)        # the list of valid keys
    msg = re.sub(r"; remove it to use the rest of the lab$", "", msg)
    msg = re.sub(r" \(and \d+ other places?\)", "", msg)
    # Values: what the lab wrote, unless it is a key (kept: it says what is missing).
    if not msg.startswith(("unknown key", "missing required key", "unknown node or link")):
        msg = re.sub(r"`[^`]*`", "`_`", msg)
    msg = re.sub(r"\b[0-9a-fA-F]*:[0-9a-fA-F:]+(/\d+)?", "N", msg)  # IPv6 addresses
    msg = re.sub(r"\b\d+(\.\d+)*(/\d+)?\b", "N", msg)         # numbers, IPv4 addresses
    return msg
for part in ("tests/topology/input", "tests/integration"):
    mine = [(l, m) for l, m in rows if l.startswith(part)]
    counts = collections.Counter(shape(m) for _, m in mine)
    ok = counts.get("ok", 0)
    print(f"{part}: {len(mine)} labs, {ok} load, {len(mine) - ok} refused")
    for msg, n in counts.most_common():
        if msg != "ok":
            print(f"  {n:4d}  {msg}")
if sys.argv[1] == "-v":
    for l, m in rows:
        print(f"{l}: {m}")
PY
