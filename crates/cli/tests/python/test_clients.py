"""Real automation clients against the simulated devices of tests/data/lab.yml:

    r1 (198.19.0.1/30, Gi0/1, mtu 9000) -- r2 (198.19.0.2 Gi0/1, 198.19.0.5 Gi0/2)
       -- r3 (198.19.0.6 Gi0/1, 198.18.30.1/24 Gi0/2) -- h1 198.18.30.10
"""

import shutil
import subprocess

import pytest
from netmiko import ConnectHandler
from ntc_templates.parse import parse_output
from scrapli.driver.core import IOSXEDriver

from conftest import PASSWORD, SECRET, USER


def netmiko(server, device=None, port=None):
    """By user name on the shared port (admin+r1), or by a per-device port."""
    return ConnectHandler(
        device_type="cisco_ios", host="127.0.0.1",
        port=port if port else server.port,
        username=f"{USER}+{device}" if device else USER,
        password=PASSWORD, secret=SECRET, fast_cli=False)


def scrapli(server, device):
    d = IOSXEDriver(host="127.0.0.1", port=server.port, auth_username=f"{USER}+{device}",
                    auth_password=PASSWORD, auth_secondary=SECRET, auth_strict_key=False,
                    transport="system", timeout_socket=10, timeout_ops=20)
    d.open()
    return d


def routes_by_prefix(parsed):
    return {f"{r['network']}/{r['prefix_length']}": r for r in parsed}


def test_netmiko_show_commands_parse_to_topology_values(server):
    c = netmiko(server, "r1")
    try:
        c.enable()
        assert c.find_prompt() == "r1#"
        raw = c.send_command("show ip route")
        routes = routes_by_prefix(parse_output(platform="cisco_ios", command="show ip route", data=raw))
        assert routes["0.0.0.0/0"]["protocol"] == "S" and routes["0.0.0.0/0"]["flag"] == "*"
        assert routes["0.0.0.0/0"]["nexthop_ip"] == "198.19.0.2"
        assert routes["0.0.0.0/0"]["distance"] == "1"
        assert routes["198.19.0.0/30"]["protocol"] == "C"
        assert routes["198.19.0.0/30"]["nexthop_if"] == "GigabitEthernet0/1"
        assert routes["198.19.0.1/32"]["protocol"] == "L"
        assert routes["198.18.0.1/32"]["nexthop_if"] == "Loopback0"
        assert routes["198.18.30.0/24"]["nexthop_ip"] == "198.19.0.2"
        # OSPF (lab.yml runs it on every router) adds r2's and r3's loopbacks and the r2-r3
        # link, at the default cost of 10 per link; the statics keep their prefixes (distance 1).
        assert routes["198.18.0.2/32"]["protocol"] == "O"
        assert (routes["198.18.0.2/32"]["distance"], routes["198.18.0.2/32"]["metric"]) == ("110", "10")
        assert routes["198.18.0.3/32"]["metric"] == "20"
        assert routes["198.18.0.3/32"]["nexthop_ip"] == "198.19.0.2"
        assert routes["198.19.0.4/30"]["protocol"] == "O"
        assert routes["198.18.30.0/24"]["protocol"] == "S"
        assert set(routes) == {"0.0.0.0/0", "198.19.0.0/30", "198.19.0.1/32", "198.18.0.1/32",
                               "198.18.30.0/24", "198.18.0.2/32", "198.18.0.3/32", "198.19.0.4/30"}

        brief = c.send_command("show ip interface brief", use_textfsm=True)
        assert {(b["interface"], b["ip_address"], b["status"], b["proto"]) for b in brief} == {
            ("GigabitEthernet0/1", "198.19.0.1", "up", "up"),
            ("Loopback0", "198.18.0.1", "up", "up")}

        intf = c.send_command("show interfaces", use_textfsm=True)
        gi1 = next(i for i in intf if i["interface"] == "GigabitEthernet0/1")
        assert gi1["mtu"] == "9000" and gi1["ip_address"] == "198.19.0.1" and gi1["prefix_length"] == "30"
        assert gi1["link_status"] == "up" and gi1["protocol_status"] == "up"

        ver = c.send_command("show version", use_textfsm=True)[0]
        assert ver["hostname"] == "r1" and ver["software_image"] == "NETTWIN-SIM-M"

        cdp = c.send_command("show cdp neighbors", use_textfsm=True)
        assert [(n["neighbor_name"], n["local_interface"], n["neighbor_interface"]) for n in cdp] == [
            ("r2", "Gig 0/1", "Gig 0/1")]
        lldp = c.send_command("show lldp neighbors", use_textfsm=True)
        assert [(n["neighbor_name"], n["local_interface"], n["neighbor_interface"]) for n in lldp] == [
            ("r2", "Gi0/1", "Gi0/1")]

        # r1 -> r2 -> r3 -> h1 over static routes; the r2-r3 link has 2 ms each way.
        ping = c.send_command("ping 198.18.30.10", use_textfsm=True)[0]
        assert ping["success_pct"] == "100" and ping["rtt_avg"] == "4"
        trace = c.send_command("traceroute 198.18.30.10", use_textfsm=True)
        assert [(h["hop_num"], h["ip_address"]) for h in trace] == [
            ("1", "198.19.0.2"), ("2", "198.19.0.6"), ("3", "198.18.30.10")]
        detail = c.send_command("show ip route 198.18.30.77")
        assert "Routing entry for 198.18.30.0/24" in detail and "* 198.19.0.2" in detail
    finally:
        c.disconnect()


def test_netmiko_config_is_seen_from_scrapli_on_another_device(server):
    r1 = netmiko(server, port=server.port_base)  # per-device port: r1 is node 0
    r2 = scrapli(server, "r2")
    try:
        r1.enable()
        before = r2.send_command("show ip route").textfsm_parse_output()
        assert "198.19.0.0/30" in routes_by_prefix(before)

        out = r1.send_config_set(["interface GigabitEthernet0/1", "shutdown"])
        assert "Invalid" not in out
        assert "OK" in r1.save_config()

        brief = r2.send_command("show ip interface brief").textfsm_parse_output()
        gi1 = next(b for b in brief if b["interface"] == "GigabitEthernet0/1")
        assert (gi1["status"], gi1["proto"]) == ("down", "down")
        after = routes_by_prefix(r2.send_command("show ip route").textfsm_parse_output())
        assert "198.19.0.0/30" not in after and "198.18.0.1/32" not in after

        # A static route added on r2 through scrapli shows on r2 and routes r1's pings back.
        r1.send_config_set(["interface gi0/1", "no shutdown"])
        resp = r2.send_configs(["ip route 10.99.0.0 255.255.0.0 198.19.0.1 50"])
        assert not resp.failed
        routes = routes_by_prefix(r2.send_command("show ip route").textfsm_parse_output())
        assert routes["10.99.0.0/16"]["distance"] == "50"
        assert routes["10.99.0.0/16"]["nexthop_ip"] == "198.19.0.1"
        assert "198.19.0.0/30" in routes
        run = r1.send_command("show running-config")
        assert "ip route 0.0.0.0 0.0.0.0 198.19.0.2" in run and " shutdown" not in run
    finally:
        r1.disconnect()
        r2.close()


def test_scrapli_reports_ios_errors(server):
    d = scrapli(server, "r3")
    try:
        r = d.send_command("show ip rooute")
        assert r.failed and "% Invalid input detected at '^' marker." in r.result
        r = d.send_command("t")
        assert r.failed and '% Ambiguous command: "t"' in r.result
        r = d.send_configs(["interface gi0/2", "mtu 1400", "ip address 198.18.31.1 255.255.255.0"])
        assert not r.failed
        brief = d.send_command("show ip interface brief").textfsm_parse_output()
        assert {b["interface"]: b["ip_address"] for b in brief}["GigabitEthernet0/2"] == "198.18.31.1"
    finally:
        d.close()


def test_wrong_password_is_refused(server):
    from netmiko.exceptions import NetmikoAuthenticationException
    with pytest.raises(NetmikoAuthenticationException):
        ConnectHandler(device_type="cisco_ios", host="127.0.0.1", port=server.port,
                       username=f"{USER}+r1", password="nope", fast_cli=False)


def test_host_key_persists_across_restarts(server):
    import paramiko

    def fingerprint():
        t = paramiko.Transport(("127.0.0.1", server.port))
        try:
            t.start_client(timeout=10)
            return t.get_remote_server_key().get_fingerprint()
        finally:
            t.close()

    first = fingerprint()
    server.stop()
    server.start()
    assert fingerprint() == first


@pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH client not installed")
def test_openssh_interactive_with_public_key(server):
    script = "sh ip int br\rconf t\rint gi0/1\rshut\rend\rsh ip int br\rexit\r"
    p = subprocess.run(
        ["ssh", "-tt", "-i", server.client_key, "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
         "-p", str(server.port), "ops+r2@127.0.0.1"],
        input=script.encode(), capture_output=True, timeout=30)
    out = p.stdout.decode(errors="replace")
    assert "r2#" in out and "r2(config-if)#" in out
    assert "administratively down" in out
    # A non-interactive command over exec.
    p = subprocess.run(
        ["ssh", "-i", server.client_key, "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
         "-p", str(server.port + 0), "ops+r3@127.0.0.1", "show ip route"],
        capture_output=True, timeout=30)
    assert "C        198.19.0.4/30 is directly connected, GigabitEthernet0/1" in p.stdout.decode()
