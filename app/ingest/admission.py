"""Admission control: how many write requests, and how many body bytes, the receiver holds
at once.

Without it an overload is paid in memory: every connection gets a thread, reads its body
and parses it while the writer catches up, so clients sending faster than the disk and CPU
can store grow the process without bound and every answer gets slower. With it, a request
beyond the limits is answered 503 with Retry-After at once, before its body is parsed; the
reporter waits and re-posts, and re-posting an id replaces, so nothing is lost or doubled.
"""

from __future__ import annotations

import threading

# Enough to keep the writer's group commits full (it takes up to 200 reports per
# transaction) while parsing stays a few dozen reports deep on a small machine.
MAX_WRITES_IN_FLIGHT = 32
# Raw body bytes held at once; a parsed report takes several times its JSON size.
MAX_BYTES_IN_FLIGHT = 64 * 1024 * 1024


class Admission:
    """A counting gate on requests and bytes; `try_enter` never blocks."""

    def __init__(
        self, max_requests: int = MAX_WRITES_IN_FLIGHT, max_bytes: int = MAX_BYTES_IN_FLIGHT
    ) -> None:
        if max_requests < 1 or max_bytes < 1:
            raise ValueError("admission limits must be positive")
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._requests = 0
        self._bytes = 0
        self.refused = 0  # since start, for logs and tests

    def try_enter(self, size: int) -> bool:
        """Admit a request with a body of `size` bytes, or refuse it (False)."""
        with self._lock:
            if self._requests >= self.max_requests or self._bytes + size > self.max_bytes:
                self.refused += 1
                return False
            self._requests += 1
            self._bytes += size
            return True

    def leave(self, size: int) -> None:
        with self._lock:
            self._requests -= 1
            self._bytes -= size

    @property
    def in_flight(self) -> tuple[int, int]:
        """(requests, bytes) admitted and not yet answered."""
        with self._lock:
            return self._requests, self._bytes
