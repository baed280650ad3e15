"""The routing engine behind the CLI, read by real clients: OSPF neighbours and BGP state on
the ISP + datacenter example, parsed with ntc-templates and checked against the topology, and
a configuration change on one device that re-converges OSPF and BGP for another."""

import json
import os
import subprocess

from netmiko import ConnectHandler
from ntc_templates.parse import parse_output

from conftest import PASSWORD, REPO, SECRET, SERVE, USER


def connect(server, device):
    return ConnectHandler(device_type="cisco_ios", host="127.0.0.1", port=server.port,
                          username=f"{USER}+{device}", password=PASSWORD, secret=SECRET,
                          fast_cli=False, timeout=20)


def twin_routes(node):
    """The same twin's routing table, from `nettwin routes --json` (an independent path)."""
    out = subprocess.run([SERVE, "routes", os.path.join(REPO, "examples", "isp-dc.yml"), "--node", node,
                          "--json"], check=True, capture_output=True, text=True).stdout
    return {r["prefix"]: r for r in json.loads(out)}


def test_ospf_neighbors_and_bgp_summary_parse_with_real_values(isp_server):
    c = connect(isp_server, "p1")
    try:
        c.enable()
        nbrs = parse_output(platform="cisco_ios", command="show ip ospf neighbor",
                            data=c.send_command("show ip ospf neighbor"))
        # p1 sits between pe1 and pe2 on point-to-point links.
        got = {(n["neighbor_id"], n["state"].split("/")[0], n["ip_address"]) for n in nbrs}
        assert got == {("198.18.0.3", "FULL", "198.19.0.0"), ("198.18.0.4", "FULL", "198.19.0.3")}
    finally:
        c.disconnect()

    c = connect(isp_server, "pe1")
    try:
        c.enable()
        summary = parse_output(platform="cisco_ios", command="show ip bgp summary",
                               data=c.send_command("show ip bgp summary"))
        peers = {p["bgp_neighbor"]: p for p in summary}
        # iBGP to the three other ISP routers' loopbacks, eBGP to border over the link.
        assert set(peers) == {"198.18.0.1", "198.18.0.2", "198.18.0.4", "198.19.0.9"}
        assert peers["198.19.0.9"]["neighbor_as"] == "65100"
        assert peers["198.18.0.4"]["neighbor_as"] == "65000"
        assert summary[0]["router_id"] == "198.18.0.3" and summary[0]["local_as"] == "65000"
        assert int(peers["198.19.0.9"]["state_or_prefixes_received"]) > 0

        raw = c.send_command("show ip route")
        routes = {f'{r["network"]}/{r["prefix_length"]}': r
                  for r in parse_output(platform="cisco_ios", command="show ip route", data=raw)}
        twin = twin_routes("pe1")
        ipv4 = {p for p in twin if ":" not in p}
        assert set(routes) == ipv4
        web_lan = routes["198.18.128.0/24"]
        assert web_lan["protocol"] == "B"
        assert (web_lan["distance"], web_lan["metric"]) == ("20", "0")
        assert web_lan["nexthop_ip"] == twin["198.18.128.0/24"]["next_hops"][0]["address"]
    finally:
        c.disconnect()


def test_shutdown_on_one_router_reconverges_another(isp_server):
    """Shutting p1's link to pe2 moves pe2's route to pe1's loopback onto the p2 path."""
    pe2 = connect(isp_server, "pe2")
    p1 = connect(isp_server, "p1")
    try:
        pe2.enable()
        before = pe2.send_command("show ip route 198.18.0.3")
        assert "198.19.0.2" in before, before  # via p1
        p1.enable()
        p1.send_config_set(["interface GigabitEthernet0/2", "shutdown"])
        after = pe2.send_command("show ip route 198.18.0.3")
        assert "198.19.0.6" in after and "198.19.0.2" not in after, after  # via p2 now
        nbrs = parse_output(platform="cisco_ios", command="show ip ospf neighbor",
                            data=pe2.send_command("show ip ospf neighbor"))
        assert {n["neighbor_id"] for n in nbrs} == {"198.18.0.2"}
    finally:
        pe2.disconnect()
        p1.disconnect()


def test_bgp_table_parses_with_the_engines_paths(isp_server):
    """pe2 holds the datacenter's web LAN from pe1 over iBGP (next hop pe1's loopback, local
    preference 100, AS path 65100) and the branch LAN from ce1 over eBGP."""
    c = connect(isp_server, "pe2")
    try:
        c.enable()
        rows = parse_output(platform="cisco_ios", command="show ip bgp", data=c.send_command("show ip bgp"))
        by_net = {}
        for r in rows:
            by_net.setdefault(r["network"], []).append(r)
        web = by_net["198.18.128.0/24"]
        assert len(web) == 1
        assert web[0]["next_hop"] == "198.18.0.3"
        assert web[0]["local_pref"] == "100"
        assert web[0]["as_path"] == "65100" and web[0]["origin"] == "i"
        assert ">" in web[0]["path_selection"] + web[0]["status"]
        branch = by_net["198.18.129.0/24"]
        assert branch[0]["next_hop"] == "198.19.0.11"
        assert branch[0]["as_path"] == "65200"
        # pe2's own loopback is locally originated: next hop 0.0.0.0, weight 32768.
        own = by_net["198.18.0.4/32"]
        assert own[0]["next_hop"] == "0.0.0.0" and own[0]["weight"] == "32768"
    finally:
        c.disconnect()


def test_ping_and_traceroute_follow_the_forwarding_engine(isp_server):
    """From client1 on the branch LAN to web1 in the datacenter: ce1, across the ISP (pe2, p1,
    pe1), into the datacenter (border, a spine chosen by the flow hash, leaf1) to the server.
    The replies come back because the branch LAN is in BGP; from ce1 itself they would not
    (its source, the ce1-pe2 link, is advertised nowhere, as on a real network)."""
    c = connect(isp_server, "client1")
    try:
        c.enable()
        out = c.send_command("ping 198.18.128.2")
        assert "Success rate is 100 percent (5/5)" in out, out
        hops = parse_output(platform="cisco_ios", command="traceroute",
                            data=c.send_command("traceroute 198.18.128.2", read_timeout=30))
        addrs = [h["ip_address"] for h in hops]
        assert addrs[:5] == ["198.18.129.1", "198.19.0.10", "198.19.0.2", "198.19.0.0", "198.19.0.9"], addrs
        assert addrs[5] in ("198.19.0.13", "198.19.0.15"), addrs
        assert addrs[6] in ("198.19.0.17", "198.19.0.21"), addrs
        assert addrs[-1] == "198.18.128.2" and len(addrs) == 8, addrs
        # ce1 has no route to this address and answers with an unreachable.
        out = c.send_command("ping 203.0.113.1")
        assert "Success rate is 0 percent" in out and "U" in out, out
    finally:
        c.disconnect()

    c = connect(isp_server, "ce1")
    try:
        c.enable()
        out = c.send_command("ping 198.18.128.2")
        assert "Success rate is 0 percent (0/5)" in out, out
    finally:
        c.disconnect()


def test_show_ip_route_vrf_and_show_vrf_parse_with_ntc_templates(vrf_server):
    c = connect(vrf_server, "r1")
    try:
        c.enable()
        raw = c.send_command("show ip route vrf blue")
        # ntc-templates' index sends `show ip route vrf NAME` to the show_ip_route template.
        routes = {f'{r["network"]}/{r["prefix_length"]}': r
                  for r in parse_output(platform="cisco_ios", command="show ip route vrf blue", data=raw)}
        assert {r["vrf"] for r in routes.values()} == {"blue"}
        twin = {r["prefix"]: r for r in json.loads(subprocess.run(
            [SERVE, "routes", os.path.join(REPO, "examples", "vrf-lite.yml"), "--node", "r1",
             "--vrf", "blue", "--json"], check=True, capture_output=True, text=True).stdout)}
        # Every route but red's leaked loopback, whose line (no next-hop address, the
        # interface in another VRF) is not one the template knows.
        assert set(routes) == set(twin) - {"198.18.100.1/32"}
        # r1 and r2 use 198.18.10.0/30 in red too: blue's local route is on blue's interface.
        assert routes["198.18.10.1/32"]["nexthop_if"] == "GigabitEthernet0/2"

        vrfs = {v["name"]: v for v in parse_output(platform="cisco_ios", command="show vrf",
                                                   data=c.send_command("show vrf"))}
        assert set(vrfs) == {"red", "blue"}
        assert vrfs["blue"]["interfaces"] == ["Gi0/2", "Gi0/4"]
        assert vrfs["red"]["protocols"] == "ipv4"
        assert vrfs["red"]["default_rd"].endswith(":1")
    finally:
        c.disconnect()
