"""The Channels layer for a deployment with Redis: which of channels-redis' two layers, and how
many connections each process may open to Redis for it.

``core`` (RedisChannelLayer: per-channel sorted sets, a blocking pop per process) and ``pubsub``
(RedisPubSubChannelLayer: Redis PUBLISH/SUBSCRIBE) deliver the same messages; ``make bench``
(benchmarks/bench_live.py) measures both, commit to WebSocket client, and the faster is the
default (docs/live-updates.md gives the figures).

redis-py's asyncio pool allows 100 connections by default and raises "Too many connections"
beyond that: with 500 sockets connecting at once each ``group_add`` wants one, so the pool is
raised to ``pool_size`` (connections are opened only as they are needed).

Redis keeps its databases apart for keys but not for PUBLISH/SUBSCRIBE: two deployments (or two
test runs) on one server with different database numbers would hear each other's groups on the
pubsub layer. The layer's prefix therefore names the database (``asgi.db3``), so each database
number is its own namespace on both layers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

LAYER_BACKENDS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
DEFAULT_KIND = "pubsub"
DEFAULT_POOL_SIZE = 1000


def redis_channel_layers(url: str, *, kind: str, pool_size: int) -> dict[str, Any]:
    """The ``CHANNEL_LAYERS`` setting for ``url``; a clear error for an unknown ``kind``."""
    try:
        backend = LAYER_BACKENDS[kind]
    except KeyError:
        known = ", ".join(sorted(LAYER_BACKENDS))
        raise ValueError(f"CHANNEL_LAYER_KIND={kind!r}: expected one of {known}") from None
    if pool_size < 1:
        raise ValueError(f"REDIS_CHANNEL_POOL_SIZE={pool_size}: at least 1")
    host = {"address": url, "max_connections": pool_size}
    config = {"hosts": [host], "prefix": f"asgi.db{_database_of(url)}"}
    return {"default": {"BACKEND": backend, "CONFIG": config}}


def _database_of(url: str) -> int:
    """The Redis database a URL names (``?db=``, or a TCP URL's path; 0 when it names none)."""
    parts = urlsplit(url)
    query = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
    # A socket URL's path is the socket's; only a TCP URL's path is the database.
    path = "" if parts.scheme == "unix" else parts.path.strip("/")
    named = query.get("db") or path or "0"
    try:
        return int(named)
    except ValueError:
        raise ValueError(f"REDIS_URL={url!r}: the database must be a number") from None
