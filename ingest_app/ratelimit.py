"""Per-IP token buckets for the public browser endpoints: `/c/<token>`, `/api/meta/capi`,
`/api/identify` and `/gdp.js`.

These URLs need no secret to call, so one client could otherwise fill `raw` with
junk clicks and conversions or keep workers busy. Each (endpoint, client IP) has a
bucket of `burst` tokens refilled at `per_min / 60` tokens a second; a request
takes one token or is answered 429 with `Retry-After` (whole seconds until a
token is back) and nothing is stored.

Limits (requests per minute per IP; 0 = unlimited) come from settings
GDP_RATE_LIMIT_{CLICKS,CAPI,IDENTIFY,SNIPPET}_PER_MIN; the burst is
GDP_RATE_LIMIT_BURST_S seconds' worth of the rate (at least 1).

Scope and limits of the design, on purpose:
- Buckets live in the worker process (no shared store): with gunicorn's N
  workers a client can get up to N times the configured rate, and a restart
  forgets the buckets. That is enough to stop a flood from one address without
  adding a dependency on Redis; size the limits with the worker count in mind.
- The client IP is what `ingest_app.clicks.client_ip` says: the socket peer, or
  the address the outermost trusted proxy saw when GDP_TRUSTED_PROXIES > 0. Behind
  a proxy with GDP_TRUSTED_PROXIES=0 every visitor shares the proxy's address.
- Callers that are not anonymous browsers are not limited: `/api/identify` with
  the right `Authorization: Bearer <GDP_API_TOKEN>` (the app's backend), and
  addresses in GDP_RATE_LIMIT_EXEMPT (IPs or CIDRs, comma-separated, e.g. a
  server-side CAPI relay, synthetic monitoring, or the local simulator).
- CORS preflights (OPTIONS) are not counted: browsers send them before the POST.
- At most MAX_BUCKETS buckets are kept; the least recently used go first (a
  dropped bucket is a full one, so eviction only ever errs towards allowing).
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from flask import Flask, current_app, request

from gdp.settings import Settings
from ingest_app.errors import error_response

MAX_BUCKETS = 100_000

# Flask endpoint -> (bucket name, settings attribute holding its per-minute rate).
LIMITED_ENDPOINTS = {
    "clicks.click": ("clicks", "rate_limit_clicks_per_min"),
    "browser_api.capi": ("capi", "rate_limit_capi_per_min"),
    "browser_api.identify": ("identify", "rate_limit_identify_per_min"),
    "browser_api.snippet": ("snippet", "rate_limit_snippet_per_min"),
}


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Thread-safe token buckets keyed by (name, client); `take` answers 0 or seconds to wait."""

    def __init__(self, clock=time.monotonic, max_buckets: int = MAX_BUCKETS):
        self._clock = clock
        self._max = max_buckets
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, name: str, client: str, per_min: float, burst: float) -> float:
        if per_min <= 0:
            return 0.0
        rate = per_min / 60.0
        now = self._clock()
        key = (name, client)
        with self._lock:
            bucket = self._buckets.pop(key, None) or _Bucket(burst, now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            self._buckets[key] = bucket
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate

    def __len__(self) -> int:
        return len(self._buckets)


def burst_for(per_min: int, burst_s: float) -> float:
    return max(1.0, per_min * burst_s / 60.0)


def exempt_networks(setting: str | None) -> list[ipaddress._BaseNetwork]:
    networks = []
    for part in (setting or "").split(","):
        part = part.strip()
        if part:
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"GDP_RATE_LIMIT_EXEMPT: {part!r} is not an IP address or CIDR") from None
    return networks


def _is_exempt(ip: str | None, networks: list) -> bool:
    if not ip or not networks:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address.version == n.version and address in n for n in networks)


def _has_api_token(settings: Settings) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return bool(settings.api_token) and scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), settings.api_token.encode()
    )


def init_app(app: Flask, settings: Settings) -> None:
    """Check every request to a limited endpoint before its view runs."""
    buckets = TokenBuckets()
    networks = exempt_networks(settings.rate_limit_exempt)
    app.extensions["gdp_rate_limits"] = buckets

    @app.before_request
    def _rate_limit():
        limited = LIMITED_ENDPOINTS.get(request.endpoint or "")
        if limited is None or request.method == "OPTIONS":
            return None
        settings: Settings = current_app.config["GDP_SETTINGS"]
        name, attr = limited
        per_min = getattr(settings, attr)
        if per_min <= 0:
            return None
        from ingest_app.clicks import client_ip

        ip = client_ip(settings) or "unknown"
        if _is_exempt(ip, networks) or (name == "identify" and _has_api_token(settings)):
            return None
        wait = buckets.take(name, ip, per_min, burst_for(per_min, settings.rate_limit_burst_s))
        if wait <= 0:
            return None
        retry_after = str(max(1, math.ceil(wait)))
        response = error_response(429, f"rate limit of {per_min} requests per minute exceeded, retry later",
                                  {"Retry-After": retry_after, "Cache-Control": "no-store"})
        return response
