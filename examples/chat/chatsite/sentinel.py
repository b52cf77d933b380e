"""redis-py connection classes for a channel layer behind Redis Sentinel that ask the Sentinels for
the primary on every connect.

redis-py (through 8.1 at least: redis-py #3874, open) asks the Sentinels only when a pool hands out
a connection. A command that finds its connection broken reconnects inside its own retries to the
address the connection had: after a failover, to the old primary. When that host is gone, every
retry waits its connect timeout there, and a channels_redis consumer waiting on the layer (its
receive loop, a group_send) hangs for the retry policy's attempts times the connect timeout
(minutes with the settings' 30 attempts) instead of moving to the new primary. These classes
look the primary up again before each socket connect (while no Sentinel names a healthy one, the
lookup fails and the retry policy waits and asks again)."""

from redis.asyncio.sentinel import SentinelManagedConnection, SentinelManagedSSLConnection


class _AskSentinelOnConnect:
    async def _connect(self):
        if self.connection_pool.is_master:
            self.host, self.port = await self.connection_pool.get_master_address()
        await super()._connect()


class SentinelConnection(_AskSentinelOnConnect, SentinelManagedConnection):
    """For redis:// URLs."""


class SentinelSSLConnection(_AskSentinelOnConnect, SentinelManagedSSLConnection):
    """For rediss:// URLs."""
