"""The device side of adb, for tests: speaks the adb wire protocol to the real adb server.

What it implements (system/core/adb/protocol.txt and SYNC.TXT): the CNXN handshake (or AUTH, to play an
unauthorized phone, or silence, to play an offline one), streams (OPEN/OKAY/WRTE/CLSE with one
outstanding WRTE per stream), the legacy `shell:` service (no shell_v2 feature: like older daemons, no
exit status reaches the client), and the sync service's STAT, SEND/DATA/DONE and QUIT. Device paths
under /data/local/tmp map into a temporary root; commands run there with /bin/sh.
"""
from __future__ import annotations

import contextlib
import os
import queue
import shutil
import socket
import struct
import subprocess
import threading
from pathlib import Path

CNXN, OPEN, OKAY, CLSE, WRTE, AUTH = (int.from_bytes(c, "little") for c in
                                      (b"CNXN", b"OPEN", b"OKAY", b"CLSE", b"WRTE", b"AUTH"))
VERSION = 0x01000001
MAXDATA = 256 * 1024
DEVICE_PREFIX = "/data/local/tmp"
PROPS = {"ro.product.model": "Mobiledeploy Test Device", "ro.build.version.release": "14",
         "ro.product.name": "mdtest"}


def pack(cmd: int, arg0: int, arg1: int, data: bytes = b"") -> bytes:
    return struct.pack("<6I", cmd, arg0, arg1, len(data), sum(data) & 0xFFFFFFFF, cmd ^ 0xFFFFFFFF) + data


class Stream:
    """One open stream: a writer thread sends WRTEs one at a time, each after the host's OKAY."""

    def __init__(self, conn, local_id, remote_id):
        self.conn, self.local_id, self.remote_id = conn, local_id, remote_id
        self.acks = queue.Queue()
        self.out = queue.Queue()
        self.buffer = b""
        self.upload = None
        threading.Thread(target=self._writer, daemon=True).start()

    def _writer(self):
        try:
            while True:
                item = self.out.get()
                if item is None:
                    self.conn.send(pack(CLSE, self.local_id, self.remote_id))
                    return
                for i in range(0, len(item), 4096):
                    self.conn.send(pack(WRTE, self.local_id, self.remote_id, item[i:i + 4096]))
                    if self.acks.get(timeout=60) is None:
                        return
        except OSError:  # the connection was cut (FakeDevice.drop): the phone is gone
            return

    def write(self, data: bytes):
        self.out.put(data)

    def close(self):
        self.out.put(None)


class Connection(threading.Thread):
    def __init__(self, device, sock):
        super().__init__(daemon=True)
        self.device, self.sock = device, sock
        self.lock = threading.Lock()
        self.streams: dict[int, Stream] = {}
        self.next_id = 1

    def send(self, data: bytes):
        with self.lock:
            self.sock.sendall(data)

    def _read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def run(self):
        try:
            while True:
                cmd, arg0, arg1, length, _, _ = struct.unpack("<6I", self._read(24))
                self.handle(cmd, arg0, arg1, self._read(length) if length else b"")
        except (ConnectionError, OSError):
            pass
        finally:
            for stream in self.streams.values():
                stream.acks.put(None)

    def handle(self, cmd, arg0, arg1, data):
        mode = self.device.mode
        if cmd == CNXN:
            if mode == "device":
                banner = "device::" + "".join(f"{k}={v};" for k, v in PROPS.items()) + "features="
                self.send(pack(CNXN, VERSION, MAXDATA, banner.encode()))
            elif mode == "unauthorized":
                self.send(pack(AUTH, 1, 0, os.urandom(20)))  # a token the host can never get accepted
            return  # offline: never answer
        if cmd == AUTH:
            if arg0 == 2:  # a signature: refuse it with a fresh token
                self.send(pack(AUTH, 1, 0, os.urandom(20)))
            return  # arg0 == 3: the host offers its public key and waits for a user who never comes
        if cmd == OPEN:
            local = self.next_id
            self.next_id += 1
            stream = Stream(self, local, arg0)
            self.streams[local] = stream
            self.send(pack(OKAY, local, arg0))
            service = data.rstrip(b"\0").decode()
            if service.startswith("shell:"):
                threading.Thread(target=self._shell, args=(stream, service[6:]), daemon=True).start()
            elif service != "sync:":
                stream.write(f"unsupported service {service}".encode())
                stream.close()
            return
        stream = self.streams.get(arg1)
        if stream is None:
            return
        if cmd == OKAY:
            stream.acks.put(True)
        elif cmd == WRTE:
            self.send(pack(OKAY, arg1, arg0))
            stream.buffer += data
            self._sync(stream)
        elif cmd == CLSE:
            stream.acks.put(None)
            self.streams.pop(arg1, None)

    def _shell(self, stream, command):
        command = command.replace(DEVICE_PREFIX, str(self.device.root / DEVICE_PREFIX.lstrip("/")))
        env = {**os.environ, "PATH": f"{self.device.root / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        proc = subprocess.run(["/bin/sh", "-c", command], cwd=self.device.root, env=env, capture_output=True)
        self.device.commands.append(command)
        stream.write(proc.stdout + proc.stderr)
        stream.close()

    def _sync(self, stream):
        while True:
            buf = stream.buffer
            if stream.upload is not None:
                if len(buf) < 8:
                    return
                tag, n = buf[:4], struct.unpack("<I", buf[4:8])[0]
                if tag == b"DATA":
                    if len(buf) < 8 + n:
                        return
                    stream.upload[1].write(buf[8:8 + n])
                    stream.buffer = buf[8 + n:]
                    continue
                if tag == b"DONE":
                    path, f, mode = stream.upload
                    f.close()
                    os.chmod(path, mode & 0o7777)
                    stream.upload = None
                    stream.buffer = buf[8:]
                    stream.write(b"OKAY" + struct.pack("<I", 0))
                    continue
                return
            if len(buf) < 8:
                return
            tag, n = buf[:4], struct.unpack("<I", buf[4:8])[0]
            if tag == b"QUIT":
                stream.close()
                return
            if len(buf) < 8 + n:
                return
            arg, stream.buffer = buf[8:8 + n].decode(), buf[8 + n:]
            if tag == b"STAT":
                path = self.device.path(arg)
                if path.exists():
                    st = path.stat()
                    reply = struct.pack("<III", st.st_mode, st.st_size, int(st.st_mtime))
                else:
                    reply = struct.pack("<III", 0, 0, 0)
                stream.write(b"STAT" + reply)
            elif tag == b"SEND":
                remote, _, mode = arg.rpartition(",")
                path = self.device.path(remote)
                path.parent.mkdir(parents=True, exist_ok=True)
                stream.upload = (path, open(path, "wb"), int(mode))
            else:
                message = f"unsupported sync request {tag!r}".encode()
                stream.write(b"FAIL" + struct.pack("<I", len(message)) + message)


class FakeDevice:
    """A listening 'phone': serial 127.0.0.1:PORT, files under root/data/local/tmp."""

    def __init__(self, root: Path, mode: str = "device"):
        self.root, self.mode = root, mode
        self.commands: list[str] = []
        self.connections: list[Connection] = []
        (root / DEVICE_PREFIX.lstrip("/")).mkdir(parents=True, exist_ok=True)
        bin_dir = root / "bin"
        bin_dir.mkdir(exist_ok=True)
        props = "\n".join(f'  {k}) echo "{v}" ;;' for k, v in PROPS.items())
        (bin_dir / "getprop").write_text(f'#!/bin/sh\ncase "$1" in\n{props}\n  *) echo "" ;;\nesac\n')
        (bin_dir / "getprop").chmod(0o755)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.serial = f"127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def path(self, device_path: str) -> Path:
        if not device_path.startswith(DEVICE_PREFIX):
            raise PermissionError(f"outside the test device's root: {device_path}")
        return self.root / device_path.lstrip("/")

    def _accept(self):
        while True:
            try:
                sock, _ = self.server.accept()
            except OSError:
                return
            conn = Connection(self, sock)
            self.connections.append(conn)
            conn.start()

    def drop(self):
        """Vanish, as an unplugged phone does: stop listening and cut every connection."""
        self.server.close()
        for conn in self.connections:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.sock.close()

    def close(self):
        self.server.close()


@contextlib.contextmanager
def private_server(tmp_path: Path, monkeypatch):
    """A private adb server (its own port and keys) for one test; yields connect(mode) -> FakeDevice.

    Skips the test when Debian's adb client is missing. The server is killed and every device closed
    when the block ends.
    """
    import pytest

    from sshd import free_port

    if not shutil.which("adb"):
        pytest.skip("needs Debian's adb client (make install installs it as root)")
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(free_port()))
    monkeypatch.setenv("ANDROID_USER_HOME", str(tmp_path / "android-home"))
    monkeypatch.setenv("ANDROID_ADB_LOG_PATH", str(tmp_path / "adb.log"))   # not /tmp/adb.0.log
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)

    def run(*args):
        return subprocess.run(["adb", *args], capture_output=True, text=True, timeout=60)

    run("start-server")
    devices = []

    def connect(mode: str = "device") -> FakeDevice:
        dev = FakeDevice(tmp_path / f"device{len(devices)}", mode)
        devices.append(dev)
        run("connect", dev.serial)
        return dev

    try:
        yield connect
    finally:
        run("kill-server")
        for dev in devices:
            dev.close()
