"""The device lab: one sweep over devices attached to many hosts, on Dask distributed (mutual TLS, worker
resources). Certificates, the scheduler and worker processes, artifacts sent to workers, remote bench
sessions; nothing of its own that Dask already does (scheduling, queueing, RPC)."""
