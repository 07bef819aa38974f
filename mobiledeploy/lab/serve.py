"""`lab scheduler` and `lab worker`: Dask's own Scheduler and Worker in this process, with the lab's TLS.

A worker first connects as a client, checks that the scheduler runs the same mobiledeploy version and record
format, and, holding the lab's claims lock (a Dask Lock), that no worker in the lab already serves one of its
device names; then it starts, advertising each device as a Dask resource of count 1. SIGTERM or Ctrl-C closes
it: its benches stop after their current runner.
"""
from __future__ import annotations

import asyncio
import signal

from ..errors import MobiledeployError
from . import hosts, security

CLAIMS_LOCK = "mobiledeploy-lab-claims"
CONNECT_TIMEOUT = 20


#: seconds without a heartbeat after which the scheduler drops a worker (Dask's default is 5 minutes): a host cut
#: from the network is noticed within one to two of these, and its devices wait for it (sweep --lab-rejoin)
WORKER_TTL = 30.0


def no_http():
    """Dask's HTTP endpoints (dashboard, health, metrics) have no TLS client check: serve no route, and the
    caller stops the server right after start, so the lab's only open port is its mutual-TLS one."""
    import dask

    quiet_dask()
    return dask.config.set({"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []})


def quiet_dask() -> None:
    """Dask's INFO lines (every connection) are not this command's output; its warnings and errors still show."""
    import logging

    for name in ("distributed", "distributed.scheduler", "distributed.worker", "distributed.core",
                 "distributed.nanny", "distributed.http.proxy", "distributed.comm"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _stop_on_signals(loop, stop: asyncio.Event) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (ValueError, RuntimeError, NotImplementedError):
            pass


def scheduler(listen: str, certs, on_ready=None) -> None:
    """Run the lab's scheduler until SIGTERM/Ctrl-C; `on_ready(address)` once it listens."""
    scheme, host, port = security.parse_address(listen, listen=True)
    sec = security.security(scheme, certs)
    hosts.set_current(hosts.me("scheduler", certs_name(certs)))
    asyncio.run(_scheduler(scheme, host, port, sec, on_ready))


async def _scheduler(scheme, host, port, sec, on_ready):
    from distributed import Scheduler

    stop = asyncio.Event()
    _stop_on_signals(asyncio.get_running_loop(), stop)
    try:
        with no_http():
            s = Scheduler(host=host or None, port=port, protocol=scheme, security=sec, dashboard=False,
                          dashboard_address="127.0.0.1:0", worker_ttl=WORKER_TTL)
            await s
        s.http_server.stop()
    except OSError as exc:
        raise MobiledeployError(f"cannot listen on {security.address(scheme, host, port)}: "
                                f"{exc.strerror or exc} (another scheduler there? choose --listen)") from None
    try:
        if on_ready:
            on_ready(s.address)
        done = asyncio.ensure_future(s.finished())
        waiter = asyncio.ensure_future(stop.wait())
        await asyncio.wait([done, waiter], return_when=asyncio.FIRST_COMPLETED)
    finally:
        await s.close()


def certs_name(certs) -> str | None:
    if not certs:
        return None
    from . import certs as certs_mod

    return certs_mod.party(certs)["name"]


def worker(address: str, certs, name: str | None = None, only: list[str] | None = None, local: bool = True,
           on_ready=None) -> None:
    """Join the lab at `address` serving this host's devices until SIGTERM/Ctrl-C (or the scheduler is gone)."""
    scheme, host, port = security.parse_address(address)
    sec = security.security(scheme, certs)
    me_host = name or certs_name(certs) or hosts.default_host()
    served = hosts.serve(me_host, only, local)
    if not served and not hosts.can_export():
        raise MobiledeployError("this worker would serve no device and cannot export (no TensorFlow): add a device "
                                "with mobiledeploy devices add, or drop --no-local")
    base = hosts.me("worker", me_host)
    facts = hosts.Facts(me_host, base.version, base.record_format, "worker", served, hosts.can_export(), base.machine)
    hosts.set_current(facts)
    # listen where the scheduler can reach this host: loopback for a scheduler on loopback
    listen_host = "127.0.0.1" if security.loopback(host) else None
    asyncio.run(_worker(security.address(scheme, host, port), sec, facts, on_ready, listen_host))


async def _worker(address, sec, facts: hosts.Facts, on_ready, listen_host):
    from distributed import Client, Lock, Worker

    from . import remote

    quiet_dask()
    stop = asyncio.Event()
    _stop_on_signals(asyncio.get_running_loop(), stop)
    try:
        client = await Client(address, security=sec, asynchronous=True, timeout=CONNECT_TIMEOUT,
                              name=f"{facts.host}-joining", direct_to_workers=False)
    except (OSError, TimeoutError) as exc:
        raise MobiledeployError(f"cannot reach the lab's scheduler at {address}: {exc} (is `mobiledeploy lab "
                                "scheduler` running there, and are these the lab's certificates?)") from None
    try:
        facts.check_same(hosts.Facts.from_dict(await client.run_on_scheduler(hosts.current)))
        lock = Lock(CLAIMS_LOCK, scheduler_rpc=client.scheduler, loop=client.loop)
        await lock.acquire(timeout=60)
        try:
            others = await client.run(hosts.current)
            for addr, d in others.items():
                other = hosts.Facts.from_dict(d)
                facts.check_same(other)
                if other.host == facts.host:
                    raise MobiledeployError(f"a worker named {facts.host} is already in the lab (at {addr}): give "
                                            "this one another --name")
                clash = sorted(set(other.devices) & set(facts.devices))
                if clash:
                    raise MobiledeployError(f"{', '.join(clash)} already served by worker {other.host} ({addr}): a "
                                            "device name must be unique in the lab; rename it in this host's "
                                            "devices.toml or serve it from one host only (--devices)")
            with no_http():
                slots = {hosts.resource(d): 1 for d in facts.devices}
                if facts.can_export:
                    slots[hosts.EXPORT_RESOURCE] = 1
                w = Worker(address, security=sec, name=facts.host, nthreads=len(slots) + 1,
                           resources=slots, dashboard=False,
                           dashboard_address="127.0.0.1:0", memory_limit=0, host=listen_host)
                await w
            w.http_server.stop()
        finally:
            await lock.release()
    finally:
        await client.close()
    try:
        if on_ready:
            on_ready(w.address, facts)
        done = asyncio.ensure_future(w.finished())
        waiter = asyncio.ensure_future(stop.wait())
        await asyncio.wait([done, waiter], return_when=asyncio.FIRST_COMPLETED)
    finally:
        remote.STOPPING.set()
        await w.close(timeout=30)
