"""Django's Redis cache with one client object per connection pool.

Django's ``RedisCacheClient`` builds a new ``redis.Redis`` for every cache call, which costs
more than the call itself on loopback (about 0.3 ms, mostly its response-callback table). The
hot ingest path makes two or three cache calls per request (rate limit, definition stamp,
outbox slot), so the client is kept: ``redis.Redis`` is thread-safe over its pool.
"""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _ReusingClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(
                connection_pool=self._get_connection_pool(write)
            )
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient
