"""authproject.cache.RedisCache keeps one redis-py client per connection pool
instead of building one per cache call (the revocation check's hot path)."""

from __future__ import annotations

from authproject.cache import RedisCache


def test_every_cache_call_reuses_one_client_per_pool():
    # Nothing connects until a command is sent: no Redis server is needed here.
    backend = RedisCache("redis://127.0.0.1:1/0", {})
    first = backend._cache.get_client("key")
    assert backend._cache.get_client("other") is first
    assert backend._cache.get_client("key", write=True) is first
    assert first.connection_pool is backend._cache._get_connection_pool(False)


def test_each_server_keeps_its_own_client():
    backend = RedisCache("redis://127.0.0.1:1/0,redis://127.0.0.1:2/0", {})
    writer = backend._cache.get_client(write=True)
    reader = backend._cache.get_client()
    assert writer is not reader
    assert writer.connection_pool.connection_kwargs["port"] == 1
    assert reader.connection_pool.connection_kwargs["port"] == 2
