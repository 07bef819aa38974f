"""The lab across a network: each worker in a network namespace of its own (its own address and loopback, one
veth pair to this host), the scheduler, the client and the boards' sshd on this host's side of those links. Every
connection the lab makes crosses a network, as between real hosts; a host is cut from it by deleting its link.

Needs root and network namespaces (as the board tier); otherwise it skips with the reason. Network rules as
tests/board.py: the test subnet is made unreachable first, nothing else is routed, everything is removed after.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import wait_for
from labkit import EXE, Lab, Proc, certs, runners  # noqa: F401 - fixtures
from sshd import Sshd, free_port

SUBNET = "10.214.0.0/16"


def _ip(*args, check=True):
    return subprocess.run(["ip", *map(str, args)], check=check, capture_output=True, text=True)


class Net:
    """Namespaces mdlab<N>-<i>, each linked to this host: 10.214.<b+i>.1 here, 10.214.<b+i>.2 there."""

    def __init__(self, count: int):
        self.base = os.getpid() % 200 + 1
        self.names = [f"mdlab{self.base}-{i}" for i in range(count)]
        self.links = [f"mdl{self.base}h{i}" for i in range(count)]

    def here(self, i: int) -> str:
        return f"10.214.{self.base + i}.1"

    def there(self, i: int) -> str:
        return f"10.214.{self.base + i}.2"

    def up(self) -> "Net":
        _ip("route", "add", "unreachable", SUBNET, check=False)   # nothing in the test subnet leaks out
        for i, (ns, link) in enumerate(zip(self.names, self.links)):
            _ip("netns", "add", ns)
            _ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("addr", "add", f"{self.here(i)}/30", "dev", link)
            _ip("link", "set", link, "up")
            for cmd in (["addr", "add", f"{self.there(i)}/30", "dev", "eth0"], ["link", "set", "eth0", "up"],
                        ["link", "set", "lo", "up"], ["route", "add", "default", "via", self.here(i)]):
                _ip("netns", "exec", ns, "ip", *cmd)
        return self

    def cut(self, i: int) -> None:
        """The host's cable pulled: its link is gone, its processes run on."""
        _ip("link", "del", self.links[i], check=False)

    def down(self) -> None:
        for ns, link in zip(self.names, self.links):
            _ip("link", "del", link, check=False)
            _ip("netns", "del", ns, check=False)


@pytest.fixture(scope="module")
def net():
    if os.geteuid() != 0:
        pytest.skip("the lab across namespaces needs root (network namespaces)")
    if not shutil.which("ip"):
        pytest.skip("the lab across namespaces needs the ip command (Debian's iproute2)")
    probe = f"mdlabprobe{os.getpid()}"
    if _ip("netns", "add", probe, check=False).returncode != 0:
        pytest.skip("the lab across namespaces needs network namespaces (ip netns add failed)")
    _ip("netns", "del", probe, check=False)
    n = Net(3)
    try:
        yield n.up()
    finally:
        n.down()


@pytest.fixture(scope="module")
def spread(tmp_path_factory, certs, net):  # noqa: F811
    """A lab whose scheduler listens on this host's side of the first link and whose workers desk1, desk2
    (and desk3 for the cut) run in namespaces 0, 1, 2; their boards are on one sshd on this host's side too."""
    sshd = Sshd(tmp_path_factory.mktemp("sshd-net"), host=net.here(0)).start()
    lab = Lab(tmp_path_factory.mktemp("lab-net"), certs, sshd)
    lab.address = f"tls://{net.here(0)}:{free_port()}"
    lab.net = net
    try:
        lab.start_scheduler()
        for i, name in enumerate(("desk1", "desk2")):
            lab.start_worker(name, f"board{i + 1}", launcher=["ip", "netns", "exec", net.names[i], EXE])
        yield lab
    finally:
        lab.stop()
        sshd.stop()


GRID = ["--alphas", "0.25", "--res", "96", "--precisions", "fp32", "--runs", "5", "--warmup", "2",
        "--processes", "1", "--max-seconds", "1"]


def test_a_sweep_over_workers_on_separate_hosts(spread, tmp_path):
    net = spread.net
    doc = spread.status()
    addresses = {w["host"]: w["address"] for w in doc["workers"]}
    # each worker is reached at its own namespace's address: separate hosts on a network
    assert addresses["desk1"].startswith(f"tls://{net.there(0)}:"), addresses
    assert addresses["desk2"].startswith(f"tls://{net.there(1)}:"), addresses
    out = tmp_path / "s"
    run = json.loads(spread.client("sweep", "--lab", spread.address, "--lab-certs", spread.certs / "alice",
                                   "--device", "board1,board2", *GRID, "--out", out, "--json",
                                   check=True).stdout)["run"][0]
    assert run["benched"] == 2 and run["errors"] == [], run
    assert set(run["exported_on"].values()) <= {"desk1", "desk2"}, run
    for device, host in (("board1", "desk1"), ("board2", "desk2")):
        hist = json.loads(spread.client("bench", "--history", "--device", device, "--json", check=True).stdout)
        assert hist["results"][-1]["device_facts"]["host"] == host


def test_a_host_cut_from_the_network_is_reported_and_the_rest_goes_on(spread, tmp_path):
    """The link of desk3's namespace is deleted while its board measures: the scheduler drops desk3 after its
    heartbeats stop (worker TTL), its device waits --lab-rejoin seconds, then one line names the worker and the
    files not measured; board1 is measured in full."""
    net = spread.net
    cut = spread.start_worker("desk3", "board3", launcher=["ip", "netns", "exec", net.names[2], EXE])
    out = tmp_path / "s"
    client = Proc("sweep", "--lab", spread.address, "--lab-certs", spread.certs / "alice", "--device",
                  "board1,board3", "--alphas", "0.25", "--res", "96,128", "--precisions", "fp32", "--runs", "20",
                  "--warmup", "2", "--processes", "3", "--ci-width", "0.001", "--max-seconds", "6",
                  "--lab-exports", "here", "--lab-rejoin", "5", "--out", out,
                  env={"MOBILEDEPLOY_HOME": str(spread.client_home)})
    try:
        wait_for(lambda: any(d["name"] == "board3" and d["state"] == "busy"
                             for w in spread.status()["workers"] for d in w["devices"]) and runners(spread.sshd),
                 timeout=300, proc=client.proc, what="board3 measuring")
        started = time.time()
        net.cut(2)
        assert client.wait(300) == 2, client.output
        lost = [line for line in client.lines if "board3 (worker desk3)" in line and "not measured" in line]
        assert len(lost) == 1, client.output
        assert "Traceback" not in client.output
        assert time.time() - started < 150, "the cut was noticed too late"
        hist = json.loads(spread.client("bench", "--history", "--device", "board1", "--json", check=True).stdout)
        assert len([r for r in hist["results"] if r["artifact"].startswith(str(out))]) == 2
    finally:
        client.stop(signal.SIGKILL)
        cut.stop()
