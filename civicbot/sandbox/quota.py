"""Per-token rate-limit buckets, as GitHub keeps them (core, search and graphql, reset windows)."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

# graphql counts points, not requests (civicbot/sandbox/graphql.py); GitHub refuses it anonymously.
WINDOWS = {"core": 3600, "search": 60, "graphql": 3600}
UNAUTHENTICATED_LIMITS = {"core": 60, "search": 10, "graphql": 0}
DEFAULT_LIMITS = {"core": 5000, "search": 30, "graphql": 5000}


def user_id(login: str) -> int:
    """The numeric user id rate-limit messages show for a login."""
    return int(hashlib.sha1(login.encode()).hexdigest()[:7], 16)


@dataclass
class Bucket:
    limit: int
    window: int
    used: int = 0
    reset: int = 0  # epoch seconds

    def refresh(self, now: float) -> None:
        if now >= self.reset:
            self.used = 0
            self.reset = int(now) + self.window

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self, resource: str) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit), "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset), "x-ratelimit-used": str(self.used),
            "x-ratelimit-resource": resource,
        }


class Quota:
    """Buckets keyed by identity (a token's login, or the client address when anonymous)."""

    def __init__(self, clock=time.time):
        self._clock = clock
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._lock = threading.Lock()

    def bucket(self, identity: str, resource: str, limit: int) -> Bucket:
        with self._lock:
            key = (identity, resource)
            if key not in self._buckets:
                self._buckets[key] = Bucket(limit=limit, window=WINDOWS[resource])
            bucket = self._buckets[key]
            bucket.refresh(self._clock())
            return bucket

    def spend(self, bucket: Bucket, amount: int = 1) -> None:
        with self._lock:
            bucket.used += amount

    def set(self, identity: str, resource: str, limit: int, *, remaining: int | None = None,
            reset_in: int | None = None) -> Bucket:
        """Test hook: put a bucket in a given state (e.g. exhausted, resetting in an hour)."""
        bucket = self.bucket(identity, resource, limit)
        with self._lock:
            if remaining is not None:
                bucket.used = max(0, bucket.limit - remaining)
            if reset_in is not None:
                bucket.reset = int(self._clock()) + reset_in
            return bucket
