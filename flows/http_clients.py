"""The worker's HTTP clients for deliveries: small httpx clients per channel, kept for the worker's life.

httpx's connection pool scans every connection for each idle one whenever a request starts or ends
(quadratic in its size): on the 2-core test machine one client of 200-300 connections spent 3.6-5.2
ms of CPU per request against a local receiver, clients of 8 connections 1.2 ms. A client per
delivery run also paid for its TLS context (~50 ms loading the CA bundle) and new connections each
time. So each channel gets enough clients of ``SHARD_CONNECTIONS`` for its ``per_channel`` requests
at once (flows/outbox_delivery.ChannelLimits bounds them), taken in turn, sharing one TLS context,
and one set serves every delivery run of a worker, with or without Prefect.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from collections import defaultdict

import httpx

#: Connections of one httpx client.
SHARD_CONNECTIONS = 8
#: Requests in flight to one channel at a time (per worker).
DEFAULT_PER_CHANNEL = 32


class ClientShards:
    """Per channel, ``per_channel / SHARD_CONNECTIONS`` clients, taken in turn."""

    def __init__(self, timeout_seconds: float, per_channel: int = DEFAULT_PER_CHANNEL) -> None:
        self.timeout_seconds = timeout_seconds
        self.shards = max(1, -(-per_channel // SHARD_CONNECTIONS))
        self._clients: dict[str, list[httpx.AsyncClient]] = {}
        self._turn: dict[str, int] = defaultdict(int)
        self._tls: ssl.SSLContext | None = None

    def __call__(self, channel: str) -> httpx.AsyncClient:
        clients = self._clients.get(channel)
        if clients is None:
            clients = self._clients[channel] = [self._client() for _ in range(self.shards)]
        self._turn[channel] += 1
        return clients[self._turn[channel] % len(clients)]

    def _client(self) -> httpx.AsyncClient:
        if self._tls is None:  # loading the CA bundle takes ~50 ms: once, not per client
            self._tls = httpx.create_ssl_context()
        limits = httpx.Limits(max_connections=SHARD_CONNECTIONS, max_keepalive_connections=SHARD_CONNECTIONS)
        return httpx.AsyncClient(timeout=self.timeout_seconds, limits=limits, verify=self._tls)

    async def aclose(self) -> None:
        for clients in self._clients.values():
            for client in clients:
                await client.aclose()
        self._clients.clear()


#: What sends: one client (tests), or a worker's clients by channel.
HttpClients = httpx.AsyncClient | ClientShards
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, ClientShards]] = (
    weakref.WeakKeyDictionary()
)


def shared_clients(timeout_seconds: float) -> ClientShards:
    """The running event loop's clients (one set per worker, shared by its delivery runs with or
    without Prefect). Closed by :func:`close_shared_clients`."""
    per_loop = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    clients = per_loop.get(timeout_seconds)
    if clients is None:
        clients = per_loop[timeout_seconds] = ClientShards(timeout_seconds)
    return clients


async def close_shared_clients() -> None:
    """Close the running loop's clients (the worker, on stop)."""
    for clients in _CLIENTS.pop(asyncio.get_running_loop(), {}).values():
        await clients.aclose()
