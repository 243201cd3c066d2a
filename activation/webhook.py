"""Generic enter/exit webhooks: one signed JSON body per ledger transition, through the outbox.

A segment activation `{channel: webhook, url_env: GDP_WEBHOOK_X_URL, secret_env:
GDP_WEBHOOK_X_SECRET}` posts every entered / exited / merged transition of that
segment to the URL in that variable, signed the Standard Webhooks way (what Svix,
and so Resend, send): headers `webhook-id`, `webhook-timestamp`, `webhook-signature:
v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the base64 after
`whsec_`. `webhook-id` is the outbox key and the body is stored in the row before
the first call, so every attempt (a retry, or a rerun after a crash between the
call and the commit) carries the same id and the same bytes: receivers deduplicate
on `webhook-id`, as the Standard Webhooks spec asks them to, and see one event.
The body names the person by `person_id` only; no contact data leaves this way.

A real run whose open webhooks name an unset variable stops with that variable named, as
every channel does without its key; those rows wait in the outbox, the other destinations
are still sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import psycopg
from psycopg.rows import namedtuple_row
from psycopg.types.json import Jsonb

from activation.http import ProviderError
from activation.outbox import OPEN_STATUSES, Run, call_failed, claim_due, finish, release_previews
from gdp.http import parse_retry_after
from gdp.settings import MissingSetting, webhook_env

CHANNEL = "webhooks"  # the worker, as `gdp activate --channel` names it
OUTBOX_CHANNEL = "webhook"
CLAIM = 50
IN_CALL_TRIES = 3
MAX_IN_CALL_WAIT_S = 30.0


class WebhookConfigError(ValueError):
    """The activation's variables are missing or malformed; the reason names the variable."""


def webhook_action(activation: dict[str, Any], segment: Any, transition: Any) -> dict[str, Any]:
    """What the outbox row keeps of the segment's activation: which variables, and the event's facts."""
    return {
        "url_env": activation.get("url_env"),
        "secret_env": activation.get("secret_env"),
        "funnel": segment.funnel,
        "merged_into_person_id": getattr(transition, "merged_into_person_id", None),
    }


def outbox_channel_key(activation: dict[str, Any]) -> str:
    """The channel part of the outbox key: one row per transition and destination."""
    return f"webhook_{activation.get('url_env')}"


def signing_key(secret: str | None, name: str) -> bytes:
    if not secret:
        raise WebhookConfigError(f"{name} is not set: a webhook is never sent unsigned")
    if not secret.startswith("whsec_"):
        raise WebhookConfigError(f"{name} is not a Standard Webhooks secret (whsec_<base64>)")
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookConfigError(f"{name} is not a Standard Webhooks secret (the part after whsec_ is not base64)") from None


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def event_body(row) -> dict[str, Any]:
    """The JSON a receiver gets: Standard Webhooks' {type, timestamp, data}."""
    action = row.action or {}
    return {
        "type": f"segment.{row.transition}",
        "timestamp": row.created_at.isoformat(),
        "data": {
            "segment": row.segment,
            "funnel": action.get("funnel"),
            "person_id": row.person_id,
            "transition": row.transition,
            "transition_id": row.transition_id,
            "merged_into_person_id": action.get("merged_into_person_id"),
            "qualified_at": row.qualified_at.isoformat() if row.qualified_at else None,
            "cycle_id": row.cycle_id,
        },
    }


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def post(http: httpx.Client, url: str, key: bytes, msg_id: str, body: bytes, *, backoff_s: float, sleep=time.sleep) -> int:
    """POST with a fresh timestamp and signature per attempt; a few in-call retries of 429 / 5xx / no answer."""
    last: ProviderError | None = None
    for attempt in range(IN_CALL_TRIES):
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": "gdp-webhooks/1",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(key, msg_id, timestamp, body),
        }
        try:
            response = http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            # No answer: it may have arrived; the same webhook-id lets the receiver drop the repeat.
            last = ProviderError("webhook", None, type(exc).__name__, str(exc) or "transport error", True)
        else:
            if 200 <= response.status_code < 300:
                return response.status_code
            retryable = response.status_code == 429 or response.status_code >= 500
            last = ProviderError("webhook", response.status_code, "http_error", response.text[:200], retryable,
                                 parse_retry_after(response.headers.get("retry-after")))
            if not retryable:
                raise last
        if attempt + 1 < IN_CALL_TRIES:
            wait = last.retry_after if last.retry_after is not None else backoff_s * 2**attempt
            if wait > MAX_IN_CALL_WAIT_S:
                break
            sleep(wait)
    assert last is not None
    raise last


def _preview(run: Run, row, body: dict[str, Any]) -> None:
    folder = run.settings.data_dir / "outbox-preview"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "webhooks.jsonl", "a") as fh:
        fh.write(json.dumps({"url_env": (row.action or {}).get("url_env"), "webhook-id": row.outbox_key, "body": body}) + "\n")


def _deliver(run: Run, conn: psycopg.Connection, http: httpx.Client, row) -> None:
    action = row.action or {}
    body = row.payload
    if body is None:
        body = event_body(row)
        conn.execute("update activation.outbox set payload = %s, prepared_at = now() where outbox_id = %s", (Jsonb(body), row.outbox_id))
    try:
        url = webhook_env(action.get("url_env") or "")
        secret_name = action.get("secret_env") or ""
        secret = webhook_env(secret_name)
    except ValueError as exc:
        finish(conn, [row.outbox_id], "failed", error=str(exc))
        run.report.add(CHANNEL, "failed")
        return
    if run.dry_run.get(CHANNEL):
        _preview(run, row, body)
        finish(conn, [row.outbox_id], "dry_run")
        run.report.add(CHANNEL, "dry_run")
        return
    try:
        key = signing_key(secret, secret_name)
        if not url.startswith(("https://", "http://")):
            raise WebhookConfigError(f"{action.get('url_env')} is not an http(s) URL")
    except WebhookConfigError as exc:
        finish(conn, [row.outbox_id], "failed", error=str(exc))
        run.report.add(CHANNEL, "failed")
        return
    try:
        status = post(http, url, key, row.outbox_key, encode(body), backoff_s=run.settings.provider_backoff_s)
    except ProviderError as exc:
        call_failed(run, conn, CHANNEL, [row], exc)
        return
    finish(conn, [row.outbox_id], "sent", provider_id=f"http {status}", attempts_add=1)
    run.report.add(CHANNEL, "sent")


def unset_variables(conn: psycopg.Connection) -> dict[str, int]:
    """The GDP_WEBHOOK_* variables that open webhooks name and the environment lacks, with how many wait on each."""
    waiting: dict[str, int] = {}
    for url_env, secret_env, count in conn.execute(
        "select action->>'url_env' as url_env, action->>'secret_env' as secret_env, count(*) from activation.outbox"
        " where channel = %s and status = any(%s) group by 1, 2",
        (OUTBOX_CHANNEL, list(OPEN_STATUSES)),
    ).fetchall():
        for name in (url_env, secret_env):
            try:
                value = webhook_env(name or "")
            except ValueError:
                continue  # not a webhook variable: the row fails with that reason when it is claimed
            if not value:
                waiting[name] = waiting.get(name, 0) + count
    return waiting


def work(run: Run) -> None:
    unset: dict[str, int] = {}
    with httpx.Client(timeout=10.0) as http, psycopg.connect(run.url, row_factory=namedtuple_row) as conn:
        if not run.dry_run.get(CHANNEL):
            with conn.transaction():
                release_previews(conn, (OUTBOX_CHANNEL,))
                unset = unset_variables(conn)
        names = list(unset)
        while True:
            with conn.transaction():
                rows = claim_due(conn, (OUTBOX_CHANNEL,), CLAIM, params=(names, names), also=(
                    "and coalesce(action->>'url_env', '') <> all(%s) and coalesce(action->>'secret_env', '') <> all(%s)"))
                if not rows:
                    break
                for row in rows:
                    _deliver(run, conn, http, row)
            run.progress(f"webhooks: {run.report.total(CHANNEL, 'sent')} sent")
    if unset:
        (first, waiting), *more = sorted(unset.items())
        raise MissingSetting(
            first, f"{waiting} webhook(s) naming it wait in the outbox (preview them with gdp activate --dry-run)",
            *[(name, f"{count} webhook(s) naming it wait in the outbox") for name, count in more])
