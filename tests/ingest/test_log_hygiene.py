"""No secret, no signature and no email address in any log line, in-process and under gunicorn.

Traffic for every endpoint, accepted and refused (wrong signatures, wrong tokens,
tampered links, outsized bodies), goes through the app with known secrets and
addresses while a handler at the root logger keeps every record at DEBUG level;
then `gdp serve` (gunicorn with the production logger and access log) serves the
same traffic and its whole output is scanned too. A line fails the scan when it
contains a secret (or the key inside a `whsec_` secret), any signature or bearer
header value that was sent, a tracked-link token, a person cookie, or anything
shaped like an email address.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import fields

import httpx
import pytest

from gdp.links import LinkToken, make_token, person_cookie_value
from gdp.serve import free_port
from gdp.settings import REPO_ROOT, Settings
from tests.conftest import TEST_SECRETS
from tools.simulate.deliveries import (
    cal_booking_payload,
    cal_delivery,
    calendly_delivery,
    calendly_invitee_payload,
    deal_event_request,
    posthog_delivery,
    posthog_identify_event,
    resend_delivery,
    stripe_delivery,
)

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
EMAILS = ["ada.lovelace@example.org", "Grace.Hopper@Example.com", "alan@turing.example.net"]
SIGNATURE_HEADERS = ("svix-signature", "Stripe-Signature", "X-Cal-Signature-256", "Calendly-Webhook-Signature",
                     "Authorization")


def _secret_needles() -> list[str]:
    needles = [v for v in TEST_SECRETS.values()]
    for value in TEST_SECRETS.values():
        if value.startswith("whsec_"):
            needles.append(value.removeprefix("whsec_"))
            try:
                needles.append(base64.b64decode(value.removeprefix("whsec_")).decode("latin-1"))
            except ValueError:
                pass
    return [n for n in needles if len(n) >= 8]


def traffic() -> tuple[list[tuple[str, str, dict, bytes]], list[str]]:
    """(method, path, headers, body) for every endpoint, good and bad, and the values that must not be logged."""
    s = TEST_SECRETS
    requests, sent_secrets = [], []

    def add(method, path, headers=None, body=b""):
        headers = dict(headers or {})
        for name in SIGNATURE_HEADERS:
            if name in headers:
                value = headers[name]
                sent_secrets.extend(part for part in re.split(r"[ ,=]", value) if len(part) >= 16)
                sent_secrets.append(value)
        requests.append((method, path, headers, body))

    def delivery(d, *, tamper=False):
        headers = dict(d.headers)
        add("POST", d.path, headers, d.body)
        if tamper:
            add("POST", d.path, headers, d.body + b" ")  # same signature, altered body: 401

    ada, grace, alan = EMAILS
    delivery(resend_delivery({"type": "email.opened", "created_at": "2026-11-20T10:00:00Z", "data": {
        "email_id": "em_1", "to": [f"Ada <{ada}>"], "from": "Growth <hello@example.com>", "subject": "Hi",
        "tags": {"person_id": "p_ada"}}}, s["resend_webhook_secret"]), tamper=True)
    delivery(stripe_delivery({"id": f"evt_{uuid.uuid4().hex}", "type": "customer.created", "created": 1763632800,
                              "data": {"object": {"id": "cus_1", "object": "customer", "email": grace}}},
                             s["stripe_webhook_secret"]), tamper=True)
    delivery(posthog_delivery(posthog_identify_event("p_ada", "anon_1", email=ada), s["posthog_webhook_secret"]))
    add("POST", "/webhooks/posthog", {"Authorization": "Bearer phs_wrong_guess_of_the_secret", "Content-Type": "application/json"}, b"{}")
    delivery(cal_delivery(cal_booking_payload("BOOKING_CREATED", alan), s["cal_webhook_secret"]), tamper=True)
    delivery(calendly_delivery(calendly_invitee_payload("invitee.created", grace), s["calendly_webhook_signing_key"]), tamper=True)
    delivery(deal_event_request({"email": alan, "stage": "booked", "note": f"call with {alan}"}, s["api_token"]))
    delivery(deal_event_request({"email": "not-an-email", "stage": "booked"}, s["api_token"]))
    add("POST", "/api/deals/events", {"Authorization": "Bearer wrong_api_token_value_x", "Content-Type": "application/json"},
        b'{"email": "%s", "stage": "won"}' % ada.encode())
    token = make_token(s["tracking_link_secret"], LinkToken("p_ada", "cmp_1", "newsletter", "https://app.example.com/x"))
    sent_secrets.append(token)
    add("GET", f"/c/{token}?utm_source=news&email={ada}", {"User-Agent": "Mozilla/5.0"})
    add("GET", f"/c/{token[:-4]}AAAA", {"User-Agent": "Mozilla/5.0"})
    cookie = person_cookie_value(s["tracking_link_secret"], "p_ada")
    sent_secrets.append(cookie)
    capi = (f'{{"event_id": "{uuid.uuid4()}", "event_name": "Lead", '
            f'"event_source_url": "https://www.example.com/?email={grace}"}}').encode()
    add("POST", "/api/meta/capi", {"Content-Type": "application/json", "Cookie": f"gdp_pid={cookie}"}, capi)
    add("POST", "/api/meta/capi", {"Content-Type": "application/json"}, b'{"event_name": "Hack", "email": "%s"}' % ada.encode())
    add("POST", "/api/identify", {"Authorization": f"Bearer {s['api_token']}", "Content-Type": "application/json"},
        b'{"person_id": "p_ada", "email": "%s", "distinct_id": "anon_1"}' % ada.encode())
    add("POST", "/api/identify", {"Content-Type": "application/json", "Cookie": f"gdp_pid={cookie}",
                                  "Origin": "http://localhost"}, b'{"email": "%s", "distinct_id": "anon_2"}' % grace.encode())
    add("POST", "/api/identify", {"Authorization": "Bearer not_the_api_token_at_all", "Content-Type": "application/json"},
        b'{"email": "%s", "distinct_id": "x"}' % alan.encode())
    add("POST", "/webhooks/resend", {"Content-Type": "application/json"}, b"x" * (2 * 1024 * 1024))
    add("GET", f"/unsubscribe?p=p_ada&c=cmp_1&t=forged&email={ada}")
    for path in ("/gdp.js", "/healthz", "/openapi.json"):
        add("GET", path)
    return requests, sent_secrets


def _scan(lines: list[str], sent: list[str]) -> list[str]:
    needles = _secret_needles() + sent
    problems = []
    for line in lines:
        for needle in needles:
            if needle and needle in line:
                problems.append(f"secret/signature {needle[:6]}... in: {line[:200]}")
        match = EMAIL_RE.search(line)
        if match:
            problems.append(f"email address {match.group(0)!r} in: {line[:200]}")
    return problems


class _Keep(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.extend(f"{record.name}: {line}" for line in text.splitlines())


def test_in_process_logs_carry_no_secret_signature_or_email(app, clean_raw):
    requests, sent = traffic()
    handler = _Keep()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        client = app.test_client()
        statuses = []
        for method, path, headers, body in requests:
            statuses.append(client.open(path, method=method, headers=headers, data=body).status_code)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    assert {200, 302, 400, 401, 403, 413} <= set(statuses), statuses
    assert len(handler.lines) >= 8, "the app logged (otherwise nothing was checked)"
    assert _scan(handler.lines, sent) == []


@pytest.mark.slow
def test_gunicorn_output_carries_no_secret_signature_or_email(database_url, tmp_path):
    env_names = {f.name: f.metadata["env"] for f in fields(Settings)}
    port = free_port()
    # The access log is off by default (GDP_ACCESS_LOG); this test reads it, so it asks for every line.
    env = {**os.environ, "DATABASE_URL": database_url, "GDP_DATA_DIR": str(tmp_path), "GDP_ACCESS_LOG": "all"}
    env.update({env_names[k]: v for k, v in TEST_SECRETS.items()})
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "gdp.cli", "serve", "--port", str(port), "--workers", "1"],
                                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail(f"gdp serve did not start: {log_path.read_text()[-2000:]}")
        requests, sent = traffic()
        statuses = []
        with httpx.Client(base_url=base, timeout=10) as client:
            for method, path, headers, body in requests:
                try:
                    statuses.append(client.request(method, path, headers=headers, content=body).status_code)
                except httpx.RemoteProtocolError:
                    statuses.append(-1)  # the 2 MB body: answered 413 and the connection closed mid-upload
        assert {200, 302, 400, 401, 403} <= set(statuses), statuses
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    lines = log_path.read_text().splitlines()
    assert sum('"POST /webhooks/' in line for line in lines) >= 5, "the access log was captured"
    assert _scan(lines, sent) == []


def test_the_scan_catches_what_it_looks_for():
    requests, sent = traffic()
    assert _scan(["deal for Ada.Lovelace@Example.org stored"], [])
    assert _scan([f"token {TEST_SECRETS['api_token']}"], [])
    assert _scan([f"sig {sent[0]}"], sent)
    assert _scan(["resend delivery msg_1 type=email.opened duplicate=False"], sent) == []
