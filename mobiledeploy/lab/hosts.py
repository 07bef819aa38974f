"""What a lab process is and serves: its version facts, and a worker's devices as Dask resources.

A worker serves the devices of its own devices.toml. Their lab-wide names are their names there, except the
built-in `local`, which every host has: in the lab it is `<host>-local` (the host's own CPU), so two hosts'
CPUs never share a name. Each device is one Dask resource with a count of 1: one bench at a time, lab-wide.
"""
from __future__ import annotations

import importlib.util
import re
import socket
from dataclasses import dataclass, field

from ..errors import MobiledeployError

RESOURCE = "mobiledeploy-device:"    # a Dask resource name: this prefix + the device's lab name
LOCAL_SUFFIX = "-local"
TASK_PREFIX = "mobiledeploy-bench-"   # a device task's Dask key: this + device + "-" + the run's id
EXPORT_RESOURCE = "mobiledeploy-export"   # one export slot on each worker that has TensorFlow (lab/exports.py)
HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def resource(device: str) -> str:
    return RESOURCE + device


def device_of(resource_name: str) -> str | None:
    return resource_name[len(RESOURCE):] if str(resource_name).startswith(RESOURCE) else None


def default_host() -> str:
    """This machine's short host name, made usable as a device-name prefix."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname().split(".")[0])[:40].strip("-.")
    return name or "host"


def lab_name(host: str, local_name: str) -> str:
    """The lab-wide name of a device this host names `local_name`."""
    return f"{host}{LOCAL_SUFFIX}" if local_name == "local" else local_name


@dataclass(frozen=True)
class Facts:
    """One lab process: its host, mobiledeploy version and record format, and (a worker) what it serves."""

    host: str
    version: str
    record_format: int
    role: str
    devices: dict = field(default_factory=dict)   # lab name -> the name in the host's own devices.toml
    can_export: bool = False  # has TensorFlow: advertises EXPORT_RESOURCE, the sweep's exports may run there
    machine: str = ""        # the machine's own host name (a worker on the client's machine shares its CPU)

    def to_dict(self) -> dict:
        return {"host": self.host, "version": self.version, "record_format": self.record_format, "role": self.role,
                "devices": dict(self.devices), "can_export": self.can_export, "machine": self.machine}

    @classmethod
    def from_dict(cls, d) -> "Facts":
        """Another process's facts (untrusted: every field checked)."""
        if not isinstance(d, dict):
            raise MobiledeployError("a lab process answered without its facts: is it running mobiledeploy lab?")
        devices = d.get("devices") if isinstance(d.get("devices"), dict) else {}
        return cls(str(d.get("host"))[:64], str(d.get("version"))[:40],
                   d.get("record_format") if type(d.get("record_format")) is int else -1, str(d.get("role"))[:20],
                   {str(k)[:64]: str(v)[:64] for k, v in list(devices.items())[:1000]}, d.get("can_export") is True,
                   str(d.get("machine") or "")[:255])

    def same_as(self, other: "Facts") -> bool:
        return (self.version, self.record_format) == (other.version, other.record_format)

    def check_same(self, other: "Facts") -> None:
        """One line naming the other host and both versions when they differ."""
        if not self.same_as(other):
            raise MobiledeployError(
                f"version mismatch: {other.role} {other.host} runs mobiledeploy {other.version} (record format "
                f"{other.record_format}), this {self.role} {self.host} runs {self.version} (record format "
                f"{self.record_format}): install the same mobiledeploy on every host of the lab")


_current: list[Facts] = []    # this process's facts, set when it starts as a lab scheduler or worker


def can_export() -> bool:
    return importlib.util.find_spec("tensorflow") is not None


def serve(host: str, only: list[str] | None = None, local: bool = True) -> dict:
    """The devices this host serves (lab name -> own name): its devices.toml, or `only` of them."""
    from ..bench import devices as device_config

    if not HOST.match(host or ""):
        raise MobiledeployError(f"--name {str(host)[:40]!r} is not a host name: letters, digits, '.', '_', '-'")
    known = device_config.load()
    by_lab = {lab_name(host, n): n for n in known if local or n != "local"}
    if only is None:
        return by_lab
    served = {}
    for name in only:
        own = name if name in known else ("local" if name == lab_name(host, "local") else None)
        if own is None:
            raise MobiledeployError(f"--devices {name}: not in this host's devices.toml (configured: "
                                    f"{', '.join(sorted(by_lab))}); add it with mobiledeploy devices add")
        served[lab_name(host, own)] = own
    return served


def set_current(facts: Facts) -> None:
    _current[:] = [facts]


def current() -> dict:
    """This process's facts as a dict (what `client.run` and `run_on_scheduler` call on each process)."""
    from ..bench.record import RECORD_FORMAT
    from ..version import __version__

    if _current:
        return _current[0].to_dict()
    return Facts(default_host(), __version__, RECORD_FORMAT, "client", machine=socket.gethostname()).to_dict()


def me(role: str, host: str | None = None) -> Facts:
    from ..bench.record import RECORD_FORMAT
    from ..version import __version__

    return Facts(host or default_host(), __version__, RECORD_FORMAT, role, machine=socket.gethostname())
