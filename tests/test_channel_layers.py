"""The Redis channel layer setting (teleradiology/channel_layers.py): the layer is chosen by
name, a wrong name fails loudly, and the pool lets hundreds of sockets join groups at once."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from django.utils.module_loading import import_string

from teleradiology import channel_layers

REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.mark.parametrize(
    ("kind", "backend"),
    [
        ("core", "channels_redis.core.RedisChannelLayer"),
        ("pubsub", "channels_redis.pubsub.RedisPubSubChannelLayer"),
    ],
)
def test_the_layer_is_chosen_by_name_with_the_raised_pool(kind, backend):
    config = channel_layers.redis_channel_layers("redis://h:6379/3", kind=kind, pool_size=700)

    assert config["default"]["BACKEND"] == backend
    assert config["default"]["CONFIG"]["hosts"] == [
        {"address": "redis://h:6379/3", "max_connections": 700}
    ]


@pytest.mark.parametrize(
    ("url", "prefix"),
    [
        ("redis://h:6379/3", "asgi.db3"),
        ("redis://h:6379", "asgi.db0"),
        ("redis://h:6379/", "asgi.db0"),
        ("rediss://:secret@h:6380/12", "asgi.db12"),
        ("unix:///run/redis.sock?db=5", "asgi.db5"),
    ],
)
def test_each_redis_database_is_its_own_namespace_for_live_messages(url, prefix):
    """PUBLISH/SUBSCRIBE ignores the database number: without a prefix per database, a staging
    system on database 1 would hear the studies of production on database 0."""
    config = channel_layers.redis_channel_layers(url, kind="pubsub", pool_size=10)

    assert config["default"]["CONFIG"]["prefix"] == prefix


def test_a_redis_url_whose_database_is_not_a_number_is_refused():
    with pytest.raises(ValueError, match="the database must be a number"):
        channel_layers.redis_channel_layers("redis://h:6379/live", kind="pubsub", pool_size=10)


def test_an_unknown_layer_name_is_refused_with_the_names_that_exist():
    with pytest.raises(ValueError, match=r"CHANNEL_LAYER_KIND='redis'.*core, pubsub"):
        channel_layers.redis_channel_layers("redis://h", kind="redis", pool_size=10)


def test_a_pool_of_no_connections_is_refused():
    with pytest.raises(ValueError, match="REDIS_CHANNEL_POOL_SIZE=0"):
        channel_layers.redis_channel_layers("redis://h", kind="core", pool_size=0)


def _join_at_once(pool_size: int, sockets: int) -> list[BaseException]:
    """``sockets`` consumers joining a group at the same moment, as when a server restarts and
    every page reconnects; the errors they met."""
    config = channel_layers.redis_channel_layers(REDIS_URL, kind="core", pool_size=pool_size)
    backend = import_string(config["default"]["BACKEND"])
    layer = backend(**config["default"]["CONFIG"])
    group = f"test.burst.{uuid.uuid4().hex}"

    async def burst() -> list[BaseException]:
        names = [await layer.new_channel() for _ in range(sockets)]
        results = await asyncio.gather(
            *(layer.group_add(group, name) for name in names), return_exceptions=True
        )
        for name in names:
            await layer.group_discard(group, name)
        await layer.close_pools()
        return [r for r in results if isinstance(r, BaseException)]

    return asyncio.run(burst())


@pytest.mark.skipif(not REDIS_URL, reason="needs a Redis server (REDIS_URL)")
def test_five_hundred_sockets_join_their_groups_at_once_on_the_default_pool():
    assert _join_at_once(channel_layers.DEFAULT_POOL_SIZE, 500) == []


@pytest.mark.skipif(not REDIS_URL, reason="needs a Redis server (REDIS_URL)")
def test_redis_pys_default_pool_of_one_hundred_would_refuse_such_a_burst():
    """Why the pool is raised: with redis-py's default, joins beyond 100 at once fail."""
    errors = _join_at_once(100, 500)

    assert errors
    assert "Too many connections" in str(errors[0])
