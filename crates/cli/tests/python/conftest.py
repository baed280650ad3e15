"""Starts the nettwin CLI server (built by run.sh) on 127.0.0.1 with free ports and a temp
directory for the users file and host key; always kills it and removes the directory."""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

SERVE = os.environ.get("NETTWIN_CLI_SERVE", "")
# `nettwin serve` when run.sh points NETTWIN_CLI_SERVE at the nettwin binary.
SERVE_ARGS = os.environ.get("NETTWIN_CLI_SERVE_ARGS", "").split()
LAB = os.environ.get("NETTWIN_CLI_LAB", "")
USER, PASSWORD, SECRET = "admin", "admin", "cisco"


def free_port_block(count):
    """A base port with `count` free ports after it (checked by binding each)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + count >= 65535:
            continue
        socks = []
        try:
            for p in range(base, base + count):
                t = socket.socket()
                socks.append(t)
                t.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for t in socks:
                t.close()
    raise RuntimeError("no free port block")


def wait_port(port, proc, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stdout.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server not listening on {port}")


class Server:
    def __init__(self, workdir, keyfile_pub=None, topology=None):
        assert SERVE and os.path.exists(SERVE), "run through run.sh (NETTWIN_CLI_SERVE)"
        self.dir = workdir
        self.users = os.path.join(workdir, "users.txt")
        self.host_key = os.path.join(workdir, "host_key")
        lines = [f"{USER} password={PASSWORD} secret={SECRET}"]
        if keyfile_pub:
            with open(keyfile_pub) as f:
                lines.append("ops privilege=15 " + f.read().strip())
        with open(self.users, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None
        self.topology = topology or LAB

    def start(self):
        self.port = free_port_block(1)
        self.port_base = free_port_block(len(open(self.topology).read().split("\nnodes:")[1].split("\nlinks:")[0].strip().splitlines()) + 1)
        self.proc = subprocess.Popen(
            [SERVE, *SERVE_ARGS, self.topology, "--listen", f"127.0.0.1:{self.port}", "--port-base", str(self.port_base),
             "--users", self.users, "--host-key", self.host_key],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_port(self.port, self.proc)
        wait_port(self.port_base, self.proc)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="nettwin-cli-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def client_key(workdir):
    if shutil.which("ssh-keygen") is None:
        return None
    path = os.path.join(workdir, "id_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
    return path


@pytest.fixture
def server(workdir, client_key):
    s = Server(workdir, client_key + ".pub" if client_key else None)
    s.client_key = client_key
    try:
        yield s.start()
    finally:
        s.stop()


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


@pytest.fixture
def isp_server(workdir):
    """`nettwin serve` on the ISP + datacenter example: OSPF and BGP behind the CLI."""
    s = Server(workdir, topology=os.path.join(REPO, "examples", "isp-dc.yml"))
    try:
        yield s.start()
    finally:
        s.stop()


@pytest.fixture
def vrf_server(workdir):
    """`nettwin serve` on the VRF-lite example: VRF tables behind the CLI."""
    s = Server(workdir, topology=os.path.join(REPO, "examples", "vrf-lite.yml"))
    try:
        yield s.start()
    finally:
        s.stop()
