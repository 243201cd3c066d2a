"""Soak: steady mixed load on `gdp serve` while refresh cycles run; nothing lost, memory bounded.

    .venv/bin/python -m bench.bench_soak [--duration 600] [--rate 40] [--workers 2] [--no-refresh]

Starts `gdp serve` (gunicorn, production options) on 127.0.0.1 against a fresh,
migrated database on the configured server, then sends for `--duration` seconds
a steady open-loop mix (requests leave on schedule, not when the previous one
returns) of signed Resend, Stripe, PostHog, Cal.com and Calendly webhooks,
tracked-link clicks and Meta CAPI posts, each with a new provider id, for a pool
of simulated persons. Meanwhile refresh cycles (`gdp refresh`: dbt build + the
membership ledger) run back to back against the same database. The server's
resident memory (gunicorn master + workers) is sampled every second.

Afterwards one last cycle runs, and it checks:
- raw rows per table == requests the server accepted (2xx / click 302) for it: lost = 0;
- `capture_completeness`: every raw row is an `event` row or excluded for a recorded
  reason (missing = 0), i.e. `event` matches raw;
- RSS at the end against RSS after warm-up (the first quarter).
Prints the figures; tests/tools/test_soak.py runs a 30-second version and asserts them.
The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import httpx
import psycopg

from gdp import db as gdb
from gdp.links import LinkToken, make_token, person_cookie_value
from gdp.migrate import apply_migrations
from gdp.serve import free_port
from gdp.settings import REPO_ROOT, Settings
from orchestration.cycle import run_cycle
from tools.simulate.deliveries import (
    cal_booking_payload,
    cal_delivery,
    calendly_delivery,
    calendly_invitee_payload,
    posthog_delivery,
    posthog_event,
    resend_delivery,
    stripe_delivery,
)

SECRETS = {
    "resend_webhook_secret": "whsec_c29hay1yZXNlbmQtc2VjcmV0LWZvci1iZW5jaA==",
    "stripe_webhook_secret": "whsec_soak_stripe",
    "posthog_webhook_secret": "soak_posthog",
    "cal_webhook_secret": "soak_cal",
    "calendly_webhook_signing_key": "soak_calendly",
    "tracking_link_secret": "soak_tracking_link_secret",
    "api_token": "soak_api_token",
}
# kind -> raw table it lands in
KINDS = {
    "resend": "resend_event", "stripe": "stripe_event", "posthog": "posthog_event", "cal": "cal_event",
    "calendly": "calendly_event", "click": "click", "capi": "meta_capi_event",
}
# How often each kind comes up in the mix (clicks and page events dominate real traffic).
MIX = ["click", "click", "capi", "posthog", "posthog", "resend", "resend", "stripe", "cal", "calendly"]
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


@dataclass
class SoakResult:
    rate: float
    duration_s: float
    sent: Counter = field(default_factory=Counter)
    accepted: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    landed: dict[str, int] = field(default_factory=dict)
    capture: dict[str, dict] = field(default_factory=dict)
    cycles_ok: int = 0
    cycles_failed: int = 0
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, MB)
    elapsed_s: float = 0.0
    lag_max_s: float = 0.0

    @property
    def lost(self) -> dict[str, int]:
        return {kind: self.accepted[kind] - self.landed.get(table, 0) for kind, table in KINDS.items()}

    @property
    def missing_from_event(self) -> int:
        return sum(int(row["missing_rows"]) for row in self.capture.values())

    @property
    def rss_after_warmup(self) -> float:
        cut = self.duration_s / 4
        warm = [mb for t, mb in self.rss_mb if t >= cut] or [mb for _, mb in self.rss_mb]
        return warm[0] if warm else 0.0

    def report(self) -> str:
        total_sent, total_ok = sum(self.sent.values()), sum(self.accepted.values())
        rss = [mb for _, mb in self.rss_mb]
        lines = [
            f"soak: {total_sent} requests in {self.elapsed_s:.1f} s (target {self.rate:.0f}/s for {self.duration_s:.0f} s, "
            f"achieved {total_sent / max(self.elapsed_s, 1e-9):.1f}/s, generator lag max {self.lag_max_s * 1000:.0f} ms)",
            f"refresh cycles during the load: {self.cycles_ok} ok, {self.cycles_failed} failed",
            f"{'kind':<9} {'sent':>7} {'accepted':>9} {'refused':>8} {'raw rows':>9} {'lost':>5}",
        ]
        for kind, table in KINDS.items():
            lines.append(f"{kind:<9} {self.sent[kind]:>7} {self.accepted[kind]:>9} {self.refused[kind]:>8} "
                         f"{self.landed.get(table, 0):>9} {self.lost[kind]:>5}")
        lines.append(f"rows lost: {sum(self.lost.values())} of {total_ok} accepted")
        lines.append("event vs raw (capture_completeness): " + ", ".join(
            f"{t} {r['raw_rows']} raw/{r['event_rows']} event/{r['excluded_rows']} excluded/{r['missing_rows']} missing"
            for t, r in sorted(self.capture.items())))
        if rss:
            lines.append(f"server RSS MB (master+workers): start {rss[0]:.1f}, after warm-up {self.rss_after_warmup:.1f}, "
                         f"peak {max(rss):.1f}, end {rss[-1]:.1f} ({len(rss)} samples)")
        return "\n".join(lines)


# --- server ------------------------------------------------------------------------


def _server_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {**os.environ, **Settings(**SECRETS).as_env(), "DATABASE_URL": database_url, "GDP_DATA_DIR": str(data_dir)}
    # One generator plays every visitor from this machine: the per-IP limits must not apply.
    env["GDP_RATE_LIMIT_EXEMPT"] = "127.0.0.1,::1"
    return env


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def server_rss_mb(master_pid: int) -> float:
    """gunicorn's master (a child of `gdp serve`'s process) and its workers, summed."""
    pids, frontier = [master_pid], [master_pid]
    while frontier:
        frontier = [c for p in frontier for c in _children(p)]
        pids += frontier
    return sum(_rss_kb(p) for p in pids) / 1024


# --- traffic -----------------------------------------------------------------------


def _request(kind: str, n: int, persons: int) -> tuple[str, str, dict, bytes]:
    person = n % persons
    email = f"soak{person}@example.org"
    person_id = f"p_soak_{person}"
    now = datetime.now(timezone.utc)
    s = SECRETS
    if kind == "resend":
        d = resend_delivery({"type": "email.opened", "created_at": now.isoformat(), "data": {
            "email_id": f"em_{n}", "to": [email], "subject": "Hello", "tags": {"person_id": person_id,
                                                                               "campaign_id": "soak", "funnel": "newsletter"}}},
            s["resend_webhook_secret"], svix_id=f"msg_soak_{n}_{uuid.uuid4().hex[:6]}")
    elif kind == "stripe":
        d = stripe_delivery({"id": f"evt_soak_{n}_{uuid.uuid4().hex[:6]}", "type": "customer.updated",
                             "created": int(now.timestamp()),
                             "data": {"object": {"id": f"cus_soak_{person}", "object": "customer", "email": email}}},
                            s["stripe_webhook_secret"])
    elif kind == "posthog":
        d = posthog_delivery(posthog_event("$pageview", person_id, {"$current_url": f"https://www.example.com/p/{n}"}),
                             s["posthog_webhook_secret"])
    elif kind == "cal":
        d = cal_delivery(cal_booking_payload("BOOKING_CREATED", email, uid=f"soak{n}{uuid.uuid4().hex[:8]}"),
                         s["cal_webhook_secret"])
    elif kind == "calendly":
        d = calendly_delivery(calendly_invitee_payload("invitee.created", email), s["calendly_webhook_signing_key"])
    elif kind == "click":
        token = make_token(s["tracking_link_secret"],
                           LinkToken(person_id, "soak", "newsletter", f"https://www.example.com/post/{n}", f"em_{n}"))
        return "GET", f"/c/{token}", {"User-Agent": BROWSER_UA}, b""
    else:
        body = (f'{{"event_id": "{uuid.uuid4()}", "event_name": "Lead", '
                f'"event_source_url": "https://www.example.com/signup"}}').encode()
        cookie = person_cookie_value(s["tracking_link_secret"], person_id)
        return "POST", "/api/meta/capi", {"Content-Type": "application/json", "User-Agent": BROWSER_UA,
                                          "Cookie": f"gdp_pid={cookie}"}, body
    return "POST", d.path, d.headers, d.body


def _accepted(kind: str, response: httpx.Response) -> bool:
    if kind == "click":
        return response.status_code == 302 and "gdp_click_id=" in response.headers.get("location", "")
    if response.status_code != 200:
        return False
    answer = response.json()
    # Every request carries a new id, so a "duplicate" answer would mean no new row.
    return not answer.get("duplicate", False)


def run_soak(duration_s: float, rate: float, *, workers: int = 2, persons: int = 200, refresh: bool = True,
             out=print) -> SoakResult:
    result = SoakResult(rate=rate, duration_s=duration_s)
    settings = Settings.from_env()
    server_url = gdb.database_url(settings)
    dbname = f"gdp_soak_{uuid.uuid4().hex[:8]}"
    database_url = gdb.create_database(server_url, dbname)
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="gdp-soak-"))
    cycle_settings = replace(settings, database_url=database_url, data_dir=work)
    process = None
    try:
        apply_migrations(database_url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = (work / "serve.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "gdp.cli", "serve", "--port", str(port), "--workers", str(workers)],
            cwd=REPO_ROOT, env=_server_env(database_url, work), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gdp serve did not start; see {work / 'serve.log'}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)

        stop = threading.Event()

        def cycles() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                cycle = run_cycle(database_url, target_path=work / "target", settings=cycle_settings,
                                  cycle_id=f"soak-{n}")
                if cycle.ok:
                    result.cycles_ok += 1
                else:
                    result.cycles_failed += 1
                    out(cycle.summary()[-1500:])

        def sample_memory() -> None:
            t0 = time.monotonic()
            while not stop.is_set():
                result.rss_mb.append((time.monotonic() - t0, server_rss_mb(process.pid)))
                stop.wait(1.0)

        lock = threading.Lock()
        client = httpx.Client(base_url=base, timeout=30, follow_redirects=False,
                              limits=httpx.Limits(max_connections=32, max_keepalive_connections=32))

        def one(n: int, kind: str) -> None:
            method, path, headers, body = _request(kind, n, persons)
            try:
                response = client.request(method, path, headers=headers, content=body)
                ok = _accepted(kind, response)
            except httpx.HTTPError:
                ok = False
            with lock:
                (result.accepted if ok else result.refused)[kind] += 1

        threads = [threading.Thread(target=sample_memory, daemon=True)]
        if refresh:
            threads.append(threading.Thread(target=cycles, daemon=True))
        for t in threads:
            t.start()
        total = int(rate * duration_s)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=24) as pool:
            for i in range(total):
                scheduled = t0 + i / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                else:
                    result.lag_max_s = max(result.lag_max_s, -delay)
                kind = MIX[i % len(MIX)]
                result.sent[kind] += 1
                pool.submit(one, i, kind)
        result.elapsed_s = time.perf_counter() - t0
        stop.set()
        for t in threads:
            t.join()
        client.close()

        final = run_cycle(database_url, target_path=work / "target", settings=cycle_settings, cycle_id="soak-final")
        if not final.ok:
            raise RuntimeError("the final refresh failed:\n" + final.summary()[-3000:])
        with psycopg.connect(database_url, row_factory=psycopg.rows.dict_row) as conn:
            for table in KINDS.values():
                result.landed[table] = conn.execute(f"select count(*) as n from raw.{table}").fetchone()["n"]
            schema = settings.dbt_schema
            rows = conn.execute(
                psycopg.sql.SQL("select * from {}").format(psycopg.sql.Identifier(schema, "capture_completeness"))
            ).fetchall()
            result.capture = {r["raw_table"]: r for r in rows}
        return result
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        gdb.drop_database(server_url, dbname)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load (default 10 minutes)")
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second, all kinds together")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--persons", type=int, default=200, help="simulated persons the traffic is about")
    parser.add_argument("--no-refresh", action="store_true", help="no refresh cycles during the load")
    args = parser.parse_args()
    result = run_soak(args.duration, args.rate, workers=args.workers, persons=args.persons, refresh=not args.no_refresh)
    print(result.report())
    rss = [mb for _, mb in result.rss_mb]
    print("RESULT " + json.dumps({
        "scale": f"{args.rate:.0f} req/s for {args.duration:.0f} s, mixed signed webhooks, clicks and CAPI",
        "requests_accepted": sum(result.accepted.values()), "rows_lost": sum(result.lost.values()),
        "missing_from_event": result.missing_from_event, "cycles_ok": result.cycles_ok,
        "rss_start_mb": rss[0] if rss else None, "rss_peak_mb": max(rss) if rss else None,
        "rss_end_mb": rss[-1] if rss else None,
    }))
    if sum(result.lost.values()) or result.missing_from_event:
        sys.exit(1)


if __name__ == "__main__":
    main()
