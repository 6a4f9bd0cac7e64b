"""The yardstick for bench_live: a bare ``websockets`` server that forwards every message
published on one Redis channel to every connected client. No Django, no Channels, no scoping:
what a broadcast over Redis costs at the least, on the same machine in the same run.

Run as ``python benchmarks/live_bare_server.py <port> <redis url> <channel>``.
"""

from __future__ import annotations

import asyncio
import sys

import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection, broadcast, serve


async def main(port: int, redis_url: str, channel: str) -> None:
    clients: set[ServerConnection] = set()

    async def handler(socket: ServerConnection) -> None:
        clients.add(socket)
        try:
            await socket.wait_closed()
        finally:
            clients.discard(socket)

    redis = aioredis.from_url(redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe(channel)
    async with serve(handler, "127.0.0.1", port, backlog=1024):
        print("listening", flush=True)
        async for message in pubsub.listen():
            if message["type"] == "message":
                broadcast(clients, message["data"].decode())


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
