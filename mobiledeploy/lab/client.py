"""A connection to a lab from the client's side: its workers, their devices, and the version check.

Clients talk only to the scheduler (never directly to a worker), so a lab's workers need not be reachable
from a laptop: only the scheduler's port.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import MobiledeployError
from . import hosts, security

CONNECT_TIMEOUT = 20
REJOIN = 60.0                      # seconds a sweep's device whose worker left waits for it to come back
EXPORTS = ("auto", "lab", "here")   # where a lab sweep exports: its workers with TensorFlow, this machine, or either


@dataclass(frozen=True)
class Member:
    """One worker of the lab: its Dask address and its facts."""

    address: str
    facts: hosts.Facts


class Lab:
    """An open connection to a lab (a Dask Client with the lab's TLS); use as a context manager."""

    def __init__(self, address: str, certs=None, exports: str = "auto", rejoin: float = REJOIN):
        if exports not in EXPORTS:
            raise MobiledeployError(f"exports {str(exports)[:20]!r}: choose one of {', '.join(EXPORTS)}")
        self.exports = exports   # where a sweep's exports run (lab/sweep.py)
        self.rejoin = float(rejoin)   # seconds a device whose worker left waits for one to serve it again
        scheme, host, port = security.parse_address(address)
        self.address = security.address(scheme, host, port)
        self.security = security.security(scheme, certs)
        self.client = None
        self.me = hosts.me("client")

    def __enter__(self) -> "Lab":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> "Lab":
        from distributed import Client

        try:
            self.client = Client(self.address, security=self.security, timeout=CONNECT_TIMEOUT,
                                 direct_to_workers=False, set_as_default=False, name="mobiledeploy-client")
        except (OSError, TimeoutError) as exc:
            raise MobiledeployError(f"cannot reach the lab's scheduler at {self.address}: {_short(exc)} (is "
                                    "`mobiledeploy lab scheduler` running there, and are these this lab's "
                                    "certificates?)") from None
        try:
            self.me.check_same(hosts.Facts.from_dict(self.client.run_on_scheduler(hosts.current)))
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.close(timeout=10)
            except Exception:  # noqa: BLE001 - closing a connection to a scheduler that is gone
                pass
            self.client = None

    def members(self) -> list[Member]:
        """Every worker with its facts; a worker on another version is one line naming it."""
        try:
            answers = self.client.run(hosts.current, on_error="return")
        except (OSError, TimeoutError) as exc:
            raise MobiledeployError(f"lost the lab's scheduler at {self.address}: {_short(exc)}") from None
        out = []
        for addr, d in sorted(answers.items()):
            if isinstance(d, BaseException):
                continue   # a worker leaving while asked
            facts = hosts.Facts.from_dict(d)
            self.me.check_same(facts)
            out.append(Member(addr, facts))
        return out

    def devices(self) -> dict[str, Member]:
        """Lab device name -> the worker that serves it."""
        return {d: m for m in self.members() for d in m.facts.devices}

    def check_devices(self, names: list[str]) -> dict[str, Member]:
        """The members serving these devices; a device no worker serves is one line listing the lab's devices."""
        served = self.devices()
        for name in names:
            if name not in served:
                from ..choices import did_you_mean

                listed = ", ".join(sorted(served)) or "none: no worker has joined"
                raise MobiledeployError(f"no worker of the lab at {self.address} serves device {name!r}"
                                        f"{did_you_mean(name, served)} (the lab's devices: {listed})")
        return {n: served[n] for n in names}

    def device_names(self, text: str) -> list[str]:
        """A --device list of the lab's devices (each served by a worker now), duplicates dropped."""
        from ..choices import items

        names = list(dict.fromkeys(items(text, "--device", "desk1-local,rpi4")))
        self._serving = self.check_devices(names)
        return names

    def runner(self, names: list[str]):
        """The sweep's run on this lab (sweep/plan.py's `runner`), for devices checked by device_names()."""
        from . import sweep

        serving = getattr(self, "_serving", None) or self.check_devices(names)
        return sweep.runner(self, {n: serving[n] for n in names})

    def busy(self) -> dict[str, str]:
        """Device -> the key of the bench running or queued on it now."""
        out = {}
        for keys in self.client.processing().values():
            for key in keys:
                text = str(key)
                if text.startswith(hosts.TASK_PREFIX):
                    out[text[len(hosts.TASK_PREFIX):].rsplit("-", 1)[0]] = text
        return out

    def exporting(self) -> set[str]:
        """The addresses of the workers exporting now."""
        from .exports import EXPORT_PREFIX

        return {addr for addr, keys in self.client.processing().items()
                if any(str(k).startswith(EXPORT_PREFIX) for k in keys)}

    def status(self) -> dict:
        """The scheduler, every worker and its devices, busy or idle."""
        busy, exporting = self.busy(), self.exporting()
        sched = hosts.Facts.from_dict(self.client.run_on_scheduler(hosts.current))
        return {"scheduler": {"address": self.address, "host": sched.host, "version": sched.version,
                              "record_format": sched.record_format},
                "workers": [{"address": m.address, "host": m.facts.host, "version": m.facts.version,
                             "can_export": m.facts.can_export,
                             "export": ("busy" if m.address in exporting else "idle") if m.facts.can_export else None,
                             "devices": [{"name": d, "own_name": own, "state": "busy" if d in busy else "idle"}
                                         for d, own in sorted(m.facts.devices.items())]}
                            for m in self.members()]}


def _short(exc) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
