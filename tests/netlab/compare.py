#!/usr/bin/env python3
"""Compares nettwin's reading of netlab labs with netlab's own.

For each lab, netlab transforms the topology exactly as `netlab create` does (`_read.load` with
the user defaults, then `augment.main.transform`, in this process: one Python start for the
whole corpus instead of one per lab), and `nettwin show --json` resolves the same file. Compared:
node ids, BGP AS numbers, roles, loopbacks, every interface's name and IPv4/IPv6 address (an address, unnumbered,
link-local only, or none), and every link's prefixes. Any difference is printed as
`lab: node X interface Y: ipv4: netlab A, nettwin B`; the exit status is 1 when there is one.

Usage: compare.py NETTWIN_BINARY LAB.yml...
"""

import ipaddress
import json
import os
import subprocess
import sys

from netsim import augment
from netsim.utils import log
from netsim.utils import read as _read


def netlab_view(path):
    """What `netlab create` computes for the lab, in the comparison's terms."""
    log.init_log_system(header=False)
    log.set_flag(raise_error=True, quiet=True)
    here, path = os.getcwd(), os.path.abspath(path)
    # netlab reads `topology-defaults.yml` from the current directory as well as beside the lab;
    # running in the lab's directory keeps the two the same place.
    os.chdir(os.path.dirname(path))
    try:
        topo = _read.load(path)
        log.exit_on_error()
        augment.main.transform(topo)
        log.exit_on_error()
    finally:
        os.chdir(here)
    nodes = {}
    for name, n in topo.nodes.items():
        lo = n.get("loopback", {})
        ifs = {}
        for i in n.get("interfaces", []):
            if i.get("type") == "loopback" or "linkindex" not in i:
                continue  # netlab's extra loopbacks, VLAN interfaces: not links of the lab
            ifs[i.linkindex - 1, i.ifname] = {
                "ifname": i.ifname,
                "ipv4": addr(i.get("ipv4"), "unnumbered"),
                "ipv6": addr(i.get("ipv6"), "link-local"),
            }
        nodes[name] = {
            "id": n.id,
            "asn": asn(n.get("bgp", {}).get("as")),
            "role": {"bridge": "switch"}.get(n.get("role", "router"), n.get("role", "router")),
            "loopback": {af: addr(lo.get(af), None) for af in ("ipv4", "ipv6")},
            "interfaces": ifs,
        }
    links = {}
    for l in topo.get("links", []):
        p = l.get("prefix", {}) or {}
        links[l.linkindex - 1] = {af: used_prefix(p.get(af), l, af) for af in ("ipv4", "ipv6")}
    return nodes, links


def used_prefix(p, link, af):
    """The link's prefix, or None where no interface of the link has an address inside it:
    netlab takes a pool prefix even for a link whose addresses the file sets all, and then
    configures it nowhere; nettwin keeps the subnet the interfaces use."""
    p = addr(p, None)
    if p is None:
        return None
    net = ipaddress.ip_network(p)
    for i in link.get("interfaces", []):
        a = i.get(af)
        if isinstance(a, str) and ipaddress.ip_interface(a).ip in net:
            return p
    return "unused" if any(isinstance(i.get(af), str) for i in link.get("interfaces", [])) else p


def asn(v):
    """A BGP AS number as an integer (netlab keeps asdot `1.10` as written)."""
    if isinstance(v, str) and "." in v:
        hi, lo = v.split(".")
        return int(hi) * 65536 + int(lo)
    return v


def addr(v, on):
    """An address as both sides can print it: the text, `on` for netlab's `true`, or None."""
    if v is True:
        return on
    if not v:
        return None
    return str(v)


def nettwin_view(binary, path):
    out = subprocess.run(
        [binary, "show", "--json", path], capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip() or out.stdout.strip())
    t = json.loads(out.stdout)
    nodes = {}
    for n in t["nodes"]:
        ifs = {}
        for i in n["interfaces"]:
            ifs[i["link"], i["name"]] = {
                "ifname": i["name"],
                "ipv4": "unnumbered" if i.get("ipv4_unnumbered") else i.get("ipv4"),
                "ipv6": "link-local" if i.get("ipv6_lla") else i.get("ipv6"),
            }
        nodes[n["name"]] = {
            "id": n["node_id"],
            "asn": n.get("asn"),
            "role": n["kind"],
            "loopback": {af: n["loopback"].get(af) for af in ("ipv4", "ipv6")},
            "interfaces": ifs,
        }
    segs = {s["id"]: s for s in t["segments"]}
    links = {}
    for l in t["links"]:
        s = segs.get(l["segment"], {})
        links[l["id"]] = {af: s.get(af) for af in ("ipv4", "ipv6")}
    return nodes, links


def compare(lab, want, got):
    """The differences between netlab's view (`want`) and nettwin's (`got`), as lines."""
    out = []
    (wn, wl), (gn, gl) = want, got
    for name in sorted(set(wn) | set(gn)):
        if name not in gn:
            out.append(f"{lab}: node {name}: netlab has it, nettwin does not")
            continue
        if name not in wn:
            out.append(f"{lab}: node {name}: nettwin has it, netlab does not")
            continue
        w, g = wn[name], gn[name]
        for key in ("id", "asn", "role"):
            if w[key] != g[key]:
                out.append(f"{lab}: node {name}: {key}: netlab {w[key]}, nettwin {g[key]}")
        for af in ("ipv4", "ipv6"):
            if w["loopback"][af] != g["loopback"][af]:
                out.append(
                    f"{lab}: node {name} loopback: {af}: netlab {w['loopback'][af]}, "
                    f"nettwin {g['loopback'][af]}"
                )
        wi, gi = w["interfaces"], g["interfaces"]
        for key in sorted(set(wi) | set(gi)):
            where = f"{lab}: node {name} interface {key[1]} (link {key[0] + 1})"
            if key not in gi:
                out.append(f"{where}: netlab has it, nettwin does not")
                continue
            if key not in wi:
                out.append(f"{where}: nettwin has it, netlab does not")
                continue
            for af in ("ipv4", "ipv6"):
                if wi[key][af] != gi[key][af]:
                    out.append(f"{where}: {af}: netlab {wi[key][af]}, nettwin {gi[key][af]}")
    for i in sorted(set(wl) | set(gl)):
        if i not in gl or i not in wl:
            side = "netlab" if i in wl else "nettwin"
            out.append(f"{lab}: link {i + 1}: only {side} has it")
            continue
        for af in ("ipv4", "ipv6"):
            if wl[i][af] != gl[i][af] and wl[i][af] != "unused":
                out.append(f"{lab}: link {i + 1} prefix: {af}: netlab {wl[i][af]}, nettwin {gl[i][af]}")
    return out


def main():
    binary, labs = sys.argv[1], sys.argv[2:]
    failures = []
    for lab in labs:
        try:
            want = netlab_view(lab)
        except (Exception, SystemExit) as e:
            failures.append(f"{lab}: netlab create fails: {e!r}")
            continue
        try:
            got = nettwin_view(binary, lab)
        except Exception as e:
            failures.append(f"{lab}: nettwin show fails: {e}")
            continue
        diff = compare(lab, want, got)
        failures.extend(diff)
        n_if = sum(len(n["interfaces"]) for n in want[0].values())
        status = "ok" if not diff else f"{len(diff)} differences"
        print(f"{lab}: {len(want[0])} nodes, {n_if} interfaces, {len(want[1])} links: {status}")
    for f in failures:
        print("DIFF " + f)
    print(f"{len(labs)} labs compared with netlab, {len(failures)} differences")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
