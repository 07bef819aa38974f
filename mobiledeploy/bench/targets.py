"""Where the runner runs: the local machine (a subprocess) or a board over SSH (paramiko)."""
from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
from pathlib import Path

from ..errors import MobiledeployError

RUNNER = Path(__file__).with_name("runner.py")
CONNECT_TIMEOUT = 10.0
RUN_TIMEOUT = 600.0


def runner_args(model: str, settings: dict) -> list[str]:
    """The runner's command-line arguments for these settings."""
    args = [model, "--threads", str(settings.get("threads", 1)), "--runs", str(settings.get("runs", 50)),
            "--warmup", str(settings.get("warmup", 10))]
    if settings.get("cooldown"):
        args += ["--cooldown", str(settings["cooldown"])]
    if settings.get("cpu_mask"):
        args += ["--cpu-mask", settings["cpu_mask"]]
    return args


def parse_runner_output(stdout: str, where: str) -> dict:
    """The runner's one JSON document; its {"error"} becomes a MobiledeployError."""
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    if not lines:
        raise MobiledeployError(f"the runner on {where} printed no result")
    doc = json.loads(lines[-1])
    if "error" in doc:
        raise MobiledeployError(f"{where}: {doc['error']}")
    return doc


class LocalTarget:
    """This machine: the same runner, in a subprocess, so local and remote measure alike."""

    name = "local"

    def __init__(self, python: str | None = None):
        self.python = python or sys.executable

    def _run(self, args: list[str], timeout: float = RUN_TIMEOUT) -> dict:
        proc = subprocess.run([self.python, str(RUNNER), *args], capture_output=True, text=True, timeout=timeout)
        return parse_runner_output(proc.stdout, "local")

    def probe(self) -> dict:
        return self._run(["--probe"], 60)

    def run(self, model: Path, settings: dict) -> dict:
        return self._run(runner_args(str(model), settings))

    def close(self):
        pass


class SSHTarget:
    """A Linux board over SSH: host keys checked unless insecure; a per-run temporary folder, removed after."""

    def __init__(self, name: str, entry: dict, insecure: bool = False):
        self.name, self.entry = name, entry
        self.where = f"{entry['user']}@{entry['host']}:{entry.get('port', 22)}"
        self.insecure = insecure or bool(entry.get("insecure"))
        self.python = entry.get("python", "python3")
        self.workdir = entry.get("workdir", "/tmp")
        self.client = self._connect()

    def _connect(self):
        import paramiko

        client = paramiko.SSHClient()
        known = self.entry.get("known_hosts")
        try:
            if known:
                client.load_host_keys(str(Path(known).expanduser()))
            else:
                client.load_system_host_keys()
        except OSError as exc:
            raise MobiledeployError(f"cannot read known_hosts {known}: {exc.strerror}") from None
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy() if self.insecure else paramiko.RejectPolicy())
        key = self.entry.get("key")
        host, port = self.entry["host"], int(self.entry.get("port", 22))
        try:
            client.connect(host, port=port, username=self.entry["user"],
                           key_filename=str(Path(key).expanduser()) if key else None,
                           look_for_keys=key is None, allow_agent=key is None, timeout=CONNECT_TIMEOUT,
                           banner_timeout=CONNECT_TIMEOUT, auth_timeout=CONNECT_TIMEOUT)
        except paramiko.BadHostKeyException:
            raise MobiledeployError(f"the host key of {self.where} does not match known_hosts (the board was "
                                    "reinstalled, or someone is in between): check it, then update known_hosts") from None
        except paramiko.AuthenticationException:
            raise MobiledeployError(f"authentication to {self.where} failed: check --key and that its public "
                                    "key is in the board's ~/.ssh/authorized_keys") from None
        except paramiko.SSHException as exc:
            if "not found in known_hosts" in str(exc):
                raise MobiledeployError(
                    f"the host key of {self.where} is unknown: add it (ssh-keyscan -p {port} {host} >> "
                    "~/.ssh/known_hosts, or the device's --known-hosts file) or pass --insecure") from None
            raise MobiledeployError(f"SSH to {self.where} failed: {exc}") from None
        except (OSError, socket.timeout) as exc:
            raise MobiledeployError(f"cannot reach {self.where}: {exc.strerror or exc}") from None
        return client

    def _exec(self, argv: list[str], timeout: float = RUN_TIMEOUT) -> tuple[int, str, str]:
        """Run an argument list remotely: every word quoted, so names cannot inject shell syntax."""
        import paramiko

        command = shlex.join(argv)
        try:
            _, out, err = self.client.exec_command(command, timeout=timeout)
            stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
            status = out.channel.recv_exit_status()
        except (paramiko.SSHException, EOFError, OSError, socket.timeout) as exc:
            raise MobiledeployError(f"connection to {self.where} lost during the run ({exc or type(exc).__name__}): "
                                    "nothing was stored") from None
        if status == -1:  # the channel closed without an exit status: the connection went away
            raise MobiledeployError(f"connection to {self.where} lost during the run: nothing was stored")
        return status, stdout, stderr

    def _tempdir(self) -> str:
        code, out, err = self._exec(["mktemp", "-d", f"{self.workdir.rstrip('/')}/mobiledeploy.XXXXXX"], 30)
        if code != 0 or not out.strip():
            raise MobiledeployError(f"cannot create a temporary folder under {self.workdir} on {self.where}: "
                                    f"{err.strip() or 'mktemp failed'} (set the device's workdir)")
        return out.strip()

    def _put(self, local: Path, remote: str) -> None:
        try:
            with self.client.open_sftp() as sftp:
                sftp.put(str(local), remote)
        except (OSError, EOFError) as exc:
            raise MobiledeployError(f"copying {local.name} to {self.where} failed: {exc}") from None

    def _with_runner(self, args_for) -> dict:
        tmp = self._tempdir()
        try:
            self._put(RUNNER, f"{tmp}/runner.py")
            argv = args_for(tmp)
            code, out, err = self._exec([self.python, f"{tmp}/runner.py", *argv])
            if code == 127 or (code != 0 and not out.strip()):
                raise MobiledeployError(f"{self.where}: cannot run {self.python}: "
                                        f"{(err.strip().splitlines() or ['exit ' + str(code)])[-1]}")
            return parse_runner_output(out, self.where)
        finally:
            try:
                self._exec(["rm", "-rf", tmp], 30)
            except MobiledeployError:
                pass

    def probe(self) -> dict:
        return self._with_runner(lambda tmp: ["--probe"])

    def run(self, model: Path, settings: dict) -> dict:
        def args(tmp):
            remote = f"{tmp}/{model.name}"
            self._put(model, remote)
            return runner_args(remote, settings)

        return self._with_runner(args)

    def close(self):
        self.client.close()


def open_target(name: str, entry: dict, insecure: bool = False):
    """A connected target for a device entry."""
    kind = entry.get("kind")
    if kind == "local":
        return LocalTarget(entry.get("python"))
    if kind == "ssh":
        return SSHTarget(name, entry, insecure)
    if kind == "adb":
        from .adb import AdbTarget

        return AdbTarget(name, entry)
    raise MobiledeployError(f"device {name!r} has unknown kind {kind!r} (local, ssh, adb)")
