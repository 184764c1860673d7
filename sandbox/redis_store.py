"""``--store redis://HOST:PORT/DB``: the proxy's store in Redis, shared by every replica.

py-key-value-aio's RedisStore does the storing (``SET ... EX`` gives each entry the TTL
FastMCP asks for); this module only names the URL's faults, checks Redis answers before
anything starts, and bounds how long a request may wait for a Redis that went away.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from key_value.aio.errors import StoreConnectionError

if TYPE_CHECKING:
    from key_value.aio.stores.redis import RedisStore

# redis-py and py-key-value's RedisStore are imported by the functions that use them: only a
# redis:// store needs them, and they were a tenth of a file-store sandbox's start-up (issue 17).

REDIS_SCHEMES = ("redis", "rediss")
# A request waits at most about this long for Redis: connect and reply timeouts, and a few quick
# retries, so a Redis restart (well under a second with its data on disk) is ridden through
# and a Redis that is gone is answered in seconds, not after redis-py's default ~10 s backoff.
CONNECT_TIMEOUT_SECONDS = 2.0
REPLY_TIMEOUT_SECONDS = 5.0
RETRIES = 3
RETRY_BACKOFF = {"base": 0.1, "cap": 0.5}


def store_outage_errors() -> tuple[type[Exception], ...]:
    """What a lost Redis raises through the store: the request gets an OAuth or JSON-RPC error.

    redis-py's own errors only when it is loaded: before that, no Redis error can exist."""
    if "redis" not in sys.modules:
        return (StoreConnectionError,)
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (RedisConnectionError, RedisTimeoutError, StoreConnectionError)


class StoreUnavailableError(Exception):
    """Redis does not answer at start-up; the message is one line for the CLI."""


def check_redis_url(url: str) -> str:
    """The URL, if it is one a Redis client can use; a ValueError naming the fault otherwise."""
    parsed = urlsplit(url)
    if parsed.scheme not in REDIS_SCHEMES:
        raise ValueError(f"{url!r} is not a store: use file, memory or redis://HOST:PORT/DB")
    if not parsed.hostname:
        raise ValueError(f"{url!r} names no Redis host (redis://HOST:PORT/DB)")
    try:
        parsed.port  # noqa: B018 - parsing it raises on a bad port
    except ValueError:
        raise ValueError(f"{url!r} has a bad port (redis://HOST:PORT/DB)") from None
    database = parsed.path.lstrip("/")
    if database and not database.isdigit():
        raise ValueError(f"{url!r}: the database after the port must be a number (redis://HOST:PORT/DB)")
    return url


def redacted(url: str) -> str:
    """The URL as logs and errors may show it: without a password."""
    parsed = urlsplit(url)
    if parsed.password is None:
        return url
    return parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", ":***@")).geturl()


def ensure_reachable(url: str) -> None:
    """PING Redis once, synchronously, before the stack is built (no event loop runs yet)."""
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry as SyncRetry

    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=REPLY_TIMEOUT_SECONDS,
        retry=SyncRetry(ExponentialBackoff(**RETRY_BACKOFF), 0),
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        raise StoreUnavailableError(
            f"the store {redacted(url)} does not answer: {exc} (start Redis, or choose --store file)"
        ) from None
    finally:
        client.close()


def redis_store(url: str) -> RedisStore:
    """FastMCP's store in Redis, its client bounded in time (see the constants above)."""
    import redis.asyncio
    from key_value.aio.stores.redis import RedisStore
    from redis.backoff import ExponentialBackoff

    client = redis.asyncio.Redis.from_url(
        url,
        # RedisStore stores text: it needs decoded replies.
        decode_responses=True,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=REPLY_TIMEOUT_SECONDS,
        retry=redis.asyncio.retry.Retry(ExponentialBackoff(**RETRY_BACKOFF), RETRIES),
    )
    return RedisStore(client=client)
