"""What the provider clients share: one error type, retry rules and a rate limiter.

Providers answer overload with 429 (+ `retry-after`) and outages with 5xx; both
are retried here a few times and then handed back to the outbox, which retries
later with backoff. A 4xx other than 429 is permanent: retrying it cannot help,
so it is raised at once with the provider's own reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx


@dataclass
class ProviderError(Exception):
    provider: str
    status: int | None
    name: str
    message: str
    retryable: bool
    retry_after: float | None = None

    def __str__(self) -> str:
        status = self.status if self.status is not None else "no answer"
        return f"{self.provider} {status} {self.name}: {self.message}"[:1000]


class RateLimiter:
    """At most `per_second` calls per second from this process (0 = unlimited)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic, sleep=time.sleep):
        self.interval = 1.0 / per_second if per_second and per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


class RetryingClient:
    """An httpx client that retries 429 / 5xx / transport errors a bounded number of times."""

    provider = "provider"

    def __init__(
        self,
        base_url: str,
        *,
        requests_per_second: float = 0.0,
        max_tries: int = 3,
        max_wait_s: float = 30.0,
        backoff_s: float = 0.5,
        timeout_s: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.limiter = RateLimiter(requests_per_second, sleep=sleep)
        self.max_tries = max(1, max_tries)
        self.max_wait_s = max_wait_s
        self.backoff_s = backoff_s
        self.sleep = sleep
        self.http = httpx.Client(timeout=timeout_s, transport=transport)
        self.attempts = 0

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def error_from(self, response: httpx.Response) -> ProviderError:
        raise NotImplementedError

    def request(self, method: str, path: str, **kwargs) -> dict:
        last: ProviderError | None = None
        for attempt in range(self.max_tries):
            self.limiter.wait()
            self.attempts += 1
            try:
                response = self.http.request(method, self.base_url + path, **kwargs)
            except httpx.HTTPError as exc:
                # No answer: the call may or may not have happened; the idempotency key makes a retry safe.
                last = ProviderError(self.provider, None, type(exc).__name__, str(exc) or "transport error", True)
            else:
                if 200 <= response.status_code < 300:
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    if isinstance(body, dict):
                        return body
                    last = ProviderError(
                        self.provider, response.status_code, "malformed_response",
                        f"answer is not a JSON object: {response.text[:200]!r}", True,
                    )
                else:
                    last = self.error_from(response)
                    if not last.retryable:
                        raise last
            if attempt + 1 < self.max_tries:
                wait = last.retry_after if last.retry_after is not None else self.backoff_s * 2**attempt
                if wait > self.max_wait_s:
                    break
                self.sleep(wait)
        assert last is not None
        raise last
