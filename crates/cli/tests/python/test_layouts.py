"""Protocol show commands rendered from fixed state (examples/render_samples.rs) parse with
ntc-templates to exactly that state."""

import os
import subprocess

from ntc_templates.parse import parse_output


def sections():
    out = subprocess.run([os.environ["NETTWIN_CLI_SAMPLES"], os.environ["NETTWIN_CLI_LAB"]],
                         check=True, capture_output=True, text=True).stdout
    result, name = {}, None
    for line in out.splitlines(keepends=True):
        if line.startswith("=== "):
            name = line[4:].strip()
            result[name] = ""
        else:
            result[name] += line
    return result


S = sections()


def parse(cmd):
    return parse_output(platform="cisco_ios", command=cmd, data=S[cmd])


def test_ospf_neighbors():
    rows = [(r["neighbor_id"], r["priority"], r["state"], r["dead_time"], r["ip_address"], r["interface"])
            for r in parse("show ip ospf neighbor")]
    assert rows == [("198.18.0.2", "0", "FULL/  -", "00:00:33", "198.19.0.2", "GigabitEthernet0/1"),
                    ("198.18.0.3", "1", "FULL/DR", "00:00:38", "198.19.0.6", "GigabitEthernet0/2")]


def test_bgp_summary():
    rows = parse("show ip bgp summary")
    assert {r["router_id"] for r in rows} == {"198.18.0.1"} and {r["local_as"] for r in rows} == {"65000"}
    got = [(r["bgp_neighbor"], r["neighbor_as"], r["messages_received"], r["messages_sent"],
            r["up_down"], r["state_or_prefixes_received"]) for r in rows]
    assert got == [("198.19.0.2", "65001", "120", "118", "01:02:03", "3"),
                   ("198.19.0.6", "65002", "0", "0", "never", "Idle")]


def test_bgp_table():
    rows = [(r["network"], r["next_hop"], r["metric"], r["local_pref"], r["weight"], r["as_path"],
             r["path_selection"].strip(), r["route_source"].strip()) for r in parse("show ip bgp")]
    assert rows == [
        ("10.1.0.0/24", "0.0.0.0", "0", "", "32768", "", ">", ""),
        ("10.2.0.0/16", "198.19.0.2", "0", "", "0", "65001 65010", ">", ""),
        ("10.2.0.0/16", "198.19.0.6", "", "", "0", "65002 65010", "", ""),
        ("192.168.100.128/25", "198.19.0.9", "10", "200", "0", "", ">", "i"),
    ]


def test_route_codes_and_equal_cost_paths():
    rows = [(r["protocol"], r["type"], r["network"], r["prefix_length"], r["distance"], r["metric"],
             r["nexthop_ip"], r["uptime"], r["nexthop_if"]) for r in parse("show ip route")]
    assert ("O", "", "10.20.0.0", "24", "110", "20", "198.19.0.2", "00:01:23", "GigabitEthernet0/1") in rows
    assert ("O", "IA", "10.30.0.0", "24", "110", "30", "198.19.0.2", "01:00:00", "GigabitEthernet0/1") in rows
    assert ("O", "IA", "10.30.0.0", "24", "110", "30", "198.19.0.6", "01:00:00", "GigabitEthernet0/2") in rows
    assert ("i", "L2", "172.16.5.0", "24", "115", "20", "198.19.0.2", "00:00:59", "GigabitEthernet0/1") in rows
    assert ("B", "", "203.0.113.0", "24", "20", "0", "198.19.0.2", "2d03h", "") in rows
    assert ("L", "", "198.19.0.1", "32", "", "", "", "", "GigabitEthernet0/1") in rows


def test_version_ping_traceroute():
    v = parse("show version")[0]
    assert (v["hostname"], v["uptime_weeks"], v["uptime_days"], v["uptime_hours"], v["uptime_minutes"]) == \
        ("r1", "1", "2", "3", "25")
    assert v["config_register"] == "0x2102" and v["hardware"] == ["NETTWIN"]
    p = parse("ping")[0]
    assert (p["response_stream"], p["success_pct"], p["success_qty"], p["rtt_min"], p["rtt_avg"], p["rtt_max"]) == \
        (["!.!U!"], "60", "3", "3", "4", "5")
    t = parse("traceroute")
    assert [(h["hop_num"], h["ip_address"], h["rtt_response"]) for h in t] == [
        ("1", "198.19.0.2", ["1", "1", "1"]), ("2", "", ["*", "*", "*"])]
