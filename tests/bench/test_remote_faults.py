"""Remote faults, each one line: devices.toml, host keys, key files, non-SSH servers, hung and dropped boards,
full board disks, impossible --cpu-mask, adb timeouts and vanishing phones.

The SSH cases run against a real OpenSSH server on loopback (tests/sshd.py) whose runs go into a private
workdir, so "nothing left on the board" is checked exactly; the adb cases use the real adb client and
server with tests/adbd.py as the phone. Timeouts are set per device (connect_timeout, keepalive,
dead_timeout, timeout) so every case takes seconds.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import assert_one_line_error, mobiledeploy, wait_for
from sshd import Sshd, free_port, keygen
from sshd import add_board as sshd_add_board
from stored import stored

pytestmark = pytest.mark.faults
PY = sys.executable


# -- helpers --------------------------------------------------------------------------------------------

def add_board(sshd, *extra, **kwargs):
    """The shared helper with short timeouts: these tests wait for boards that vanish."""
    sshd_add_board(sshd, *extra, fast=True, **kwargs)


def owners_alive(folder: Path) -> list[int]:
    """Live (not zombie) processes named by the owner/pid files of the run folders under folder."""
    live = []
    for f in [*folder.glob("mobiledeploy.*/owner"), *folder.glob("mobiledeploy.*/pid")]:
        try:
            pid = int(f.read_text())
            state = Path(f"/proc/{pid}/status").read_text()
        except (OSError, ValueError):
            continue
        if "\nState:\tZ" not in state:
            live.append(pid)
    return live


def board_processes(folder: Path) -> list[int]:
    """Processes whose command line names a path under folder (the runner, its shell, the tether)."""
    needle = str(folder).encode()
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:   # a process may end between the listing and the read
            if needle in (Path("/proc") / name / "cmdline").read_bytes():
                pids.append(int(name))
        except OSError:
            continue
    return [p for p in pids if p != os.getpid()]


KEPT = ("devices.toml", "results.db", "results.db-wal", "results.db-shm")


def home_leftovers(home) -> list[str]:
    """Temporary files in the mobiledeploy home (a half-written devices.toml or results store); the adb
    server's lock files (bench/adb.py: one per adb port, kept on purpose: removing a lock file others may hold
    is a race) are not leftovers."""
    root = home / "mobiledeploy"
    return sorted(p.name for p in root.iterdir() if p.name not in KEPT
                  and not (p.name.startswith(".adb-server-") and p.name.endswith(".lock"))) if root.exists() else []


def assert_clean(sshd, home):
    assert not list(sshd.workdir.iterdir()), list(sshd.workdir.iterdir())
    assert wait_for(lambda: not board_processes(sshd.workdir), 15), board_processes(sshd.workdir)
    assert home_leftovers(home) == []


class FakeServer:
    """A TCP server on loopback that is not an SSH server: http, garbage or silent."""

    def __init__(self, mode):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port, self.mode, self.conns = self.sock.getsockname()[1], mode, []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            try:
                if self.mode == "http":
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    conn.close()
                elif self.mode == "garbage":
                    conn.sendall(os.urandom(4096))
                elif self.mode == "binary-banner":
                    conn.sendall(b"\xff\xfe\x00\x01" * 256)
                # silent: accept and say nothing
            except OSError:
                pass

    def close(self):
        self.sock.close()
        for conn in self.conns:
            conn.close()


@pytest.fixture
def devices_toml(home):
    path = home / "mobiledeploy" / "devices.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_bytes() if path.exists() else None
    yield path
    if old is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(old)


# -- devices.toml: wrong types, missing fields, unknown kinds, invalid UTF-8 ----------------------------

SSH = '[devices.b]\nkind = "ssh"\nhost = "h"\nuser = "u"\n'
CONFIGS = {
    "port-a-string": (SSH + 'port = "22"\n', ["'b'", "'port'", "integer"]),
    "port-a-bool": (SSH + "port = true\n", ["'port'"]),
    "port-out-of-range": (SSH + "port = 70000\n", ["'port'", "65535"]),
    "host-missing": ('[devices.b]\nkind = "ssh"\nuser = "u"\n', ["'host'", "missing"]),
    "kind-missing": ('[devices.b]\nhost = "h"\n', ["'b'", "kind"]),
    "kind-unknown": ('[devices.b]\nkind = "telnet"\nhost = "h"\n', ["unknown kind", "telnet"]),
    "field-unknown": (SSH + "prot = 22\n", ["prot", "did you mean 'port'"]),
    "timeout-negative": (SSH + "dead_timeout = -1\n", ["dead_timeout", "seconds"]),
    "workdir-relative": (SSH + 'workdir = "tmp"\n', ["workdir", "absolute"]),
    "key-an-array": (SSH + "key = [1, 2]\n", ["'key'"]),
    "serial-missing": ('[devices.b]\nkind = "adb"\n', ["'serial'", "missing"]),
    "invalid-utf8": (SSH.encode() + b'python = "/usr/bin/py\xff"\n', ["utf-8", "offset"]),
    "not-toml": ("[devices.b\nkind = ssh\n", ["not valid toml"]),
    "devices-not-a-table": ("devices = 3\n", ["'devices'", "table"]),
    "device-not-a-table": ('[devices]\nb = "ssh://h"\n', ["'b'", "table"]),
    "top-level-unknown": ('port = 22\n' + SSH, ["top-level", "port"]),
    "name-unusable": ('[devices."a b"]\nkind = "local"\n', ["'a b'", "rename"]),
    "local-redefined": ('[devices.local]\nkind = "ssh"\nhost = "h"\nuser = "u"\n', ["built in"]),
}


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_bad_devices_toml(case, devices_toml, home, tmp_path):
    body, fragments = CONFIGS[case]
    devices_toml.write_bytes(body if isinstance(body, bytes) else body.encode())
    before = devices_toml.read_bytes()
    command = ("devices", "check", "b") if case != "local-redefined" else ("devices", "list")
    proc = mobiledeploy(*command)
    assert proc.returncode == 2
    line = assert_one_line_error(proc, str(devices_toml), *fragments)
    assert "fix" in line or "edit" in line or "rename" in line or "remove" in line  # says how to fix it
    assert devices_toml.read_bytes() == before and home_leftovers(home) == []


def test_broken_entry_can_be_removed(devices_toml):
    devices_toml.write_text(SSH + 'port = "22"\n')
    mobiledeploy("devices", "remove", "b", check=True)
    assert "local" in mobiledeploy("devices", "list", check=True).stdout


# -- SSH: connecting -----------------------------------------------------------------------------------

def host_line(sshd, key_pub=None, names=None):
    pub = key_pub or (sshd.host_key.parent / (sshd.host_key.name + ".pub")).read_text()
    return f"{names or f'[127.0.0.1]:{sshd.port}'} {' '.join(pub.split()[:2])}"


def test_insecure_is_for_one_connection_and_writes_nothing(sshd, tmp_path, home):
    known = tmp_path / "known_hosts"
    other = keygen(tmp_path / "other_host")
    body = f"# my hosts, keep this comment\n[10.0.0.9]:22 {' '.join(other.split()[:2])}\n".encode()
    known.write_bytes(body)
    add_board(sshd, known=known)
    proc = mobiledeploy("devices", "check", "board", "--insecure", "--json", check=True)
    assert "for this connection only" in proc.stderr and "Traceback" not in proc.stderr
    assert known.read_bytes() == body  # byte-identical: no key added, comment kept
    assert_one_line_error(mobiledeploy("devices", "check", "board"), "unknown", "--insecure")
    assert known.read_bytes() == body


def test_cert_authority_skipped_with_a_warning_and_hashed_names_work(sshd, tmp_path):
    import paramiko

    known = tmp_path / "known_hosts"
    other = keygen(tmp_path / "ca")
    hashed = paramiko.HostKeys.hash_host(f"[127.0.0.1]:{sshd.port}")
    known.write_text(f"@cert-authority *.example.org {' '.join(other.split()[:2])}\n"
                     f"{host_line(sshd, names=hashed)}\n")
    add_board(sshd, known=known)
    proc = mobiledeploy("devices", "check", "board", "--json", check=True)
    warnings = [line for line in proc.stderr.splitlines() if "cert-authority" in line]
    assert len(warnings) == 1 and "skipped 1 line" in warnings[0]


@pytest.mark.parametrize("insecure", [False, True], ids=["checked", "insecure"])
@pytest.mark.parametrize("also_trusted", [False, True], ids=["revoked-only", "revoked-and-listed"])
def test_revoked_host_key_refused(sshd, tmp_path, home, insecure, also_trusted):
    known = tmp_path / "known_hosts"
    known.write_text(f"@revoked {host_line(sshd)}\n" + (f"{host_line(sshd)}\n" if also_trusted else ""))
    add_board(sshd, known=known)
    proc = mobiledeploy("devices", "check", "board", *(["--insecure"] if insecure else []))
    assert proc.returncode == 2
    assert_one_line_error(proc, "revoked", "refusing")
    assert_clean(sshd, home)


def test_changed_host_key(sshd, tmp_path, home):
    known = tmp_path / "known_hosts"
    known.write_text(host_line(sshd, keygen(tmp_path / "impostor")) + "\n")
    add_board(sshd, known=known)
    proc = mobiledeploy("devices", "check", "board", "--insecure")
    assert proc.returncode == 2
    assert_one_line_error(proc, "does not match", str(known))


KEYS = {
    "missing": (lambda d: d / "no_such_key", ["does not exist"]),
    "a-folder": (lambda d: d, ["not a file"]),
    "public-half": (lambda d: Path(str(keygen_to(d / "k")) + ".pub"), ["not a private key", ".pub"]),
    "garbage": (lambda d: write(d / "garbage", os.urandom(300)), ["not a private key"]),
    "passphrase": (lambda d: keygen_to(d / "locked", "secret"), ["passphrase"]),
    "not-authorized": (lambda d: keygen_to(d / "stranger"), ["authentication", "authorized_keys"]),
}


def keygen_to(path, passphrase=""):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(path)], check=True)
    return path


def write(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", sorted(KEYS))
def test_key_file_faults_name_the_key(sshd, tmp_path, home, case):
    make, fragments = KEYS[case]
    keys = tmp_path / "keys"
    keys.mkdir()
    key = make(keys)
    add_board(sshd, key=key)
    proc = mobiledeploy("devices", "check", "board")
    assert proc.returncode == 2
    line = assert_one_line_error(proc, *fragments)
    if case != "not-authorized":
        assert str(key) in line and "127.0.0.1" not in line  # the key is the problem, not the host
    assert_clean(sshd, home)


@pytest.mark.parametrize("mode,fragments", [
    ("http", ["without an ssh greeting"]),
    ("garbage", ["does not speak ssh"]),
    ("binary-banner", ["does not speak ssh"]),
    ("silent", ["did not answer ssh within 3 s"]),
    ("closed", ["connection refused"]),
])
def test_not_an_ssh_server(tmp_path, home, mode, fragments):
    server = FakeServer(mode) if mode != "closed" else None
    port = server.port if server else free_port()
    (tmp_path / "known_hosts").write_text("")
    try:
        mobiledeploy("devices", "add", "board", "--ssh", f"root@127.0.0.1:{port}", "--known-hosts",
                     tmp_path / "known_hosts", "--connect-timeout", "3", check=True)
        start = time.time()
        proc = mobiledeploy("devices", "check", "board")
        took = time.time() - start
    finally:
        if server:
            server.close()
    assert proc.returncode == 2
    assert_one_line_error(proc, *fragments)
    assert "paramiko" not in proc.stderr.lower() and "Exception" not in proc.stderr
    assert took < 30  # bounded by the device's connect_timeout, not paramiko's defaults


def test_paramiko_logs_only_with_verbose(tmp_path):
    server = FakeServer("garbage")
    (tmp_path / "known_hosts").write_text("")
    try:
        mobiledeploy("devices", "add", "board", "--ssh", f"root@127.0.0.1:{server.port}", "--known-hosts",
                     tmp_path / "known_hosts", "--connect-timeout", "3", check=True)
        quiet = mobiledeploy("devices", "check", "board")
        loud = mobiledeploy("-v", "devices", "check", "board")
    finally:
        server.close()
    assert len(quiet.stderr.strip().splitlines()) == 1
    assert len(loud.stderr.strip().splitlines()) > 1  # paramiko's own account, for whoever asked


def test_missing_known_hosts_file(sshd, tmp_path, home):
    add_board(sshd, known=tmp_path / "nope" / "known_hosts")
    assert_one_line_error(mobiledeploy("devices", "check", "board"), "does not exist", "known_hosts")


# -- SSH: the board's side ----------------------------------------------------------------------------

@pytest.fixture
def tiny_workdir(tmp_path):
    """A 64 kB tmpfs as the board's workdir: a full disk, for real."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def test_full_board_disk_says_so(sshd, main_job, home, tiny_workdir):
    (tiny_workdir / "filler").write_bytes(b"x" * 40_000)
    add_board(sshd, "--workdir", tiny_workdir)
    proc = mobiledeploy("bench", main_job[0]["artifact"], "--device", "board", "--file", "model_fp32.tflite",
                        "--runs", "2")
    assert proc.returncode == 2
    line = assert_one_line_error(proc, "no room", str(tiny_workdir), "kB free")
    assert "size mismatch" not in line
    assert sorted(p.name for p in tiny_workdir.iterdir()) == ["filler"]  # nothing left on the board


@pytest.mark.parametrize("case", ["workdir-missing", "python-missing", "python-not-python"])
def test_board_setup_faults(sshd, tmp_path, home, case):
    extra = {"workdir-missing": ("--workdir", "/nonexistent/folder"),
             "python-missing": ("--python", "/usr/bin/no-such-python"),
             "python-not-python": ("--python", "/bin/false")}[case]
    add_board(sshd, *extra) if case == "workdir-missing" else add_board(sshd, python=extra[1])
    proc = mobiledeploy("devices", "check", "board")
    assert proc.returncode == 2
    assert_one_line_error(proc, "temporary folder" if case == "workdir-missing" else "cannot run")
    assert_clean(sshd, home)


@pytest.mark.parametrize("where", ["ssh", "local"])
@pytest.mark.parametrize("mask", ["100", "ffff0000", "4"])
def test_cpu_mask_beyond_the_cores(request, main_job, home, tmp_path, where, mask):
    if where == "ssh":
        server = request.getfixturevalue("sshd")
        add_board(server)
    cores = len(os.sched_getaffinity(0))
    if int(mask, 16) < (1 << cores):
        pytest.skip(f"this machine has {cores} cores: mask {mask} is valid here")
    proc = mobiledeploy("bench", main_job[0]["artifact"], "--device", "board" if where == "ssh" else "local",
                        "--file", "model_int8.tflite", "--runs", "2", "--cpu-mask", mask)
    assert proc.returncode == 2
    assert_one_line_error(proc, f"--cpu-mask {mask}", "does not have", "usable cores")
    if where == "ssh":
        assert_clean(server, home)


def test_runner_itself_refuses_a_mask_it_cannot_apply(tmp_path):
    """Past the host's check (an older host, or cores taken away meanwhile), the runner says it cleanly."""
    from mobiledeploy.bench.runner_io import RUNNER

    proc = subprocess.run([PY, str(RUNNER), str(tmp_path / "m.tflite"), "--threads", "1", "--runs", "2", "--warmup", "0",
                           "--cpu-mask", "f" * 40],
                          capture_output=True, text=True)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert "--cpu-mask" in proc.stdout and "usable" in proc.stdout


def start_bench(artifact, *extra):
    exe = Path(sys.executable).with_name("mobiledeploy")
    # the child gets the default SIGINT handler even when this test runs with SIGINT ignored
    return subprocess.Popen([str(exe), "bench", str(artifact), "--device", "board", "--file", "model_fp32.tflite",
                             "--runs", "100000", "--cooldown", "0.01", *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def runner_running(sshd):
    return [f for f in sshd.workdir.glob("mobiledeploy.*/pid")]


def test_board_that_stops_answering(sshd, main_job, home):
    add_board(sshd)
    bench = start_bench(main_job[0]["artifact"])
    try:
        assert wait_for(lambda: runner_running(sshd), 60), "the runner never started"
        sshd.freeze()
        frozen_at = time.time()
        _, stderr = bench.communicate(timeout=60)
        took = time.time() - frozen_at
    finally:
        if bench.poll() is None:
            bench.kill()
        sshd.thaw()
    assert bench.returncode == 2 and took < 3 + 0.5 + 10  # dead_timeout + keepalive + slack
    assert_one_line_error(subprocess.CompletedProcess([], 2, "", stderr), "stopped answering for 3 s")
    # the thawed board notices the closed connection: the runner stops; the next connection removes its folder
    assert wait_for(lambda: not board_processes(sshd.workdir), 30), board_processes(sshd.workdir)
    assert wait_for(lambda: not owners_alive(sshd.workdir), 30), owners_alive(sshd.workdir)
    mobiledeploy("devices", "check", "board", check=True)
    assert_clean(sshd, home)


def test_dropped_connection_then_stale_folder_removed(sshd, main_job, home):
    add_board(sshd)
    bench = start_bench(main_job[0]["artifact"])
    try:
        assert wait_for(lambda: runner_running(sshd), 60), "the runner never started"
        # kill the session's sshd processes (not the listener, not the runner): the connection drops
        keep = {sshd.proc.pid, *board_processes(sshd.workdir)}
        for pid in sshd.descendants() - keep:
            os.kill(pid, signal.SIGKILL)
        _, stderr = bench.communicate(timeout=60)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert_one_line_error(subprocess.CompletedProcess([], bench.returncode, "", stderr), "lost")
    assert wait_for(lambda: not board_processes(sshd.workdir), 30)  # the runner saw its stdin end
    assert wait_for(lambda: not owners_alive(sshd.workdir), 30), owners_alive(sshd.workdir)
    assert list(sshd.workdir.glob("mobiledeploy.*"))  # the folder the dropped run left
    mobiledeploy("devices", "check", "board", check=True)
    assert_clean(sshd, home)


def test_runner_killed_on_the_board(sshd, main_job, home):
    add_board(sshd)
    bench = start_bench(main_job[0]["artifact"])
    try:
        pid_file = wait_for(lambda: runner_running(sshd), 60)
        assert pid_file, "the runner never started"
        os.kill(int(pid_file[0].read_text()), signal.SIGKILL)  # as the kernel's OOM killer would
        _, stderr = bench.communicate(timeout=60)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 2
    assert_one_line_error(subprocess.CompletedProcess([], 2, "", stderr), "killed by a signal")
    assert_clean(sshd, home)


def test_board_without_sftp(tmp_path, home):
    server = Sshd(tmp_path, sftp=False).start()
    try:
        add_board(server)
        proc = mobiledeploy("devices", "check", "board")
        assert proc.returncode == 2
        assert_one_line_error(proc, "no sftp", "sshd_config")
        assert_clean(server, home)
    finally:
        server.stop()


def test_unreachable_address(tmp_path, home):
    (tmp_path / "known_hosts").write_text("")
    # TEST-NET-1 (RFC 5737): never routed; the connect fails at once or times out after connect_timeout
    mobiledeploy("devices", "add", "board", "--ssh", "root@192.0.2.1:22", "--known-hosts", tmp_path / "known_hosts",
                 "--connect-timeout", "2", check=True)
    start = time.time()
    proc = mobiledeploy("devices", "check", "board")
    assert time.time() - start < 30 and proc.returncode == 2
    assert_one_line_error(proc, "192.0.2.1")


def test_live_folders_of_other_runs_are_kept(sshd, home):
    add_board(sshd)
    live = sshd.workdir / "mobiledeploy.live01"
    live.mkdir()
    holder = subprocess.Popen(["sleep", "60"])
    (live / "owner").write_text(f"{holder.pid}\n")
    stale = sshd.workdir / "mobiledeploy.dead01"
    stale.mkdir()
    (stale / "owner").write_text("999999999\n")
    try:
        mobiledeploy("devices", "check", "board", check=True)
        assert live.exists() and not stale.exists()
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("delay", [0.0, 0.3, 0.6, 1.5], ids=lambda d: f"after{d}s")
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_interrupt_stops_the_remote_runner(sshd, main_job, home, sig, code, delay):
    """At several moments after the first runner (the probe) starts: during the probe, its clean-up, the
    upload and the measurement; a signal between two safe points must never be lost."""
    add_board(sshd)
    bench = start_bench(main_job[0]["artifact"])
    try:
        assert wait_for(lambda: runner_running(sshd), 60), "the runner never started"
        time.sleep(delay)
        bench.send_signal(sig)
        _, stderr = bench.communicate(timeout=30)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == code and "Traceback" not in stderr, stderr
    assert not [line for line in stderr.splitlines() if line.startswith("error:")]
    # stopped and removed by the interrupted run itself, not by a later connection (a command such as df
    # that was under way when the signal came may take a moment to end by itself)
    assert wait_for(lambda: not board_processes(sshd.workdir), 5), board_processes(sshd.workdir)
    assert_clean(sshd, home)


# -- adb ------------------------------------------------------------------------------------------------

@pytest.fixture
def phone(adb):
    """One fake phone on the private adb server."""
    return adb()


def fake_tool(tmp_path, body):
    tool = tmp_path / "benchmark_model"
    tool.write_text(f"#!{PY}\n" + body)
    return tool


HANG = "import os, time\nopen(os.path.join(os.path.dirname(__file__), 'started'), 'w').close()\ntime.sleep(120)\n"


def test_adb_benchmark_that_hangs_times_out(phone, main_job, tmp_path):
    tool = fake_tool(tmp_path, HANG)
    mobiledeploy("devices", "add", "pixel", "--adb", phone.serial, "--benchmark-binary", tool, "--timeout", "4",
                 check=True)
    start = time.time()
    proc = mobiledeploy("bench", main_job[0]["artifact"], "--device", "pixel", "--file", "model_int8.tflite")
    assert time.time() - start < 40
    assert proc.returncode == 2
    assert_one_line_error(proc, "did not finish", "4 s", "timeout")
    remote = phone.root / "data/local/tmp/mobiledeploy"
    assert wait_for(lambda: not (remote / "model_int8.tflite").exists(), 10)  # the model was removed
    assert wait_for(lambda: not board_processes(remote / "benchmark_model"), 10)  # and the tool stopped


def test_adb_device_vanishes_mid_run(phone, main_job, tmp_path):
    tool = fake_tool(tmp_path, HANG)
    mobiledeploy("devices", "add", "pixel", "--adb", phone.serial, "--benchmark-binary", tool, "--timeout", "60",
                 check=True)
    remote = phone.root / "data/local/tmp/mobiledeploy"
    bench = subprocess.Popen([str(Path(PY).with_name("mobiledeploy")), "bench", main_job[0]["artifact"], "--device",
                              "pixel", "--file", "model_int8.tflite"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: (remote / "started").exists(), 60)
        phone.drop()
        _, stderr = bench.communicate(timeout=60)
    finally:
        if bench.poll() is None:
            bench.kill()
        for pid in board_processes(remote / "benchmark_model"):
            os.kill(pid, signal.SIGKILL)
    assert_one_line_error(subprocess.CompletedProcess([], bench.returncode, "", stderr), "disconnected during the benchmark",
                          "nothing was stored")
    assert bench.returncode == 2


def test_adb_cpu_mask_beyond_the_cores(phone, main_job, tmp_path):
    tool = fake_tool(tmp_path, "raise SystemExit(1)\n")
    mobiledeploy("devices", "add", "pixel", "--adb", phone.serial, "--benchmark-binary", tool, check=True)
    mask = f"{1 << 40:x}"
    proc = mobiledeploy("bench", main_job[0]["artifact"], "--device", "pixel", "--cpu-mask", mask)
    assert_one_line_error(proc, f"--cpu-mask {mask}", "does not have")
    assert proc.returncode == 2


def test_adb_without_benchmark_binary(phone, main_job):
    mobiledeploy("devices", "add", "pixel", "--adb", phone.serial, check=True)
    proc = mobiledeploy("bench", main_job[0]["artifact"], "--device", "pixel", "--file", "model_int8.tflite")
    assert_one_line_error(proc, "no benchmark_model binary", "--benchmark-binary")
    assert proc.returncode == 2


# -- fuzzing: devices.toml and known_hosts loading never raise anything but MobiledeployError --------------

def _fuzz_strategies():
    from hypothesis import strategies as st

    from mobiledeploy.bench.devices import FIELDS

    names = sorted({f for fields in FIELDS.values() for f in fields} | {"kind"})
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                        st.text(max_size=30), st.sampled_from(["ssh", "adb", "local", "/tmp", "22", ""]))
    leaf = scalars.filter(lambda v: v is not None)
    values = leaf | st.lists(leaf, max_size=3) | st.dictionaries(st.text(max_size=8), leaf, max_size=2)
    entry = st.dictionaries(st.sampled_from(names) | st.text(max_size=10), values, max_size=8)
    device_names = st.sampled_from(["b", "rpi4", "local", "a b", "x" * 70, "é"]) | st.text(max_size=12)
    doc = st.one_of(
        st.fixed_dictionaries({"devices": st.dictionaries(device_names, entry | values, max_size=3)}),
        st.dictionaries(st.text(max_size=10), values, max_size=3))
    return st, doc


def test_fuzz_devices_toml_loading():
    import tomlkit
    from hypothesis import HealthCheck, given, settings

    from mobiledeploy.bench import devices
    from mobiledeploy.errors import MobiledeployError

    st, doc = _fuzz_strategies()

    def check(data: bytes):
        try:
            loaded = devices.parse(data, "devices.toml")
        except MobiledeployError as exc:
            assert "\n" not in str(exc) and "devices.toml" in str(exc)
            return
        for name, entry in loaded.items():  # what loads is usable as it is
            assert devices.check_entry(name, entry) is entry
            if entry["kind"] == "ssh":
                assert isinstance(entry["host"], str) and type(entry.get("port", 22)) is int

    @settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
    @given(doc)
    def structured(d):
        try:
            data = tomlkit.dumps(d).encode()
        except (TypeError, ValueError, tomlkit.exceptions.TOMLKitError):
            return  # not representable in TOML (e.g. mixed nesting tomlkit refuses)
        check(data)

    @settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
    def raw(data):
        check(data)

    structured()
    raw()


def test_fuzz_known_hosts_parsing():
    import paramiko
    from hypothesis import HealthCheck, given, settings, strategies as st

    from mobiledeploy.bench import known_hosts

    real = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    pieces = st.sampled_from(["@revoked", "@cert-authority", "@other", "|1|abc|def", "[h]:22", "h,1.2.3.4",
                              "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", real, "#", "*", "!x", "\t", " "])
    line = st.lists(pieces | st.text(max_size=12), max_size=5).map(" ".join)

    @settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(line, max_size=6).map("\n".join))
    def fuzz(text):
        trust = known_hosts.Trust(paramiko.HostKeys())
        known_hosts.parse(text, "known_hosts", trust)
        for host in ("[127.0.0.1]:2222", "h", "1.2.3.4"):  # matching (hashed names too) must not fail
            trust.keys.lookup(host)

    fuzz()


# -- results.jsonl: lines that are not records are skipped with one warning; nothing else is lost ---------

def _record(i):
    return {"device": "local", "artifact": "/m/a", "artifact_name": "mobilenet_v1_0.50_128", "file": f"f{i}.tflite",
            "format": "tflite", "precision": "int8", "settings": {"threads": 1}, "median_ms": 1.0 + i,
            "p90_ms": 2.0, "std_ms": 0.1, "cv": 0.01, "runtime": "x", "runtime_version": "1", "xnnpack": True,
            "time": "2026-01-01T00:00:00+00:00"}


BAD_LINES = {
    "garbage": b"this is not json",
    "json-list": b"[1, 2, 3]",
    "json-number": b"42",
    "missing-fields": b'{"device": "local", "file": "x"}',
    "wrong-types": b'{"device": 1, "artifact": [], "artifact_name": "n", "file": "f", "format": "tflite", '
                   b'"time": "t", "median_ms": "fast", "std_ms": 0, "cv": 0, "settings": {"threads": 1}}',
    "not-utf8": b'{"device": "\xff\xfe"}',
    "half-a-record": b'{"device": "local", "artifact": "/m/a", "artifact_na',
    "deep-nesting": b"[" * 100000 + b"]" * 100000,
    "negative-latency": json.dumps({**_record(9), "median_ms": -1.0}).encode(),
    "nan-latency": json.dumps({**_record(9), "median_ms": float("nan")}).encode(),
    "infinite-p90": json.dumps({**_record(9), "p90_ms": float("inf")}).encode(),
    "negative-threads": json.dumps({**_record(9), "settings": {"threads": -4}}).encode(),
    "path-as-file": json.dumps({**_record(9), "file": "../../../etc/passwd"}).encode(),
    "alpha-not-a-number": json.dumps({**_record(9), "model": {"alpha": "wide", "resolution": 128}}).encode(),
    "huge-resolution": json.dumps({**_record(9), "model": {"alpha": 0.5, "resolution": 10 ** 400}}).encode(),
    "bad-latency-list": json.dumps({**_record(9), "latencies_ms": [-1, -2, -3]}).encode(),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_history_skips_lines_that_are_not_records(case, tmp_path):
    """An old results.jsonl (imported on first use) or a teammate's file given to `results import`: the lines
    that are not records are skipped with one warning, the others are stored and shown."""
    import json

    env = {"MOBILEDEPLOY_HOME": str(tmp_path / "home")}
    good = [json.dumps(_record(i)).encode() for i in range(3)]
    text = b"\n".join([good[0], BAD_LINES[case], good[1], BAD_LINES[case], good[2]]) + b"\n"
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "results.jsonl").write_bytes(text)
    proc = mobiledeploy("bench", "--history", "--json", env=env, check=True)
    rows = json.loads(proc.stdout)["results"]
    assert [r["file"] for r in rows] == ["f0.tflite", "f1.tflite", "f2.tflite"]
    warnings = [line for line in proc.stderr.splitlines() if "not bench records" in line]
    assert len(warnings) == 1 and "skipped 2 lines" in warnings[0] and "Traceback" not in proc.stderr
    table = mobiledeploy("bench", "--history", env=env, check=True)
    assert "f2.tflite" in table.stdout and "skipped" not in table.stderr   # imported once: told once
    (tmp_path / "mate.jsonl").write_bytes(text.replace(b"f0.tflite", b"g0.tflite"))
    got = json.loads(mobiledeploy("results", "import", tmp_path / "mate.jsonl", "--json", env=env, check=True).stdout)
    assert (got["added"], got["known"], got["skipped"]) == (1, 2, 2)


def test_append_after_a_cut_line_stays_whole(tmp_path):
    """The JSON-lines file results are kept in while a database is out of reach (unsent.jsonl)."""
    import json

    from mobiledeploy.bench import record_lines
    from mobiledeploy.bench.record import BenchRecord

    path = tmp_path / "unsent.jsonl"
    path.write_bytes(json.dumps(_record(0)).encode() + b"\n" + b'{"device": "loc')  # a crash mid-line
    record_lines.append(path, BenchRecord.from_dict(_record(1)))
    lines = path.read_bytes().splitlines()
    assert len(lines) == 3 and json.loads(lines[-1])["file"] == "f1.tflite"
    assert [r.file for r in record_lines.read(path)] == ["f0.tflite", "f1.tflite"]


# -- a board whose runner answers nonsense: a device fault, one line, nothing stored ---------------------------

LIARS = {
    "negative latencies": '{"median_ms": -1, "latencies_ms": [-1, -2, -3]}',
    "too few samples": '{"latencies_ms": [1.0, 1.1]}',
    "nan": '{"latencies_ms": [NaN, 1.0, 1.0, 1.0, 1.0]}',
    "no latencies": '{"runtime": "x"}',
    "garbage": 'hello',
}


@pytest.mark.parametrize("case", sorted(LIARS))
def test_board_runner_that_lies_is_a_device_fault(sshd, tiny_artifact, home, tmp_path, case):
    """A real fake-runner script over the loopback sshd: it answers the probe truthfully, then lies."""
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\ncase \"$*\" in *--probe*) exec {PY} \"$@\";; esac\necho '{LIARS[case]}'\n")
    fake.chmod(0o755)
    add_board(sshd, python=str(fake))
    before = stored(home / "mobiledeploy")
    proc = mobiledeploy("bench", tiny_artifact, "--device", "board", "--file", "model_int8.tflite", "--runs", "5")
    assert proc.returncode == 2
    line = assert_one_line_error(proc)
    assert "board" in line or "127.0.0.1" in line  # the device is named
    assert "unexpected" not in proc.stderr
    assert stored(home / "mobiledeploy") == before   # nothing stored
    assert_clean(sshd, home)


# -- files read by a fixed name: FIFOs, links to /dev/zero, folders (never a hang, never read without end) ----

def _fixed_name_case(kind):
    def make(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            path.unlink() if not path.is_dir() else path.rmdir()
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "dev-zero":
            path.symlink_to("/dev/zero")
        else:
            path.mkdir()
    return make


@pytest.mark.parametrize("kind,fragment", [("fifo", "is a fifo"), ("dev-zero", "character device"),
                                           ("folder", "is a folder")])
@pytest.mark.parametrize("which", ["devices.toml", "results.db", "mobiledeploy.toml"])
def test_files_read_by_a_fixed_name(tmp_path, which, kind, fragment):
    home = tmp_path / "home"
    home.mkdir()
    path = (tmp_path / which) if which == "mobiledeploy.toml" else (home / which)
    _fixed_name_case(kind)(path)
    command = {"devices.toml": ("devices", "list"), "results.db": ("bench", "--history"),
               "mobiledeploy.toml": ("devices", "list")}[which]
    proc = mobiledeploy(*command, env={"MOBILEDEPLOY_HOME": str(home)}, cwd=tmp_path, timeout=30)
    assert proc.returncode == 2
    assert_one_line_error(proc, which, fragment)
