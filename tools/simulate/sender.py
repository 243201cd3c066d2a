"""Sends a simulated world through the real HTTP endpoints, signed like the providers.

Webhooks go out in simulated-time order but locally shuffled (providers do not
promise order), a share is redelivered (providers retry), and every answer is
counted so the demo can prove that accepted == landed.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from psycopg.types.json import Jsonb

from gdp.links import PERSON_COOKIE
from gdp.settings import Settings
from tools.simulate.deliveries import Delivery, encode, resend_delivery, stripe_delivery
from tools.simulate.world import Touch, landing_params


@dataclass
class SendStats:
    sent: Counter = field(default_factory=Counter)
    accepted: Counter = field(default_factory=Counter)
    duplicates: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def record(self, kind: str, response: httpx.Response | None, error: str | None = None) -> None:
        self.sent[kind] += 1
        if response is not None and response.status_code < 400:
            self.accepted[kind] += 1
            try:
                if response.headers.get("content-type", "").startswith("application/json") and response.json().get(
                    "duplicate"
                ):
                    self.duplicates[kind] += 1
            except ValueError:
                pass
        else:
            self.failed[kind] += 1
            reason = error or f"{response.status_code} {response.text[:200]}" if response is not None else error
            if len(self.errors) < 20:
                self.errors.append(f"{kind}: {reason}")


class IngestUnreachable(RuntimeError):
    """The ingest app does not answer /healthz: nothing was sent or written."""


class Sender:
    """Turns touches into signed HTTP requests against `base_url`."""

    def __init__(self, base_url: str, settings: Settings, database_url: str, *, seed: int = 7,
                 redeliver_share: float = 0.03, workers: int = 8):
        self.base_url = base_url.rstrip("/")
        self.settings = settings
        self.database_url = database_url
        self.rng = random.Random(seed)
        self.redeliver_share = redeliver_share
        self.workers = workers
        self.stats = SendStats()
        self.clicked_emails: set[str] = set()
        self.client = httpx.Client(base_url=self.base_url, timeout=30, follow_redirects=False,
                                   limits=httpx.Limits(max_connections=workers * 2))

    # -- requests per kind ------------------------------------------------------------
    def _post(self, delivery: Delivery) -> httpx.Response:
        return self.client.post(delivery.path, content=delivery.body, headers=delivery.headers)

    def _bearer_json(self, path: str, payload: dict, token: str | None) -> httpx.Response:
        return self.client.post(path, content=encode(payload),
                                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    def resend(self, touch: Touch) -> httpx.Response:
        secret = self.settings.require("resend_webhook_secret", "the simulator signs Resend webhooks")
        return self._post(resend_delivery(touch.payload, secret, svix_id=touch.meta["svix_id"]))

    def stripe(self, touch: Touch) -> httpx.Response:
        secret = self.settings.require("stripe_webhook_secret", "the simulator signs Stripe webhooks")
        return self._post(stripe_delivery(touch.payload, secret))

    def posthog(self, touch: Touch) -> httpx.Response:
        return self._bearer_json("/webhooks/posthog", touch.payload, self.settings.posthog_webhook_secret)

    def cal(self, touch: Touch) -> httpx.Response:
        body = encode(touch.payload)
        secret = self.settings.require("cal_webhook_secret", "the simulator signs Cal.com webhooks")
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return self.client.post("/webhooks/cal", content=body,
                                headers={"X-Cal-Signature-256": signature, "Content-Type": "application/json"})

    def calendly(self, touch: Touch) -> httpx.Response:
        body = encode(touch.payload)
        key = self.settings.require("calendly_webhook_signing_key", "the simulator signs Calendly webhooks")
        t = int(time.time())
        signature = hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        return self.client.post("/webhooks/calendly", content=body,
                                headers={"Calendly-Webhook-Signature": f"t={t},v1={signature}",
                                         "Content-Type": "application/json"})

    def deal(self, touch: Touch) -> httpx.Response:
        return self._bearer_json("/api/deals/events", touch.payload, self.settings.api_token)

    def identify(self, touch: Touch) -> httpx.Response:
        return self._bearer_json("/api/identify", touch.payload, self.settings.api_token)

    def click(self, touch: Touch) -> httpx.Response:
        """The tracked-link request, then the visit it starts on the page the redirect named.

        The server stamps a click when it arrives; the simulator stands in for time travel and moves
        the row to the click's simulated moment (as it stands in for Supabase Auth), so clicks precede
        the conversions they lead to. The landing page's PostHog events carry the redirect's real
        `gdp_click_id` and UTM parameters, as gdp.js registers them.
        """
        from gdp.links import mint_link

        p = touch.payload
        if p["email_id"] in self.clicked_emails:
            return httpx.Response(200, json={"duplicate": True})  # a replayed world: this click already happened
        url = mint_link(self.settings, p["person_id"], p["campaign_id"], p["funnel"], p["url"], email_id=p["email_id"])
        path = url[len(self.settings.public_base_url.rstrip("/")):]
        response = self.client.get(path, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120",
                                                  "Referer": "https://mail.example.com/"})
        target = response.headers.get("location", "")
        params = landing_params(target)
        if click_id := params.get("gdp_click_id"):
            with psycopg.connect(self.database_url) as conn:
                conn.execute("update raw.click set clicked_at = %s where click_id = %s", (touch.at, click_id))
        for landing in touch.meta.get("landing", []):
            event = landing.payload["event"]
            if event["event"] == "$pageview" and event["properties"].get("$current_url") == p["url"]:
                event["properties"]["$current_url"] = target
            if event["event"] != "$identify":
                event["properties"].update(params)
            self.stats.record("posthog", self.posthog(landing))
        return response

    def capi(self, touch: Touch) -> httpx.Response:
        p = touch.payload
        body = {
            "event_id": p["event_id"],
            "event_name": p["event_name"],
            "event_source_url": p["event_source_url"],
            "custom_data": p.get("custom_data", {}),
            "fbp": f"fb.1.{int(touch.at.timestamp() * 1000)}.{abs(hash(p['person_id'])) % 10**10}",
        }
        return self.client.post("/api/meta/capi", content=encode(body),
                                headers={"Content-Type": "application/json", "Origin": self.base_url,
                                         "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120",
                                         "Cookie": f"{PERSON_COOKIE}={self._person_cookie(p['person_id'])}"})

    def _person_cookie(self, person_id: str) -> str:
        from gdp.links import person_cookie_value

        secret = self.settings.require("tracking_link_secret", "the simulator signs the person cookie")
        return person_cookie_value(secret, person_id)

    # -- sending ------------------------------------------------------------------------
    def preflight(self, timeout_s: float = 3.0) -> None:
        """Fail in seconds, before any row is written, when the ingest app is not there or not healthy."""
        try:
            # The same client the sends use, so the check goes where they go.
            response = self.client.get("/healthz", timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise IngestUnreachable(
                f"no ingest app answers at {self.base_url} ({type(exc).__name__}); start one with `gdp serve` "
                f"or pass --url; nothing was sent or written") from None
        if response.status_code != 200:
            raise IngestUnreachable(
                f"the ingest app at {self.base_url} answers /healthz with {response.status_code} "
                f"({response.text[:120].strip()}); nothing was sent or written")

    def send_all(self, touches: list[Touch], progress: Callable[[int], None] | None = None) -> SendStats:
        """Send HTTP touches (locally shuffled, some twice); write the non-HTTP ones directly, after a pre-flight."""
        self.preflight()
        with psycopg.connect(self.database_url) as conn:
            self.clicked_emails = {r[0] for r in conn.execute("select email_id from raw.click where email_id is not null")}
        direct = [t for t in touches if t.kind in ("auth_user", "lead")]
        http = [t for t in touches if t.kind not in ("auth_user", "lead")]
        self._write_auth_users([t for t in direct if t.kind == "auth_user"])
        self._import_leads([t for t in direct if t.kind == "lead"])
        if progress:
            progress(len(direct))
        queue = self._delivery_order(http)
        with ThreadPoolExecutor(self.workers) as pool:
            for _ in pool.map(self._send_one, queue):
                if progress:
                    progress(1)
        return self.stats

    def _delivery_order(self, touches: list[Touch]) -> list[Touch]:
        """Simulated-time order, shuffled within windows of 50, plus redeliveries of webhooks."""
        ordered = list(touches)
        for i in range(0, len(ordered), 50):
            window = ordered[i:i + 50]
            self.rng.shuffle(window)
            ordered[i:i + 50] = window
        webhooks = [t for t in ordered if t.kind in ("resend", "stripe", "posthog", "cal", "calendly")]
        redeliveries = [t for t in webhooks if self.rng.random() < self.redeliver_share]
        return ordered + redeliveries

    def _send_one(self, touch: Touch) -> None:
        handler = getattr(self, touch.kind)
        for attempt in range(3):
            try:
                response = handler(touch)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
                response = None
            else:
                error = None
                if response.status_code not in (429, 503):
                    break
            time.sleep(0.5 * (attempt + 1))
        self.stats.record(touch.kind, response, error)

    def _write_auth_users(self, touches: Iterable[Touch]) -> None:
        """Supabase Auth writes auth.users itself; the simulator stands in for it."""
        rows = [(t.payload["id"], t.payload["email"], t.payload["created_at"], t.payload["created_at"],
                 Jsonb(t.payload.get("raw_user_meta_data", {}))) for t in touches]
        if not rows:
            return
        with psycopg.connect(self.database_url) as conn:
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into auth.users (id, email, created_at, last_sign_in_at, raw_user_meta_data) "
                    "values (%s, %s, %s, %s, %s) on conflict (id) do nothing",
                    rows,
                )
        self.stats.sent["auth_user"] += len(rows)
        self.stats.accepted["auth_user"] += len(rows)

    def _import_leads(self, touches: list[Touch]) -> None:
        """Outbound leads arrive as a CSV export, imported with the same code as `gdp leads import`."""
        if not touches:
            return
        from ingest_app.imports.leads import import_leads

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "leads.csv"
            with path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=["email", "name", "company", "owner", "source", "phone", "country"])
                writer.writeheader()
                writer.writerows(t.payload for t in touches)
            with psycopg.connect(self.database_url) as conn:
                result = import_leads(conn, path)
        self.stats.sent["lead"] += len(touches)
        self.stats.accepted["lead"] += len(touches) - len(result.invalid)

    def close(self) -> None:
        self.client.close()

