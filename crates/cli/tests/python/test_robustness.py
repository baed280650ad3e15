"""Clients that misbehave do not take the server down for the others."""

import socket
import time

import paramiko

from conftest import PASSWORD, USER
from test_clients import netmiko


def shell(server, device):
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    c.connect("127.0.0.1", port=server.port, username=f"{USER}+{device}", password=PASSWORD,
              look_for_keys=False, allow_agent=False, timeout=10)
    ch = c.invoke_shell()
    return c, ch


def read_until(ch, text, timeout=20):
    buf, end = b"", time.time() + timeout
    while time.time() < end:
        if ch.recv_ready():
            buf += ch.recv(65536)
            if text.encode() in buf:
                return buf.decode(errors="replace")
        else:
            time.sleep(0.01)
    raise AssertionError(f"{text!r} not seen in {buf[-300:]!r}")


def test_abusive_clients_leave_the_server_serving(server):
    # Half-typed commands, then the TCP connection vanishes.
    for _ in range(20):
        c, ch = shell(server, "r1")
        read_until(ch, "r1>")
        ch.send("show ip ro")
        c.get_transport().sock.close()
        c.close()
    # A 1 MB line: the server keeps the first 4096 characters and answers.
    c, ch = shell(server, "r2")
    read_until(ch, "r2>")
    ch.sendall("x" * (1 << 20) + "\n")
    out = read_until(ch, "% Invalid input detected", timeout=60)
    c.close()
    # Not SSH at all.
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"\x00\xff garbage\r\n" * 100)
        s.close()
    assert server.alive()
    c = netmiko(server, "r3")
    try:
        assert "198.19.0.4/30 is directly connected" in c.send_command("show ip route")
    finally:
        c.disconnect()
